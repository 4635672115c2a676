// Invariants of every eviction policy (shared/spec/eviction.md sections 3, 4
// and 7) that need no model: output shape and order, protected sets,
// determinism, scoring against plain double references, zero allocations.
// Exact agreement with the float64 brute force on the deterministic modes and
// the sampling laws are checked by eviction_ref_test.py through `vase evict`.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <new>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "kv/params.h"
#include "kv/registry.h"
#include "kv/scoring.h"
#include "kv/selector.h"
#include "ops/dtype.h"
#include "ops/kernels.h"
#include "ops/thread_pool.h"
#include "util/error.h"
#include "util/rng.h"

// ---- allocation counting (replaces the global operator new of this test binary) ----
// GCC pairs our malloc-based new with free() and warns; the pairing is ours and correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    return operator new(size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

namespace vase {
namespace {

// Random tensors of one layer in the cache's layout.
struct LayerData {
    int64_t n_kv = 0, n_q = 0, d = 0, n = 0, w = 0;
    std::vector<float> keys, values, queries;  // [n_kv, n, d], [n_kv, n, d], [n_q, w, d]
    std::vector<int64_t> positions;            // [n_kv, n]

    LayerData(int64_t n_kv_, int64_t group, int64_t d_, int64_t n_, int64_t w_, uint64_t seed)
        : n_kv(n_kv_), n_q(n_kv_ * group), d(d_), n(n_), w(w_) {
        Rng rng(seed);
        keys.resize(n_kv * n * d);
        values.resize(n_kv * n * d);
        queries.resize(n_q * w * d);
        for (auto& x : keys) x = static_cast<float>(rng.normal() * 1.5);
        for (auto& x : values) x = static_cast<float>(rng.normal());
        for (auto& x : queries) x = static_cast<float>(rng.normal());
        // Positions as after earlier passes: ascending with gaps, sinks 0..3 present.
        positions.resize(n_kv * n);
        for (int64_t h = 0; h < n_kv; ++h) {
            int64_t p = 0;
            for (int64_t i = 0; i < n; ++i) {
                positions[h * n + i] = p;
                p += i < 4 ? 1 : 1 + static_cast<int64_t>(rng.next_u64() % 3);
            }
        }
    }

