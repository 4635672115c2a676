// The KV cache of one sequence, in three parts (STYLE.md):
//   1. storage, allocated once at a fixed capacity;
//   2. slot metadata (positions), parallel to the storage;
//   3. the policy (src/kv/policy.h) decides which slots to keep; only this
//      class applies the decision (compaction).
// Keys are stored after QK-norm and RoPE, so a slot's position is baked into
// its key and slots can be moved freely. Tokens are appended in position
// order, so the recent window is always the tail. compact_head keeps every
// (layer, KV head) in ascending position order; compact_head_unordered, for
// policies that read positions rather than the slot order, only moves rows
// into the slots of dropped candidates.
#pragma once

#include <cassert>
#include <cstdint>
#include <vector>

#include "ops/dtype.h"

namespace vase {

struct KvCacheShape {
    int64_t n_layers = 0;
    int64_t n_kv_heads = 0;
    int64_t n_q_heads = 0;
    int64_t head_dim = 0;
    int64_t capacity = 0;      // slots per (layer, KV head)
    int64_t query_window = 0;  // queries kept per (layer, query head); 0 = none
    bool page_bounds = false;  // keep Quest's per-page min/max keys (selection mode)
    DType kv_type = DType::F32;  // element type of stored keys and values: F32, F16 or BF16
    // Sum the attention of each eviction's query window while decoding (spec
    // section 3; begin_window_query): the evictions' budget, window and
    // temperature. score_window 0 = off.
    int64_t score_budget = 0;
    int64_t score_window = 0;
    float score_temperature = 1.0f;
};

class KvCache {
public:
    explicit KvCache(const KvCacheShape& shape);

    const KvCacheShape& shape() const { return shape_; }
    // Tokens held per (layer, KV head) after the last commit().
    int64_t size() const { return size_; }
    int64_t capacity() const { return shape_.capacity; }
    uint64_t bytes() const;  // storage bytes (keys, values, positions, queries)

    DType kv_type() const { return shape_.kv_type; }
    // Bytes of one stored key or value row ([head_dim] of kv_type).
    uint64_t row_bytes() const { return row_bytes_; }

    // Slot `slot` of (layer, head): [head_dim] of kv_type.
    const void* key_row(int64_t layer, int64_t head, int64_t slot) const {
        return keys_.data() + offset(layer, head, slot);
    }
    const void* value_row(int64_t layer, int64_t head, int64_t slot) const {
        return values_.data() + offset(layer, head, slot);
    }
    // The same as f32 (a view for F32 caches; tests and tools).
    const float* key(int64_t layer, int64_t head, int64_t slot) const {
        assert(shape_.kv_type == DType::F32);
        return static_cast<const float*>(key_row(layer, head, slot));
    }
    const float* value(int64_t layer, int64_t head, int64_t slot) const {
        assert(shape_.kv_type == DType::F32);
        return static_cast<const float*>(value_row(layer, head, slot));
    }
    // Converts slots [0, n) of (layer, head) to f32: out [n, head_dim].
    void keys_f32(int64_t layer, int64_t head, int64_t n, float* out) const;
    void values_f32(int64_t layer, int64_t head, int64_t n, float* out) const;
    int64_t* positions(int64_t layer, int64_t head) {
        return positions_.data() + (layer * shape_.n_kv_heads + head) * shape_.capacity;
    }
    const int64_t* positions(int64_t layer, int64_t head) const {
        return positions_.data() + (layer * shape_.n_kv_heads + head) * shape_.capacity;
    }
    // Elements between the rows of consecutive KV heads.
    int64_t head_stride() const { return shape_.capacity * shape_.head_dim; }

    // Writes token `index` of the step being computed (slot size() + index) for
    // every KV head of `layer`. k, v: [n_kv_heads, head_dim].
    void write(int64_t layer, int64_t index, int64_t position, const float* k, const float* v);
    // Makes the step's n tokens part of the cache.
    void commit(int64_t n);

    // Query ring buffer (spec section 3): q: [n_q_heads, head_dim].
    void push_query(int64_t layer, const float* q);
    // Query t (t < n_queries()) of (layer, q_head); order is irrelevant.
    const float* queries(int64_t layer) const {
        return queries_.data() + layer * shape_.n_q_heads * shape_.query_window * shape_.head_dim;
    }
    int64_t n_queries(int64_t layer) const { return n_queries_[layer]; }
    int64_t query_head_stride() const { return shape_.query_window * shape_.head_dim; }

