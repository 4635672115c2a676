// End-to-end checks of spec/eviction.md section 7 on a tiny random model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "engine/generator.h"
#include "kv/params.h"
#include "test_model.h"

namespace vase {
namespace {

Engine& engine() {
    static Engine e(testing::tiny_model_dir(), 2);
    return e;
}

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 40, 1079, 264, 1273, 315, 279, 1849, 13};

GenerateOptions options(const std::string& policy, int64_t budget, int64_t window, float temperature,
                        int64_t n_new, uint64_t seed = 1) {
    GenerateOptions o;
    o.max_new_tokens = n_new;
    o.ignore_eos = true;
    o.sampling.temperature = temperature;
    o.sampling.top_k = 20;
    o.sampling.top_p = 0.95f;
    o.sampling.seed = seed;
    o.kv.policy = policy;
    o.kv.budget = budget;
    o.kv.window = window;
    o.kv.n_large = budget / 4;
    o.kv.sinks = 4;
    o.kv.seed = seed;
    return o;
}

std::vector<int32_t> run(const GenerateOptions& o) {
    return generate(engine(), kPrompt, o, 1, nullptr, nullptr)[0].tokens;
}

class EveryPolicy : public ::testing::TestWithParam<std::string> {};

// With B >= the final length no pass runs, so every mode is `full`.
TEST_P(EveryPolicy, LargeBudgetGeneratesWhatFullGenerates) {
    const int64_t n_new = 40;  // 12 + 40 = 52 <= 64
    for (float temperature : {0.0f, 0.8f}) {
        auto full = run(options("full", 64, 16, temperature, n_new, 3));
        auto mode = run(options(GetParam(), 64, 16, temperature, n_new, 3));
        EXPECT_EQ(mode, full) << GetParam() << " at temperature " << temperature;
    }
}

TEST_P(EveryPolicy, SameSeedSameTokens) {
    auto a = run(options(GetParam(), 32, 8, 0.8f, 120, 11));
    auto b = run(options(GetParam(), 32, 8, 0.8f, 120, 11));
    EXPECT_EQ(a, b);
}

// After every pass each (layer, KV head) holds exactly B slots, among them the
// W most recent tokens and, for protecting modes, the sinks and the n_large
// candidates of largest value range.
TEST_P(EveryPolicy, EveryPassKeepsBudgetWindowSinksAndLargeValues) {
    const std::string policy = GetParam();
    GenerateOptions o = options(policy, 32, 8, 0.8f, 200, 5);
    o.kv.n_large = 8;
    o.kv.sinks = 4;
    Generator gen(engine(), o, static_cast<int64_t>(kPrompt.size()), 1);
    gen.prefill(kPrompt);
    const bool evicts = policy != "full" && policy != "quest";
    const bool sinks_kept = policy_protects_sinks_in_large(policy) || policy_keeps_sinks(policy);
    const bool large_kept = policy_uses_n_large(policy);
    int64_t passes_seen = 0;
    for (int step = 0; step < 200; ++step) {
        gen.sample(0);
        KvCache before = gen.cache(0);
        const int64_t length_after = static_cast<int64_t>(kPrompt.size()) + step + 1;
        gen.step();
        const CacheStats& st = gen.cache_stats(0);
        if (st.eviction_passes == passes_seen) continue;
        passes_seen = st.eviction_passes;
        ASSERT_TRUE(evicts);
        const KvCache& after = gen.cache(0);
        ASSERT_EQ(after.size(), 32);
        const KvCacheShape& s = after.shape();
        const int64_t n = before.size() + 1, n_candidates = n - 8;
        for (int64_t l = 0; l < s.n_layers; ++l) {
            for (int64_t h = 0; h < s.n_kv_heads; ++h) {
                std::set<int64_t> kept(after.positions(l, h), after.positions(l, h) + 32);
                ASSERT_EQ(kept.size(), 32u);
                for (int64_t p = length_after - 8; p < length_after; ++p) {
                    EXPECT_TRUE(kept.count(p)) << policy << ": recent token " << p << " evicted";
                }
                if (sinks_kept) {
                    for (int64_t p = 0; p < 4; ++p) EXPECT_TRUE(kept.count(p)) << policy << ": sink " << p;
                }
                if (large_kept) {
                    // Value range of each candidate (the sinks rank first where protected).
                    std::vector<std::pair<double, int64_t>> mag;
                    std::vector<float> values(static_cast<size_t>(n_candidates * s.head_dim));
                    before.values_f32(l, h, n_candidates, values.data());
                    for (int64_t i = 0; i < n_candidates; ++i) {
                        const float* v = &values[static_cast<size_t>(i * s.head_dim)];
                        double r = *std::max_element(v, v + s.head_dim) - *std::min_element(v, v + s.head_dim);
                        if (policy == "vase_l2") {
                            r = 0;
                            for (int64_t d = 0; d < s.head_dim; ++d) r += double(v[d]) * v[d];
                        } else if (policy == "vase_var") {
                            double m = 0, q = 0;
                            for (int64_t d = 0; d < s.head_dim; ++d) m += v[d];
                            m /= s.head_dim;
                            for (int64_t d = 0; d < s.head_dim; ++d) q += (v[d] - m) * (v[d] - m);
                            r = q;
                        }
                        const int64_t pos = before.positions(l, h)[i];
                        if (policy_protects_sinks_in_large(policy) && pos < 4) r = std::numeric_limits<double>::infinity();
                        mag.push_back({-r, pos});  // sort: largest first, ties to lower index
                    }
                    std::sort(mag.begin(), mag.end());
                    for (int64_t i = 0; i < 8; ++i) {
                        EXPECT_TRUE(kept.count(mag[i].second))
                            << policy << ": large value at position " << mag[i].second << " evicted";
                    }
                }
            }
        }
    }
    if (evicts) EXPECT_GT(passes_seen, 3) << policy;
    // Every window here is decoded (the prompt is shorter than the budget), so
    // attention-scored passes read the sums made while decoding in every layer.
    const int64_t summed = gen.cache_stats(0).layers_scored_while_decoding;
    if (evicts && policy_uses_attention(policy)) {
        EXPECT_EQ(summed, passes_seen * engine().config().n_layers) << policy;
    } else {
        EXPECT_EQ(summed, 0) << policy;
    }
}

std::vector<std::string> all_policies() {
    std::vector<std::string> out;
    for (auto name : eviction_policy_names()) out.emplace_back(name);
    return out;
}

INSTANTIATE_TEST_SUITE_P(Spec, EveryPolicy, ::testing::ValuesIn(all_policies()),
                         [](const auto& info) { return info.param; });

TEST(Generation, BatchedSequencesMatchSingleRuns) {
    // Sequence s of a batch uses seed + s * golden; sequence 0 equals a single run.
    GenerateOptions o = options("vase", 32, 8, 0.8f, 80, 21);
    auto batch = generate(engine(), kPrompt, o, 3, nullptr, nullptr);
    auto single = run(o);
    EXPECT_EQ(batch[0].tokens, single);
    EXPECT_NE(batch[0].tokens, batch[1].tokens);
}

TEST(Generation, FastPathMatchesReferencePathGreedy) {
    GenerateOptions o = options("full", 4096, 64, 0.0f, 48);
    o.kv_type = DType::F32;  // the reference pass keeps f32 keys and values
    auto fast = run(o);
    o.reference = true;
    auto ref = run(o);
    EXPECT_EQ(fast, ref);
}

}  // namespace
}  // namespace vase