    LayerView view(int64_t layer = 0) const {
        LayerView v;
        v.layer = layer;
        v.n_kv_heads = n_kv;
        v.n_q_heads = n_q;
        v.head_dim = d;
        v.n = n;
        v.keys = keys.data();
        v.values = values.data();
        v.kv_head_stride = n * d;
        v.positions = positions.data();
        v.pos_head_stride = n;
        v.queries = queries.data();
        v.n_queries = w;
        v.q_head_stride = w * d;
        return v;
    }
};

EvictionParams params_for(const std::string& policy, int64_t n_large = 8, uint64_t seed = 1) {
    EvictionParams p;
    p.policy = policy;
    p.budget = 128;
    p.window = 32;
    p.n_large = n_large;
    p.sinks = 4;
    p.seed = seed;
    return p;
}

std::vector<std::string> evicting_policies() {
    std::vector<std::string> out;
    for (auto name : eviction_policy_names()) {
        if (name != "full" && name != "quest") out.emplace_back(name);
    }
    return out;
}

std::unique_ptr<EvictionPolicy> make(const EvictionParams& p, const LayerData& data,
                                     int64_t n_layers = 2, int threads = 1) {
    return make_policy(p, n_layers, data.n_kv, data.d, data.n, data.n_q, data.w, threads);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// ---- parameters ----

TEST(EvictionParams, DefaultsAreValidForEveryPolicy) {
    for (auto name : eviction_policy_names()) {
        EvictionParams p;
        p.policy = std::string(name);
        EXPECT_NO_THROW(p.validate()) << name;
    }
    EvictionParams p;
    EXPECT_EQ(p.resolved_n_large(), 1024);
    p.policy = "vase";
    EXPECT_TRUE(p.resolved_smooth());
    p.policy = "cur";
    EXPECT_FALSE(p.resolved_smooth());
    p.smooth = 1;
    EXPECT_TRUE(p.resolved_smooth());
}

TEST(EvictionParams, EachBrokenRuleIsNamed) {
    auto msg = [](auto edit) {
        EvictionParams p;
        p.policy = "vase";
        edit(p);
        return error_of([&] { p.validate(); });
    };
    std::string m = msg([](EvictionParams& p) { p.policy = "vase2"; });
    EXPECT_NE(m.find("unknown eviction policy 'vase2'"), std::string::npos) << m;
    EXPECT_NE(m.find("snapkv"), std::string::npos) << m;
    EXPECT_NE(m.find("cur_fixed"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.budget = 64; });
    EXPECT_NE(m.find("greater than the window"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.budget = 100; });
    EXPECT_NE(m.find("multiple of the window"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.n_large = 4033; });
    EXPECT_NE(m.find("n_large (4033) must be at most budget - window"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.n_large = 3; });
    EXPECT_NE(m.find("sinks (4) must be at most n_large (3)"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.budget = -64; });
    EXPECT_NE(m.find("negative"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.sinks = -1; });
    EXPECT_NE(m.find("sinks must not be negative"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.n_large = -2; });
    EXPECT_NE(m.find("n_large must be >= 0"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.temperature = 0.0f; });
    EXPECT_NE(m.find("temperature"), std::string::npos) << m;
    m = msg([](EvictionParams& p) { p.lambda = 1.5f; });
    EXPECT_NE(m.find("lambda"), std::string::npos) << m;
    // Modes without sink protection among the large values accept S > n_large.
    EvictionParams ok;
    ok.policy = "vase_nosink";
    ok.n_large = 2;
    EXPECT_NO_THROW(ok.validate());
    EXPECT_THROW(make_policy(EvictionParams{.policy = "nope"}, 1, 1, 8, 16, 1, 4), Error);
}

TEST(EvictionPolicy, FlagsAndProtectedCounts) {
    LayerData data(2, 2, 8, 64, 8, 1);
    for (auto name : eviction_policy_names()) {
        auto p = make(params_for(std::string(name)), data);
        const bool evicts = name != "full" && name != "quest";
        EXPECT_EQ(p->evicts(), evicts) << name;
        EXPECT_EQ(p->needs_queries(), policy_uses_attention(name)) << name;
        // The scheduler's memory estimate reads the name; the Evictor the policy.
        EXPECT_EQ(evicts && p->reads_rows() && !p->reads_cache_rows(),
                  policy_scores_f32_copies(name))
            << name;
    }
    EXPECT_EQ(make(params_for("vase", 8), data)->protected_slots(), 8);
    EXPECT_EQ(make(params_for("streaming"), data)->protected_slots(), 4);
    EXPECT_EQ(make(params_for("cur"), data)->protected_slots(), 4);
    EXPECT_EQ(make(params_for("snapkv"), data)->protected_slots(), 0);
    std::vector<int64_t> kept(2 * 10);
    EXPECT_THROW(make(params_for("full"), data)->select(data.view(), 10, kept.data()), Error);
}

TEST(EvictionPolicy, SelectChecksItsInputs) {
    LayerData data(2, 2, 8, 64, 8, 1);
    std::vector<int64_t> kept(2 * 65);
    auto p = make(params_for("vase", 8), data);
    std::string m = error_of([&] { p->select(data.view(), 65, kept.data()); });
    EXPECT_NE(m.find("cannot keep 65 of 64"), std::string::npos) << m;
    m = error_of([&] { p->select(data.view(), 7, kept.data()); });
    EXPECT_NE(m.find("n_large (8)"), std::string::npos) << m;
    LayerView v = data.view(2);
    m = error_of([&] { p->select(v, 10, kept.data()); });
    EXPECT_NE(m.find("does not fit"), std::string::npos) << m;
    v = data.view();
    v.n_queries = 0;
    m = error_of([&] { p->select(v, 10, kept.data()); });
    EXPECT_NE(m.find("queries"), std::string::npos) << m;
    EXPECT_THROW(p->set_projection(0, data.keys.data(), 4), Error);
}

// ---- invariants over every policy and GQA group ----

class EveryPolicy : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(EveryPolicy, KeepsExactlyKDistinctAscendingAndProtectedSets) {
    const auto& [name, group] = GetParam();
    for (uint64_t seed : {1, 2, 3}) {
        LayerData data(2, group, 16, 100, 8, seed);
        const int64_t keep = 40, n_large = 10, sinks = 4;
        auto p = make(params_for(name, n_large, seed), data);
        std::vector<int64_t> kept(2 * keep, -1);
        p->select(data.view(), keep, kept.data());
        for (int64_t h = 0; h < 2; ++h) {
            const int64_t* row = kept.data() + h * keep;
            for (int64_t i = 0; i < keep; ++i) {
                ASSERT_GE(row[i], 0);
                ASSERT_LT(row[i], data.n);
                if (i > 0) {
                    ASSERT_LT(row[i - 1], row[i]) << name << " not strictly ascending";
                }
            }
            const std::set<int64_t> set(row, row + keep);
            const int64_t* pos = data.positions.data() + h * data.n;
            const float* vals = data.values.data() + h * data.n * data.d;
            // Sinks: positions < S.
            if (name == "vase" || name == "vase_l2" || name == "vase_var" || name == "streaming" ||
                name == "cur" || name == "cur_fixed") {
                for (int64_t i = 0; i < data.n; ++i) {
                    if (pos[i] < sinks) {
                        EXPECT_TRUE(set.count(i)) << name << " lost sink " << i;
                    }
                }
            }
            // streaming: the K - S most recent candidates.
            if (name == "streaming") {
                for (int64_t i = data.n - (keep - sinks); i < data.n; ++i)
                    EXPECT_TRUE(set.count(i));
            }
            // The n_large largest value ranges (no ties in random data); with
            // sink protection, sinks take their place first.
            if (name == "vase" || name == "vase_nosink" || name == "value_topk") {
                std::vector<double> range(data.n);
                for (int64_t i = 0; i < data.n; ++i) {
                    auto [lo, hi] = std::minmax_element(vals + i * data.d, vals + (i + 1) * data.d);
                    range[i] = (name == "vase" && pos[i] < sinks) ? INFINITY : double(*hi) - *lo;
                }
                std::vector<int64_t> idx(data.n);
                std::iota(idx.begin(), idx.end(), 0);
                std::sort(idx.begin(), idx.end(),
                          [&](auto a, auto b) { return range[a] > range[b]; });
                for (int64_t r = 0; r < n_large; ++r) {
                    EXPECT_TRUE(set.count(idx[r])) << name << " lost large value " << idx[r];
                }
            }
        }
    }
}

TEST_P(EveryPolicy, SameSeedSameResultAndLayerOrderDoesNotMatter) {
    const auto& [name, group] = GetParam();
    LayerData data(2, group, 16, 100, 8, 7);
    const int64_t keep = 40;
    auto a = make(params_for(name, 10, 5), data);
    auto b = make(params_for(name, 10, 5), data);
    auto c = make(params_for(name, 10, 5), data, 2, 2);
    ThreadPool pool(2);
    std::vector<int64_t> ka0(80), ka1(80), kb0(80), kb1(80), kc0(80), kc1(80);
    // a: layer 0 then 1; b: layer 1 then 0; c: same as a, on two threads.
    a->select(data.view(0), keep, ka0.data());
    a->select(data.view(1), keep, ka1.data());
    b->select(data.view(1), keep, kb1.data());
    b->select(data.view(0), keep, kb0.data());
    c->select(data.view(0), keep, kc0.data(), &pool);
    c->select(data.view(1), keep, kc1.data(), &pool);
    EXPECT_EQ(ka0, kb0) << name;
    EXPECT_EQ(ka1, kb1) << name;
    EXPECT_EQ(ka0, kc0) << name;
    EXPECT_EQ(ka1, kc1) << name;
}

std::string policy_case_name(const ::testing::TestParamInfo<std::tuple<std::string, int>>& info) {
    return std::get<0>(info.param) + "_group" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy,
                         ::testing::Combine(::testing::ValuesIn(evicting_policies()),
                                            ::testing::Values(1, 2, 4, 8)),
                         policy_case_name);

TEST(EvictionPolicy, SamplingModesDependOnTheSeed) {
    LayerData data(2, 2, 16, 100, 8, 3);
    for (const char* name : {"random", "attn_sample", "vase", "vase_nosink"}) {
        std::vector<int64_t> k1(80), k2(80);
        make(params_for(name, 10, 1), data)->select(data.view(), 40, k1.data());
        make(params_for(name, 10, 2), data)->select(data.view(), 40, k2.data());
        EXPECT_NE(k1, k2) << name;
    }
}

TEST(EvictionPolicy, CurFixedKeepsItsProjectionCurDrawsAnew) {
    LayerData data(2, 1, 16, 100, 8, 4);
    auto fixed = make(params_for("cur_fixed"), data);
    auto fresh = make(params_for("cur"), data);
    std::vector<int64_t> first(80), again(80), f1(80), f2(80);
    fixed->select(data.view(), 40, first.data());
    fresh->select(data.view(), 40, f1.data());
    int fresh_changes = 0;
    for (int pass = 0; pass < 5; ++pass) {
        fixed->select(data.view(), 40, again.data());
        EXPECT_EQ(first, again);
        fresh->select(data.view(), 40, f2.data());
        fresh_changes += f1 != f2;
    }
    EXPECT_GT(fresh_changes, 0);
    // A given projection replaces the draw: two policies with different seeds agree.
    std::vector<float> g(16 * 20);
    Rng rng(9);
    for (auto& x : g) x = static_cast<float>(rng.normal());
    auto a = make(params_for("cur", 8, 1), data);
    auto b = make(params_for("cur", 8, 2), data);
    a->set_projection(0, g.data(), 20);
    b->set_projection(0, g.data(), 20);
    a->select(data.view(), 40, f1.data());
    b->select(data.view(), 40, f2.data());
    EXPECT_EQ(f1, f2);
}

// cur reads a 16-bit cache as it is (no f32 copy): same scores, so the same
// choice as over the converted rows, for F16 and BF16, candidate counts that
// are not a multiple of kCurBlock, and a cache whose heads hold more rows (its
// capacity) than there are candidates.
TEST(EvictionPolicy, CurOverSixteenBitCacheRowsChoosesAsOverTheirF32Copy) {
    for (DType type : {DType::F16, DType::BF16}) {
        for (int64_t n : {int64_t{33}, int64_t{77}, int64_t{100}}) {
            SCOPED_TRACE(std::string(dtype_name(type)) + " n=" + std::to_string(n));
            LayerData data(2, 2, 16, n, 8, 11);
            const int64_t capacity = n + 9, d = data.d;
            const uint64_t row = dtype_row_bytes(type, static_cast<uint64_t>(d));
            std::vector<uint8_t> k16(2 * capacity * row), v16(2 * capacity * row);
            std::vector<float> k32(2 * n * d), v32(2 * n * d);
            for (int64_t h = 0; h < 2; ++h) {
                quantize_row(type, &data.keys[h * n * d], n * d, &k16[h * capacity * row]);
                quantize_row(type, &data.values[h * n * d], n * d, &v16[h * capacity * row]);
                dequantize_row(type, &k16[h * capacity * row], n * d, &k32[h * n * d]);
                dequantize_row(type, &v16[h * capacity * row], n * d, &v32[h * n * d]);
            }
            LayerView copy = data.view();
            copy.keys = k32.data();
            copy.values = v32.data();
            LayerView rows = data.view();
            rows.keys = rows.values = nullptr;
            rows.cache_type = type;
            rows.cache_keys = k16.data();
            rows.cache_values = v16.data();
            rows.cache_head_rows = capacity;
            for (const char* mode : {"cur", "cur_fixed"}) {
                auto a = make(params_for(mode, 8, 3), data);
                auto b = make(params_for(mode, 8, 3), data);
                EXPECT_TRUE(a->reads_cache_rows());
                std::vector<int64_t> ka(2 * 20), kb(2 * 20);
                for (int pass = 0; pass < 3; ++pass) {
                    a->select(copy, 20, ka.data());
                    b->select(rows, 20, kb.data());
                    EXPECT_EQ(ka, kb) << mode << " pass " << pass;
                }
            }
            // The projected scores themselves: equal to the last bit.
            std::vector<float> g(d * 24, 0.0f), proj(2 * kCurRows * 24), scratch(2 * kCurBlock * d);
            Rng rng(5);
            for (int64_t i = 0; i < d; ++i)
                for (int64_t c = 0; c < 20; ++c) g[i * 24 + c] = static_cast<float>(rng.normal());
            std::vector<double> s32(n), s16(n);
            cur_raw_scores(k32.data(), v32.data(), n, d, g.data(), 24, proj.data(), s32.data());
            cur_raw_scores(type, k16.data(), v16.data(), n, d, g.data(), 24, scratch.data(),
                           proj.data(), s16.data());
            EXPECT_EQ(s32, s16);
        }
    }
    // Policies that need f32 rows refuse a view without them.
    LayerData data(2, 2, 16, 40, 8, 12);
    LayerView rows = data.view();
    rows.keys = rows.values = nullptr;
    auto vase = make(params_for("vase"), data);
    EXPECT_FALSE(vase->reads_cache_rows());
    std::vector<int64_t> kept(2 * 20);
    EXPECT_NE(error_of([&] { vase->select(rows, 20, kept.data()); }).find("without f32 keys"),
              std::string::npos);
    auto cur = make(params_for("cur"), data);
    EXPECT_NE(error_of([&] { cur->select(rows, 20, kept.data()); }).find("16-bit cache rows"),
              std::string::npos);
}

// cur and streaming read positions, never the slot order (needs_slot_order()
// is false, so the cache may refill dropped slots out of order): over the
// same candidates in another order they keep the same positions, and a tie
// (two candidates with equal rows, so equal scores) goes to the lower
// position in both orders.
TEST(EvictionPolicy, CurAndStreamingChooseByPositionNotBySlotOrder) {
    LayerData data(2, 2, 16, 90, 8, 31);
    const int64_t n = data.n, d = data.d, keep = 40;
    for (int64_t h = 0; h < 2; ++h) {  // candidate 60 repeats candidate 20's rows
        std::copy_n(&data.keys[(h * n + 20) * d], d, &data.keys[(h * n + 60) * d]);
        std::copy_n(&data.values[(h * n + 20) * d], d, &data.values[(h * n + 60) * d]);
    }
    // The same candidates in a shuffled order (per head).
    LayerData shuffled = data;
    std::vector<int64_t> perm(n);
    Rng rng(32);
    for (int64_t h = 0; h < 2; ++h) {
        std::iota(perm.begin(), perm.end(), 0);
        for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.next_u64() % (i + 1)]);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t from = h * n + perm[i], to = h * n + i;
            shuffled.positions[to] = data.positions[from];
            std::copy_n(&data.keys[from * d], d, &shuffled.keys[to * d]);
            std::copy_n(&data.values[from * d], d, &shuffled.values[to * d]);
        }
    }
    std::vector<float> g(16 * 20);
    for (auto& x : g) x = static_cast<float>(rng.normal());
    for (const char* name : {"cur", "cur_fixed", "streaming"}) {
        auto a = make(params_for(name), data);
        auto b = make(params_for(name), shuffled);
        EXPECT_FALSE(a->needs_slot_order()) << name;
        if (std::string(name) != "streaming") {
            a->set_projection(0, g.data(), 20);
            b->set_projection(0, g.data(), 20);
        }
        std::vector<int64_t> ka(2 * keep), kb(2 * keep);
        a->select(data.view(), keep, ka.data());
        b->select(shuffled.view(), keep, kb.data());
        for (int64_t h = 0; h < 2; ++h) {
            std::set<int64_t> pa, pb;
            for (int64_t i = 0; i < keep; ++i) {
                pa.insert(data.positions[h * n + ka[h * keep + i]]);
                pb.insert(shuffled.positions[h * n + kb[h * keep + i]]);
            }
            EXPECT_EQ(pa, pb) << name << " head " << h;
        }
    }
    // The tie decides: keep exactly one of the two equal candidates, and the
    // policy must take the lower position (candidate 20) in either order.
    auto a = make(params_for("cur"), data);
    a->set_projection(0, g.data(), 20);
    std::vector<double> score(n);
    std::vector<float> g24(16 * 24, 0.0f), proj(2 * kCurRows * 24);
    for (int64_t i = 0; i < 16; ++i) std::copy_n(&g[i * 20], 20, &g24[i * 24]);
    cur_raw_scores(data.keys.data(), data.values.data(), n, d, g24.data(), 24, proj.data(),
                   score.data());
    ASSERT_EQ(score[20], score[60]);
    // The number of candidates scoring above the pair, so that keeping one
    // more than that puts the pair on the boundary.
    int64_t above = 0;
    for (int64_t i = 0; i < n; ++i) above += score[i] > score[20] || data.positions[i] < 4;
    for (const LayerData* which : {&data, &shuffled}) {
        auto p = make(params_for("cur"), *which);
        p->set_projection(0, g.data(), 20);
        std::vector<int64_t> kept(2 * (above + 1));
        p->select(which->view(), above + 1, kept.data());
        std::set<int64_t> positions;
        for (int64_t i = 0; i < above + 1; ++i) positions.insert(which->positions[kept[i]]);
        EXPECT_TRUE(positions.count(data.positions[20])) << "the lower position wins the tie";
        EXPECT_FALSE(positions.count(data.positions[60]));
    }
}