    // Window attention summed while decoding (shape.score_window > 0). For each
    // token a step writes, before the step attends: returns the number of
    // candidates C of the eviction whose window holds `slot` (the eviction that
    // runs when the cache reaches the next multiple of the window above the
    // budget; candidates are slots [0, C)), and the caller must then add the
    // query's attention to window_scores(layer, h) for every KV head h (see
    // accumulate_window_attention). Returns 0 when no eviction will read this
    // query, or when `summed` is false (a step that will not add it, such as a
    // prefill block): that window's sums are then incomplete and never used.
    int64_t begin_window_query(int64_t layer, int64_t slot, bool summed);
    float* window_scores(int64_t layer, int64_t head) {
        return window_sums_.data() + (layer * shape_.n_kv_heads + head) * shape_.capacity;
    }
    // For an eviction of `layer` over n_candidates: the sums (row h of
    // window_score_stride() floats for KV head h) when every query in the
    // ring was summed against exactly these candidates; otherwise null.
    const float* complete_window_scores(int64_t layer, int64_t n_candidates) const;
    int64_t window_score_stride() const { return shape_.capacity; }

    // Keeps, for every KV head of `layer`, the candidate slots `kept`
    // ([n_kv_heads][n_keep], ascending, each < n_candidates) followed by the
    // slots [n_candidates, size()) (the recent window), in order.
    void compact_layer(int64_t layer, const int64_t* kept, int64_t n_keep, int64_t n_candidates);
    // The same for one KV head (keep: [n_keep]); heads may be compacted in parallel.
    void compact_head(int64_t layer, int64_t head, const int64_t* keep, int64_t n_keep,
                      int64_t n_candidates);
    // The same set in other slots: slots [0, n_keep + size() - n_candidates)
    // end up holding the kept candidates and the window, each row that lies
    // past that range moved into the slot of a dropped candidate (the order
    // of positions is lost). At budget B and window W a pass moves about W
    // rows instead of shifting every row after the first dropped one.
    void compact_head_unordered(int64_t layer, int64_t head, const int64_t* keep, int64_t n_keep,
                                int64_t n_candidates);
    // After every layer was compacted to the same size.
    void set_size(int64_t n);

    void clear();
    // Forgets the window sums (after an eviction or any change of the slots).
    void reset_window_scores();

    // Quest (spec section 6): per page of kQuestPageSize slots and dimension,
    // the min and max key. [pages, head_dim] each, for (layer, head).
    const float* page_min(int64_t layer, int64_t head) const {
        return page_min_.data() + (layer * shape_.n_kv_heads + head) * pages_ * shape_.head_dim;
    }
    const float* page_max(int64_t layer, int64_t head) const {
        return page_max_.data() + (layer * shape_.n_kv_heads + head) * pages_ * shape_.head_dim;
    }

    // Fraction of the slots a full cache would hold that the last decode step
    // attended to, averaged over layers and query heads (set by the forward
    // pass when it attends to fewer slots than it holds; < 0 = all of them).
    double attended_fraction() const { return attended_fraction_; }
    void set_attended_fraction(double f) { attended_fraction_ = f; }

private:
    uint64_t offset(int64_t layer, int64_t head, int64_t slot) const {
        return static_cast<uint64_t>((layer * shape_.n_kv_heads + head) * shape_.capacity + slot) *
               row_bytes_;
    }

    KvCacheShape shape_;
    int64_t size_ = 0;
    uint64_t row_bytes_ = 0;
    std::vector<uint8_t> keys_;      // [n_layers, n_kv_heads, capacity, head_dim] of kv_type
    std::vector<uint8_t> values_;    // [n_layers, n_kv_heads, capacity, head_dim] of kv_type
    std::vector<int64_t> positions_; // [n_layers, n_kv_heads, capacity]
    std::vector<float> queries_;     // [n_layers, n_q_heads, query_window, head_dim]
    std::vector<int64_t> query_next_;  // [n_layers] ring write index
    std::vector<int64_t> n_queries_;   // [n_layers] valid queries
    std::vector<float> window_sums_;   // [n_layers, n_kv_heads, capacity] when score_window > 0
    std::vector<int64_t> window_candidates_;  // [n_layers] C being summed for (0 = none)
    std::vector<int64_t> window_summed_;      // [n_layers] queries summed for it
    std::vector<uint8_t> window_incomplete_;  // [n_layers] 1 = a query of it was not summed
    int64_t pages_ = 0;
    std::vector<float> page_min_;    // [n_layers, n_kv_heads, pages, head_dim]
    std::vector<float> page_max_;    // [n_layers, n_kv_heads, pages, head_dim]
    double attended_fraction_ = -1.0;
};

}  // namespace vase
