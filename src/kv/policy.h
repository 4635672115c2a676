// The eviction policy interface. A policy decides, never mutates: given one
// layer's candidates it returns, per KV head, the candidate indices to keep;
// only the cache (src/kv/cache.h) applies the decision. Semantics of every
// mode: shared/spec/eviction.md. Policies are created by make_policy()
// (src/kv/registry.h), which allocates all scratch up front, so select()
// never allocates.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kv/params.h"
#include "ops/dtype.h"
#include "util/rng.h"

namespace vase {

class ThreadPool;
class AttentionScorer;

// One layer's candidates (the cached tokens outside the recent window), as
// the cache holds them.
struct LayerView {
    int64_t layer = 0;
    int64_t n_kv_heads = 0;
    int64_t n_q_heads = 0;  // GQA: q-head j belongs to KV head j / (n_q_heads / n_kv_heads)
    int64_t head_dim = 0;
    int64_t n = 0;  // candidates per KV head
    // Candidate i of KV head h: keys + h * kv_head_stride + i * head_dim ([head_dim] floats).
    const float* keys = nullptr;
    const float* values = nullptr;
    int64_t kv_head_stride = 0;
    // For a policy whose reads_cache_rows() is true, a 16-bit cache may be given
    // as it is instead (keys and values null): candidate i of KV head h is the
    // [head_dim] row (h * cache_head_rows + i) of cache_keys / cache_values, of
    // type cache_type (F16 or BF16). Saves the pass a converted f32 copy.
    DType cache_type = DType::F32;
    const void* cache_keys = nullptr;
    const void* cache_values = nullptr;
    int64_t cache_head_rows = 0;
    // Absolute positions, ascending in i: positions[h * pos_head_stride + i].
    // A sink is a candidate with position < sinks.
    const int64_t* positions = nullptr;
    int64_t pos_head_stride = 0;
    // Query t of q-head j: queries + j * q_head_stride + t * head_dim, t < n_queries
    // (post-QK-norm, post-RoPE; the order of t is irrelevant). Only read when
    // needs_queries().
    const float* queries = nullptr;
    int64_t n_queries = 0;
    int64_t q_head_stride = 0;
    // Spec section 3's sums made while decoding (KvCache::window_scores), or
    // null: window_scores[h * window_score_stride + i] = sum over the
    // n_queries window queries and the group's query heads of their attention
    // to candidate i. The scorer then reads these instead of keys and queries.
    const float* window_scores = nullptr;
    int64_t window_score_stride = 0;
};

// Sizes a policy is built for; views must stay within them.
struct PolicyShape {
    int64_t n_layers = 0;
    int64_t n_kv_heads = 0;
    int64_t n_q_heads = 0;
    int64_t head_dim = 0;
    int64_t max_candidates = 0;
    int64_t max_queries = 0;
};

// Largest projection rank cur / cur_fixed accept (spec: 20).
inline constexpr int64_t kMaxCurRank = 256;
// Candidates cur converts from a 16-bit cache at a time (see LayerView::cache_keys).
inline constexpr int64_t kCurBlock = 32;

// Per-thread scratch, sized by make_policy() for max_candidates.
struct PolicyScratch {
    PolicyScratch(const PolicyShape& shape, bool with_attention);
    ~PolicyScratch();
    std::vector<double> magnitude;  // [max_candidates] value magnitude / first score
    std::vector<double> score;      // [max_candidates] attention (or other) score
    std::vector<double> key;        // [max_candidates] sampling keys, redundancy, ...
    std::vector<double> dims;       // [head_dim] redundancy key sum
    std::vector<float> proj;        // [2 * kCurRows * (kMaxCurRank + 8)] cur projections
    std::vector<float> rows;        // [2 * kCurBlock * head_dim] cur: 16-bit rows as f32
    std::vector<int64_t> order;     // [max_candidates] index permutation for top-k
    std::vector<uint8_t> taken;     // [max_candidates] 1 = already kept
    std::unique_ptr<AttentionScorer> attention;  // when the policy scores with queries
};

class EvictionPolicy {
  public:
    // Allocates one scratch per thread (n_threads >= 1), with the attention
    // scorer's buffers when `with_attention`.
    EvictionPolicy(const EvictionParams& params, const PolicyShape& shape, int n_threads,
                   bool with_attention);
    virtual ~EvictionPolicy();
    EvictionPolicy(const EvictionPolicy&) = delete;
    EvictionPolicy& operator=(const EvictionPolicy&) = delete;

    const EvictionParams& params() const { return params_; }
    const PolicyShape& shape() const { return shape_; }

    // false for `full` and `quest`: the cache is never shrunk, select() is never called.
    virtual bool evicts() const { return true; }
    // true when select() reads view.queries (the cache must keep the query window).
    virtual bool needs_queries() const { return false; }
    // false when select() reads no keys or values at all (positions and
    // random draws only: streaming, random); the pass then converts no rows.
    virtual bool reads_rows() const { return true; }
    // true when select() accepts a 16-bit cache as it is (LayerView::cache_keys).
    virtual bool reads_cache_rows() const { return false; }
    // false when select() reads keys only to score attention, so a view with
    // window_scores may come without keys.
    virtual bool reads_keys() const { return true; }
    // false when select() does not depend on the order of the candidates (it
    // reads positions for recency, sinks and ties, never the index order:
    // cur, cur_fixed, streaming). The cache may then refill dropped slots
    // with the rows after them instead of shifting every row down
    // (KvCache::compact_head_unordered): the spec lets slots be reordered,
    // since attention is a softmax over a set. Smoothing along i and draws
    // made in index order need the slots in position order.
    virtual bool needs_slot_order() const { return true; }
    // Candidates per (layer, KV head) a pass always keeps by rule: the sinks,
    // or the n_large largest values (which include the sinks where protected).
    virtual int64_t protected_slots() const { return 0; }
    // cur / cur_fixed only: use g ([head_dim, rank], row-major) as the
    // projection of `layer` instead of a random draw. Throws for other policies.
    virtual void set_projection(int64_t layer, const float* g, int64_t rank);

    // One pass over one layer: writes, for every KV head h, `keep` distinct
    // candidate indices in ascending order to kept[h * keep .. (h + 1) * keep).
    // Needs keep <= view.n and the view within shape(); throws vase::Error
    // otherwise. Never allocates. Runs KV heads in parallel on `pool` when
    // given (at most the n_threads make_policy was given). Random draws come
    // from one stream per (layer, KV head) derived from params.seed, so the
    // result does not depend on the order layers are visited or the threads.
    void select(const LayerView& view, int64_t keep, int64_t* kept, ThreadPool* pool = nullptr);

  protected:
    // Called once per select() before the heads (cur draws its projection here).
    virtual void begin_layer(const LayerView& view) {}
    // Writes `keep` distinct indices (any order) to kept[0..keep) for KV head `head`.
    virtual void select_head(const LayerView& view, int64_t head, int64_t keep, int64_t* kept,
                             PolicyScratch& scratch) = 0;

    Rng& rng(int64_t layer, int64_t head) { return rngs_[layer * shape_.n_kv_heads + head]; }

    EvictionParams params_;
    PolicyShape shape_;

  private:
    void check_view(const LayerView& view, int64_t keep) const;

    std::vector<Rng> rngs_;                                // [n_layers * n_kv_heads]
    std::vector<std::unique_ptr<PolicyScratch>> scratch_;  // one per thread
};

}  // namespace vase