// The split projection (16 columns by broadcasting, the rest as dot products
// summed across lanes) and the general one, against a double reference, for
// ranks that use 4 or 8 tail columns or the general path, head_dim 16 to 128;
// and a row's score does not depend on the rows projected beside it.
TEST(Scoring, CurScoresMatchADoubleReference) {
    Rng rng(41);
    for (int64_t d : {int64_t{16}, int64_t{48}, int64_t{128}}) {
        for (int64_t rank : {int64_t{20}, int64_t{17}, int64_t{24}, int64_t{7}, int64_t{32}}) {
            SCOPED_TRACE("head_dim " + std::to_string(d) + " rank " + std::to_string(rank));
            const int64_t stride = (rank + 7) / 8 * 8, n = 37;
            std::vector<float> k(n * d), v(n * d), g(d * stride, 0.0f);
            for (auto& x : k) x = static_cast<float>(rng.normal());
            for (auto& x : v) x = static_cast<float>(rng.normal());
            for (int64_t i = 0; i < d; ++i)
                for (int64_t c = 0; c < rank; ++c) g[i * stride + c] = static_cast<float>(rng.normal());
            std::vector<float> proj(2 * kCurRows * stride);
            std::vector<double> got(n), alone(1);
            cur_raw_scores(k.data(), v.data(), n, d, g.data(), stride, proj.data(), got.data());
            for (int64_t i = 0; i < n; ++i) {
                double kn = 0, vn = 0;
                for (int64_t c = 0; c < rank; ++c) {
                    double pk = 0, pv = 0;
                    for (int64_t j = 0; j < d; ++j) {
                        pk += static_cast<double>(k[i * d + j]) * g[j * stride + c];
                        pv += static_cast<double>(v[i * d + j]) * g[j * stride + c];
                    }
                    kn += pk * pk;
                    vn += pv * pv;
                }
                EXPECT_NEAR(got[i], kn * vn, 1e-5 * kn * vn) << "row " << i;
                cur_raw_scores(&k[i * d], &v[i * d], 1, d, g.data(), stride, proj.data(), alone.data());
                EXPECT_EQ(alone[0], got[i]) << "row " << i << " alone";
            }
        }
    }
}

