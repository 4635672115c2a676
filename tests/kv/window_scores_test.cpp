// The window attention summed while decoding (KvCache::begin_window_query +
// accumulate_window_attention) against the AttentionScorer, which scores the
// same window from the ring of queries at eviction time (itself checked
// against the float64 reference in eviction_ref_test.py). The test drives a
// cache as the forward pass does: write, push the query, begin the window
// query, attend_group, accumulate; and evicts as the Evictor does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kv/cache.h"
#include "kv/scoring.h"
#include "ops/kernels.h"
#include "util/rng.h"

namespace vase {
namespace {

constexpr int64_t kLayers = 2, kKvHeads = 2, kQHeads = 4, kHeadDim = 16;
constexpr int64_t kBudget = 16, kWindow = 8, kPrompt = 20;

struct Case {
    DType kv_type;
    float temperature;
    bool dominated;  // the window's own keys take nearly all of the attention
};

struct Outcome {
    int64_t complete = 0;    // evictions whose sums were complete (and compared)
    int64_t incomplete = 0;  // evictions whose window held prompt queries
    int64_t recomputed = 0;  // (step, head) pairs whose candidates' p fell below kWindowReuseMin
};

float gaussian(Rng& rng) {
    const double u1 = std::max(rng.uniform(), 1e-12), u2 = rng.uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// Compares the summed scores of `layer` with the scorer's over the same
// candidates and queries, unsmoothed and smoothed; relative to the largest score.
void expect_same_scores(const KvCache& cache, int64_t layer, int64_t n_candidates, float temperature,
                        const float* sums) {
    const KvCacheShape& s = cache.shape();
    std::vector<float> keys(static_cast<size_t>(s.n_kv_heads * n_candidates * s.head_dim));
    for (int64_t h = 0; h < s.n_kv_heads; ++h) {
        cache.keys_f32(layer, h, n_candidates, keys.data() + h * n_candidates * s.head_dim);
    }
    LayerView view;
    view.layer = layer;
    view.n_kv_heads = s.n_kv_heads;
    view.n_q_heads = s.n_q_heads;
    view.head_dim = s.head_dim;
    view.n = n_candidates;
    view.keys = keys.data();
    view.kv_head_stride = n_candidates * s.head_dim;
    view.queries = cache.queries(layer);
    view.n_queries = cache.n_queries(layer);
    view.q_head_stride = cache.query_head_stride();
    LayerView summed = view;
    summed.keys = nullptr;
    summed.window_scores = sums;
    summed.window_score_stride = cache.window_score_stride();
    AttentionScorer scorer(s.head_dim, n_candidates, s.query_window);
    std::vector<double> want(static_cast<size_t>(n_candidates)), got(want.size());
    for (bool smooth : {false, true}) {
        for (int64_t h = 0; h < s.n_kv_heads; ++h) {
            scorer.score(view, h, temperature, smooth, want.data());
            scorer.score(summed, h, temperature, smooth, got.data());
            const double top = *std::max_element(want.begin(), want.end());
            for (int64_t i = 0; i < n_candidates; ++i) {
                EXPECT_NEAR(got[i], want[i], 2e-6 * top)
                    << "layer " << layer << " head " << h << " candidate " << i << " smooth "
                    << smooth;
            }
        }
    }
}

Outcome run(const Case& c) {
    KvCacheShape s;
    s.n_layers = kLayers;
    s.n_kv_heads = kKvHeads;
    s.n_q_heads = kQHeads;
    s.head_dim = kHeadDim;
    s.capacity = std::max(kPrompt, kBudget) + kWindow;
    s.query_window = kWindow;
    s.kv_type = c.kv_type;
    s.score_budget = kBudget;
    s.score_window = kWindow;
    s.score_temperature = c.temperature;
    KvCache cache(s);
    const int64_t group = kQHeads / kKvHeads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
    Rng rng(c.dominated ? 5 : 3);
    std::vector<float> q(kQHeads * kHeadDim), k(kKvHeads * kHeadDim), v(k.size());
    std::vector<float> scores(static_cast<size_t>(group * s.capacity)), out(group * kHeadDim);
    Outcome o;
    for (int64_t position = 0; position < 120; ++position) {
        const int64_t slot = cache.size();
        const bool decode = position >= kPrompt;
        for (int64_t l = 0; l < kLayers; ++l) {
            for (auto& x : q) x = gaussian(rng);
            for (auto& x : v) x = gaussian(rng);
            for (int64_t h = 0; h < kKvHeads; ++h) {
                for (int64_t d = 0; d < kHeadDim; ++d) {
                    // Dominated: a decode token's key points along its group's queries.
                    k[h * kHeadDim + d] =
                        c.dominated && decode
                            ? 12.0f * (q[(h * group) * kHeadDim + d] + q[(h * group + 1) * kHeadDim + d])
                            : gaussian(rng);
                }
            }
            cache.write(l, 0, position, k.data(), v.data());
            cache.push_query(l, q.data());
            const int64_t n_candidates = cache.begin_window_query(l, slot, decode);
            if (n_candidates == 0) continue;
            for (int64_t h = 0; h < kKvHeads; ++h) {
                const float* qg = q.data() + h * group * kHeadDim;
                attend_group(qg, group, cache.key_row(l, h, 0), cache.value_row(l, h, 0),
                             s.kv_type, slot + 1, kHeadDim, scale, scores.data(), out.data());
                for (int64_t g = 0; g < group; ++g) {
                    const float* p = scores.data() + g * (slot + 1);
                    if (*std::max_element(p, p + n_candidates) < kWindowReuseMin) ++o.recomputed;
                }
                accumulate_window_attention(scores.data(), group, slot + 1, n_candidates, qg,
                                            cache.key_row(l, h, 0), s.kv_type, kHeadDim, scale,
                                            c.temperature, cache.window_scores(l, h));
            }
        }
        cache.commit(1);
        const int64_t n = cache.size();
        if (!decode || n <= kBudget || n % kWindow != 0) continue;
        // An eviction as the Evictor runs it: compare, then keep every other candidate.
        const int64_t n_candidates = n - kWindow, keep = kBudget - kWindow;
        for (int64_t l = 0; l < kLayers; ++l) {
            const float* sums = cache.complete_window_scores(l, n_candidates);
            if (sums == nullptr) {
                ++o.incomplete;
                continue;
            }
            ++o.complete;
            expect_same_scores(cache, l, n_candidates, c.temperature, sums);
            EXPECT_EQ(cache.complete_window_scores(l, n_candidates - 1), nullptr);
        }
        std::vector<int64_t> kept(static_cast<size_t>(keep));
        for (int64_t i = 0; i < keep; ++i) kept[i] = i * n_candidates / keep;
        for (int64_t l = 0; l < kLayers; ++l) {
            for (int64_t h = 0; h < kKvHeads; ++h) cache.compact_head(l, h, kept.data(), keep, n_candidates);
        }
        cache.set_size(kBudget);
        for (int64_t l = 0; l < kLayers; ++l) {
            EXPECT_EQ(cache.complete_window_scores(l, n_candidates), nullptr) << "not reset";
        }
    }
    return o;
}

TEST(WindowScores, SummedWhileDecodingEqualTheScorersF32) {
    const Outcome o = run({DType::F32, 1.0f, false});
    // The first window (slots 16..23) holds prompt queries 16..19: not summed.
    EXPECT_EQ(o.incomplete, kLayers);
    EXPECT_GE(o.complete, 10 * kLayers);
    EXPECT_EQ(o.recomputed, 0);
}

TEST(WindowScores, SummedWhileDecodingEqualTheScorersF16AndBf16) {
    for (DType t : {DType::F16, DType::BF16}) {
        const Outcome o = run({t, 1.0f, false});
        EXPECT_GE(o.complete, 10 * kLayers) << dtype_name(t);
    }
}

TEST(WindowScores, TemperatureRecomputesTheCandidatesLogits) {
    for (float temperature : {0.5f, 2.0f}) {
        const Outcome o = run({DType::F16, temperature, false});
        EXPECT_GE(o.complete, 10 * kLayers) << temperature;
    }
}

TEST(WindowScores, WindowTakingAllAttentionRecomputesTheCandidates) {
    const Outcome o = run({DType::F32, 1.0f, true});
    EXPECT_GT(o.recomputed, 0) << "the test did not reach the recomputing path";
    EXPECT_GE(o.complete, 10 * kLayers);
}

TEST(WindowScores, NotConfiguredOrBeforeTheBudgetGivesNothing) {
    KvCacheShape s;
    s.n_layers = 1;
    s.n_kv_heads = 1;
    s.n_q_heads = 1;
    s.head_dim = 4;
    s.capacity = 32;
    s.query_window = 8;
    KvCache off(s);
    EXPECT_EQ(off.begin_window_query(0, 20, true), 0);
    EXPECT_EQ(off.complete_window_scores(0, 16), nullptr);
    s.score_budget = 16;
    s.score_window = 8;
    KvCache on(s);
    EXPECT_EQ(on.begin_window_query(0, 15, true), 0);   // slot 15: the cache is within budget
    EXPECT_EQ(on.begin_window_query(0, 16, true), 16);  // first slot of the window [16, 24)
    EXPECT_EQ(on.begin_window_query(0, 23, true), 16);
    EXPECT_EQ(on.begin_window_query(0, 24, true), 24);  // a longer cache: window [24, 32)
    s.score_budget = 12;  // not a multiple of the window
    EXPECT_THROW(KvCache bad(s), std::exception);
}

}  // namespace
}  // namespace vase
