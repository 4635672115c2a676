#include "kv/cache.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace vase {
namespace {

KvCacheShape small_shape() {
    KvCacheShape s;
    s.n_layers = 2;
    s.n_kv_heads = 3;
    s.n_q_heads = 6;
    s.head_dim = 4;
    s.capacity = 12;
    s.query_window = 3;
    return s;
}

// Fills `n` tokens; key element = position * 100 + head * 10 + layer, value = -key.
void fill(KvCache& cache, int64_t n) {
    const KvCacheShape& s = cache.shape();
    std::vector<float> k(s.n_kv_heads * s.head_dim), v(k.size());
    for (int64_t t = 0; t < n; ++t) {
        for (int64_t l = 0; l < s.n_layers; ++l) {
            for (int64_t h = 0; h < s.n_kv_heads; ++h) {
                for (int64_t d = 0; d < s.head_dim; ++d) {
                    k[h * s.head_dim + d] = static_cast<float>(t * 100 + h * 10 + l);
                    v[h * s.head_dim + d] = -k[h * s.head_dim + d];
                }
            }
            cache.write(l, 0, t, k.data(), v.data());
        }
        cache.commit(1);
    }
}

TEST(KvCache, WriteCommitAndPositions) {
    KvCache cache(small_shape());
    fill(cache, 5);
    EXPECT_EQ(cache.size(), 5);
    EXPECT_EQ(cache.key(1, 2, 3)[0], 3 * 100 + 2 * 10 + 1);
    EXPECT_EQ(cache.value(0, 1, 4)[3], -(4 * 100 + 1 * 10));
    EXPECT_EQ(cache.positions(1, 2)[3], 3);
}

TEST(KvCache, CompactKeepsChosenCandidatesThenWindowInOrder) {
    KvCache cache(small_shape());
    fill(cache, 10);
    // 10 tokens, window 3 -> candidates 0..6; keep per head a different set.
    const int64_t n_candidates = 7, keep = 3;
    std::vector<int64_t> kept = {0, 2, 5, /*head 1*/ 1, 3, 6, /*head 2*/ 4, 5, 6};
    for (int64_t l = 0; l < 2; ++l) cache.compact_layer(l, kept.data(), keep, n_candidates);
    cache.set_size(keep + 3);
    ASSERT_EQ(cache.size(), 6);
    for (int64_t l = 0; l < 2; ++l) {
        for (int64_t h = 0; h < 3; ++h) {
            std::vector<int64_t> expect(kept.begin() + h * keep, kept.begin() + (h + 1) * keep);
            expect.insert(expect.end(), {7, 8, 9});
            for (int64_t slot = 0; slot < 6; ++slot) {
                EXPECT_EQ(cache.positions(l, h)[slot], expect[slot]) << "layer " << l << " head " << h;
                EXPECT_EQ(cache.key(l, h, slot)[2], expect[slot] * 100 + h * 10 + l);
                EXPECT_EQ(cache.value(l, h, slot)[1], -(expect[slot] * 100 + h * 10 + l));
            }
        }
    }
}

// The unordered compaction keeps the same set as the ordered one, fills each
// dropped slot below the new size with a row from past it, and leaves every
// kept row below the new size where it was.
TEST(KvCache, CompactUnorderedRefillsDroppedSlotsFromTheTail) {
    KvCache cache(small_shape());
    fill(cache, 10);
    // 10 tokens, window 3 -> candidates 0..6; head 2 keeps 6, a candidate
    // past the new size 6, and drops 0..3 below it.
    const int64_t n_candidates = 7, keep = 3;
    const std::vector<int64_t> kept = {0, 2, 5, /*head 1*/ 1, 3, 6, /*head 2*/ 4, 5, 6};
    for (int64_t l = 0; l < 2; ++l) {
        for (int64_t h = 0; h < 3; ++h) {
            cache.compact_head_unordered(l, h, kept.data() + h * keep, keep, n_candidates);
        }
    }
    cache.set_size(keep + 3);
    for (int64_t l = 0; l < 2; ++l) {
        for (int64_t h = 0; h < 3; ++h) {
            std::set<int64_t> want(kept.begin() + h * keep, kept.begin() + (h + 1) * keep);
            want.insert({7, 8, 9});
            std::set<int64_t> held;
            for (int64_t slot = 0; slot < 6; ++slot) {
                const int64_t p = cache.positions(l, h)[slot];
                held.insert(p);
                // The row moved with its position.
                EXPECT_EQ(cache.key(l, h, slot)[2], p * 100 + h * 10 + l);
                EXPECT_EQ(cache.value(l, h, slot)[1], -(p * 100 + h * 10 + l));
                // A kept row below the new size stays in its slot.
                if (want.count(slot)) EXPECT_EQ(p, slot) << "layer " << l << " head " << h;
            }
            EXPECT_EQ(held, want) << "layer " << l << " head " << h;
        }
    }
}

TEST(KvCache, QueryRingKeepsLastWindow) {
    KvCache cache(small_shape());
    std::vector<float> q(6 * 4);
    for (int step = 0; step < 5; ++step) {
        for (auto& x : q) x = static_cast<float>(step);
        cache.push_query(0, q.data());
    }
    ASSERT_EQ(cache.n_queries(0), 3);
    EXPECT_EQ(cache.n_queries(1), 0);
    std::vector<float> seen;
    for (int t = 0; t < 3; ++t) seen.push_back(cache.queries(0)[5 * cache.query_head_stride() + t * 4]);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<float>{2, 3, 4}));
}

}  // namespace
}  // namespace vase