// ---- no allocation while deciding ----

TEST(EvictionPolicy, SelectNeverAllocates) {
    // The counter sees allocations made anywhere in the process.
    g_allocations = 0;
    g_count_allocations = true;
    auto probe = std::make_unique<std::vector<int>>(10);
    g_count_allocations = false;
    ASSERT_GE(g_allocations.load(), 2);
    LayerData data(2, 2, 16, 80, 8, 11);
    ThreadPool pool(2);
    for (const auto& name : evicting_policies()) {
        auto p = make(params_for(name, 8), data, 4, 2);
        std::vector<int64_t> kept(2 * 32);
        g_allocations = 0;
        g_count_allocations = true;
        for (int step = 0; step < 1000; ++step) {
            LayerView v = data.view(step % 4);
            v.n = 50 + step % 31;  // the candidate count varies between passes
            p->select(v, 32, kept.data(), step % 10 == 0 ? &pool : nullptr);
        }
        g_count_allocations = false;
        EXPECT_EQ(g_allocations.load(), 0) << name;
    }
}

// ---- scoring against plain double references ----

std::vector<double> plain_attention(const LayerData& data, int64_t h, double temperature,
                                    bool smooth) {
    const int64_t n = data.n, d = data.d, group = data.n_q / data.n_kv;
    std::vector<double> total(n, 0.0);
    for (int64_t g = 0; g < group; ++g) {
        const float* q = data.queries.data() + (h * group + g) * data.w * d;
        std::vector<double> mean(n, 0.0);
        for (int64_t t = 0; t < data.w; ++t) {
            std::vector<double> logit(n);
            for (int64_t i = 0; i < n; ++i) {
                double s = 0.0;
                for (int64_t x = 0; x < d; ++x)
                    s += double(q[t * d + x]) * data.keys[(h * n + i) * d + x];
                logit[i] = s / (std::sqrt(double(d)) * temperature);
            }
            const double mx = *std::max_element(logit.begin(), logit.end());
            double z = 0.0;
            for (auto& l : logit) z += (l = std::exp(l - mx));
            for (int64_t i = 0; i < n; ++i) mean[i] += logit[i] / z / double(data.w);
        }
        for (int64_t i = 0; i < n; ++i) {
            double s = mean[i];
            if (smooth) {
                s = 0.0;
                for (int64_t j = i - 2; j <= i + 2; ++j) s += (j >= 0 && j < n) ? mean[j] : 0.0;
                s /= 5.0;
            }
            total[i] += s / double(group);
        }
    }
    return total;
}