namespace vase {
namespace {

// Quest keeps the whole cache and, from layer 2 on, attends per query head to
// ceil(B / 16) pages plus the current one.
TEST(Generation, QuestAttendsToSelectedPagesOnly) {
    const int64_t n_new = 200;
    GenerateOptions o = options("quest", 32, 16, 0.0f, n_new);
    auto result = generate(engine(), kPrompt, o, 1, nullptr, nullptr)[0];
    const CacheStats& c = result.cache;
    EXPECT_EQ(c.eviction_passes, 0);
    EXPECT_EQ(c.final_slots, static_cast<int64_t>(kPrompt.size()) + n_new - 1);
    // In the selecting layer (3 layers, the first 2 dense) a step attends to
    // 2 full pages plus the current page: between 33 and 48 slots of n.
    double lo = 0.0, hi = 0.0;
    for (int64_t step = 1; step < n_new; ++step) {
        const double n = static_cast<double>(kPrompt.size() + step);
        lo += (1.0 - std::min(n, 48.0) / n) / 3.0;
        hi += (1.0 - std::min(n, 33.0) / n) / 3.0;
    }
    lo /= static_cast<double>(n_new - 1);
    hi /= static_cast<double>(n_new - 1);
    EXPECT_GE(c.sparsity(), lo - 1e-3);
    EXPECT_LE(c.sparsity(), hi + 1e-3);
    // A budget that covers every page attends to everything: same tokens as full.
    auto wide = run(options("quest", 1024, 16, 0.0f, 120));
    auto full = run(options("full", 1024, 16, 0.0f, 120));
    EXPECT_EQ(wide, full);
}

}  // namespace
}  // namespace vase