TEST(AttentionScorer, MatchesPlainDoubleSoftmax) {
    struct Case {
        int64_t group, d, n, w;
        double t;
        bool smooth;
    };
    for (const Case& c : {Case{1, 8, 1, 1, 1.0, false}, Case{2, 8, 37, 5, 1.0, true},
                          Case{4, 64, 130, 17, 0.7, true}, Case{2, 128, 300, 64, 1.0, true},
                          Case{8, 16, 90, 70, 2.0, false}, Case{1, 24, 3, 80, 1.0, true}}) {
        LayerData data(2, c.group, c.d, c.n, c.w, 42 + c.n);
        AttentionScorer scorer(c.d, c.n + 5, c.w);
        std::vector<double> got(c.n);
        for (int64_t h = 0; h < 2; ++h) {
            scorer.score(data.view(), h, static_cast<float>(c.t), c.smooth, got.data());
            const auto want = plain_attention(data, h, c.t, c.smooth);
            const double scale = *std::max_element(want.begin(), want.end());
            double sum = 0.0;
            for (int64_t i = 0; i < c.n; ++i) {
                EXPECT_NEAR(got[i], want[i], 2e-6 * scale) << "n " << c.n << " i " << i;
                sum += got[i];
            }
            if (!c.smooth) {
                EXPECT_NEAR(sum, 1.0, 1e-5);  // a mean of softmaxes sums to 1
            }
        }
    }
}

TEST(AttentionScorer, EqualKeysGiveBitEqualScoresAndHugeGapsGiveZero) {
    LayerData data(1, 2, 32, 70, 9, 5);
    for (int64_t i = 0; i < data.n; i += 3) {  // every third key equals key 1
        std::copy_n(data.keys.begin() + 32, 32, data.keys.begin() + i * 32);
    }
    AttentionScorer scorer(32, 70, 9);
    std::vector<double> s(70);
    scorer.score(data.view(), 0, 1.0f, false, s.data());
    for (int64_t i = 0; i < data.n; i += 3) EXPECT_EQ(s[i], s[1]) << i;
    // A key far from every query in logit: exactly zero, as float32 softmax gives.
    for (auto& x : data.queries) x = 1.0f;
    for (int64_t x = 0; x < 32; ++x) data.keys[5 * 32 + x] = -40.0f;
    scorer.score(data.view(), 0, 1.0f, false, s.data());
    EXPECT_EQ(s[5], 0.0);
}

TEST(Scoring, RedundancyIdentityMatchesTheFullCosineMatrix) {
    LayerData data(1, 1, 24, 57, 1, 8);
    std::fill_n(data.keys.begin() + 10 * 24, 24, 0.0f);                        // a zero key
    std::copy_n(data.keys.begin() + 3 * 24, 24, data.keys.begin() + 20 * 24);  // a duplicate
    const int64_t n = data.n, d = data.d;
    std::vector<double> got(n), sum(d);
    key_redundancy(data.keys.data(), n, d, sum.data(), got.data());
    std::vector<std::vector<double>> unit(n, std::vector<double>(d));
    for (int64_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (int64_t x = 0; x < d; ++x) s += double(data.keys[i * d + x]) * data.keys[i * d + x];
        for (int64_t x = 0; x < d; ++x) unit[i][x] = data.keys[i * d + x] / (std::sqrt(s) + 1e-8);
    }
    std::vector<double> r(n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            if (i == j) continue;
            double c = 0.0;
            for (int64_t x = 0; x < d; ++x) c += unit[j][x] * unit[i][x];
            r[i] += c / double(n);
        }
    }
    const double mx = *std::max_element(r.begin(), r.end());
    double z = 0.0;
    for (auto& x : r) z += (x = std::exp(x - mx));
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(got[i], r[i] / z, 1e-14) << i;
    EXPECT_EQ(got[3], got[20]);
}

TEST(Scoring, ValueMagnitudes) {
    const float v[2][4] = {{1.0f, -2.0f, 0.5f, 3.0f}, {2.0f, 2.0f, 2.0f, 2.0f}};
    double out[2];
    value_magnitude(Magnitude::kRange, &v[0][0], 2, 4, out);
    EXPECT_EQ(out[0], 5.0);
    EXPECT_EQ(out[1], 0.0);
    value_magnitude(Magnitude::kL2, &v[0][0], 2, 4, out);
    EXPECT_NEAR(out[0], std::sqrt(1 + 4 + 0.25 + 9), 1e-12);
    EXPECT_NEAR(out[1], 4.0, 1e-12);
    value_magnitude(Magnitude::kVariance, &v[0][0], 2, 4, out);
    const double mean = 2.5 / 4;
    double var = 0;
    for (float x : v[0]) var += (x - mean) * (x - mean);
    EXPECT_NEAR(out[0], var / 3, 1e-12);
    EXPECT_EQ(out[1], 0.0);
}

TEST(Scoring, SmoothingDividesByFiveWithZeroPadding) {
    const double in[6] = {5, 0, 0, 0, 0, 10};
    double out[6];
    smooth_scores(in, 6, out);
    const double want[6] = {1, 1, 1, 2, 2, 2};
    for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(out[i], want[i]) << i;
}

// ---- the shared selector ----

TEST(Selector, TopKBreaksTiesTowardTheLowerIndexAndRanksNanLast) {
    const double key[8] = {1, 3, NAN, 3, 2, 3, INFINITY, 1};
    int64_t order[8], out[8];
    int64_t m = select_top_k(key, 8, 4, nullptr, order, out);
    ASSERT_EQ(m, 4);
    std::sort(out, out + 4);
    EXPECT_EQ(std::vector<int64_t>(out, out + 4), (std::vector<int64_t>{1, 3, 5, 6}));
    m = select_top_k(key, 8, 3, nullptr, order, out);
    std::sort(out, out + 3);
    EXPECT_EQ(std::vector<int64_t>(out, out + 3), (std::vector<int64_t>{1, 3, 6}));
    const uint8_t taken[8] = {0, 1, 0, 0, 0, 0, 1, 0};
    m = select_top_k(key, 8, 7, taken, order, out);
    EXPECT_EQ(m, 6);  // only 6 eligible
    std::sort(out, out + 6);
    EXPECT_EQ(std::vector<int64_t>(out, out + 6), (std::vector<int64_t>{0, 2, 3, 4, 5, 7}));
    m = select_top_k(key, 8, 5, taken, order, out);
    std::sort(out, out + 5);
    EXPECT_EQ(std::vector<int64_t>(out, out + 5), (std::vector<int64_t>{0, 3, 4, 5, 7}));
}

// select_top_k drops few candidates (count - k <= 512) through a heap of
// the worst keys and many through nth_element; both must keep exactly the
// set a full sort by (key descending, tie ascending, index ascending) keeps,
// with many equal keys, NaN and infinities among them.
TEST(Selector, TopKKeepsTheSetOfAFullSortWhateverTheMethod) {
    Rng rng(21);
    const int64_t n = 1200;
    std::vector<double> key(n);
    std::vector<int64_t> tie(n), order(n), out(n);
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t r = rng.next_u64() % 40;
        key[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : static_cast<double>(r % 7);
        tie[i] = static_cast<int64_t>(rng.next_u64() % 50);  // ties among ties too
    }
    for (bool with_tie : {false, true}) {
        const int64_t* t = with_tie ? tie.data() : nullptr;
        std::vector<int64_t> sorted(n);
        std::iota(sorted.begin(), sorted.end(), 0);
        auto rank = [](double x) { return std::isnan(x) ? -INFINITY : x; };
        std::sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) {
            if (rank(key[a]) != rank(key[b])) return rank(key[a]) > rank(key[b]);
            if (t != nullptr && t[a] != t[b]) return t[a] < t[b];
            return a < b;
        });
        for (int64_t k : {n, n - 1, n - 64, n - 512, n - 513, n / 2, int64_t{3}, int64_t{0}}) {
            const int64_t m = select_top_k(key.data(), t, n, k, nullptr, order.data(), out.data());
            ASSERT_EQ(m, k);
            std::vector<int64_t> got(out.begin(), out.begin() + m), want(sorted.begin(), sorted.begin() + k);
            std::sort(got.begin(), got.end());
            std::sort(want.begin(), want.end());
            EXPECT_EQ(got, want) << "k=" << k << (with_tie ? " with ties by position" : "");
        }
    }
    // Ties go to the lower tie value first, the index only after it.
    const double flat[4] = {1, 1, 1, 1};
    const int64_t pos[4] = {9, 3, 7, 3};
    int64_t o[4], kept[4];
    ASSERT_EQ(select_top_k(flat, pos, 4, 2, nullptr, o, kept), 2);
    std::sort(kept, kept + 2);
    EXPECT_EQ(std::vector<int64_t>(kept, kept + 2), (std::vector<int64_t>{1, 3}));
}

TEST(Selector, SamplingSkipsZeroWeightsAndTakenAndMatchesExactInclusion) {
    const double w[6] = {0.5, 0.0, 2.0, 1.0, 3.0, 1.5};
    const uint8_t taken[6] = {0, 0, 0, 0, 1, 0};
    double race[6];
    int64_t order[6], out[6];
    Rng rng(3);
    // Eligible positive weights: 0, 2, 3, 5 -> asking for 5 gives those 4.
    int64_t m = sample_without_replacement(w, 6, 5, taken, rng, race, order, out);
    ASSERT_EQ(m, 4);
    std::sort(out, out + 4);
    EXPECT_EQ(std::vector<int64_t>(out, out + 4), (std::vector<int64_t>{0, 2, 3, 5}));
    // Inclusion probabilities of 2 successive draws among {0, 2, 3, 5}.
    const int64_t cand[4] = {0, 2, 3, 5};
    const double total = 0.5 + 2.0 + 1.0 + 1.5;
    std::map<int64_t, double> pi;
    for (int64_t a : cand) {
        for (int64_t b : cand) {
            if (a == b) continue;
            const double p = w[a] / total * w[b] / (total - w[a]);
            pi[a] += p;
            pi[b] += p;
        }
    }
    const int reps = 200000;
    std::map<int64_t, int> count;
    for (int r = 0; r < reps; ++r) {
        m = sample_without_replacement(w, 6, 2, taken, rng, race, order, out);
        ASSERT_EQ(m, 2);
        ASSERT_NE(out[0], out[1]);
        count[out[0]]++;
        count[out[1]]++;
    }
    EXPECT_EQ(count.count(1), 0u);
    EXPECT_EQ(count.count(4), 0u);
    for (int64_t c : cand) {
        const double sigma = std::sqrt(pi[c] * (1 - pi[c]) / reps);
        EXPECT_NEAR(count[c] / double(reps), pi[c], 5 * sigma) << c;
    }
}

// ---- Quest page selection ----

TEST(Quest, BoundsAreUpperBoundsAndSelectionIsTopPagesPlusCurrent) {
    const int64_t d = 8, n = 16 * 9 + 5;  // 10 pages, the last partial
    LayerData data(1, 1, d, n, 1, 21);
    const int64_t pages = quest_pages(n);
    ASSERT_EQ(pages, 10);
    std::vector<float> lo(pages * d), hi(pages * d), lo2(pages * d), hi2(pages * d);
    quest_page_bounds(data.keys.data(), n, d, lo.data(), hi.data());
    for (int64_t i = 0; i < n; ++i)
        quest_add_token(data.keys.data() + i * d, i, d, lo2.data(), hi2.data());
    EXPECT_EQ(lo, lo2);
    EXPECT_EQ(hi, hi2);
    const float* q = data.queries.data();
    std::vector<double> bound(pages);
    for (int64_t p = 0; p < pages; ++p) {
        for (int64_t x = 0; x < d; ++x) {
            bound[p] += std::max(double(q[x]) * lo[p * d + x], double(q[x]) * hi[p * d + x]);
        }
        for (int64_t i = p * 16; i < std::min(n, (p + 1) * 16); ++i) {
            double s = 0.0;
            for (int64_t x = 0; x < d; ++x) s += double(q[x]) * data.keys[i * d + x];
            EXPECT_LE(s, bound[p] + 1e-9);
        }
    }
    std::vector<double> scratch(pages);
    std::vector<int64_t> order(pages), chosen(pages);
    const int64_t m = quest_select_pages(q, lo.data(), hi.data(), n, d, 64, scratch.data(),
                                         order.data(), chosen.data());
    ASSERT_EQ(m, 5);  // 64 tokens = 4 pages, plus the current one
    std::vector<int64_t> idx(pages - 1);
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) {
        return bound[a] > bound[b] || (bound[a] == bound[b] && a < b);
    });
    std::vector<int64_t> want(idx.begin(), idx.begin() + 4);
    want.push_back(pages - 1);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(std::vector<int64_t>(chosen.begin(), chosen.begin() + m), want);
    // A budget covering the cache attends to every page.
    EXPECT_EQ(quest_select_pages(q, lo.data(), hi.data(), n, d, 4096, scratch.data(), order.data(),
                                 chosen.data()),
              pages);
}

}  // namespace
}  // namespace vase
