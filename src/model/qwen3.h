// The Qwen3 dense decoder: weights resolved from a Checkpoint, a plain scalar
// reference forward pass (llama2.c style), and the threaded fast path used by
// the engine, which reads and writes per-sequence KV caches.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/cache.h"
#include "model/checkpoint.h"
#include "ops/thread_pool.h"

namespace vase {

// A weight matrix used in place: [rows, cols] of dtype, row-major.
struct Matrix {
    DType dtype = DType::F32;
    const void* data = nullptr;
    int64_t rows = 0;
    int64_t cols = 0;
};

struct LayerWeights {
    Matrix q, k, v, o;        // q: [n_heads*head_dim, hidden], k/v: [n_kv*head_dim, hidden], o: [hidden, n_heads*head_dim]
    Matrix gate, up, down;    // gate/up: [intermediate, hidden], down: [hidden, intermediate]
    std::vector<float> attn_norm, ffn_norm;  // [hidden]
    std::vector<float> q_norm, k_norm;       // [head_dim]
};

struct Qwen3Weights {
    ModelConfig config;
    Matrix embed;    // [vocab, hidden]
    Matrix lm_head;  // [vocab, hidden] (the embedding when tied)
    std::vector<float> final_norm;  // [hidden]
    std::vector<LayerWeights> layers;
    std::vector<float> inv_freq;    // [head_dim / 2] RoPE frequencies

    // Checks every tensor's presence and shape; throws vase::Error naming the file.
    explicit Qwen3Weights(const Checkpoint& checkpoint);
};

// The readable definition: one token at a time, its own growing cache,
// scalar loops. The fast path is tested against it (and it against numpy).
class ReferenceQwen3 {
public:
    explicit ReferenceQwen3(const Qwen3Weights& weights);
    // Logits [vocab] of `token` at position `pos` (positions must be 0, 1, 2, ...).
    std::vector<float> forward(int32_t token, int64_t pos);

private:
    const Qwen3Weights& w_;
    std::vector<std::vector<float>> key_cache_;    // [layer] -> [pos, n_kv_heads, head_dim]
    std::vector<std::vector<float>> value_cache_;  // [layer] -> [pos, n_kv_heads, head_dim]
};

// One row of a forward batch: a token of some sequence.
struct ForwardRow {
    KvCache* cache = nullptr;  // the sequence's cache; rows of one cache are consecutive
    int64_t position = 0;      // absolute position of the token in its sequence
    bool want_logits = false;
    // Quest selection budget (tokens per query head); 0 = attend to every slot.
    // Applies to decode rows (one row of its sequence) in layers >= 2.
    int64_t select_budget = 0;
};

// The fast path. Owns every buffer it needs, sized at construction, so a
// forward() call does not allocate.
class Qwen3Forward {
public:
    // max_rows: most rows in one forward() call; max_slots: largest cache capacity.
    Qwen3Forward(const Qwen3Weights& weights, int64_t max_rows, int64_t max_slots, int n_threads);

    // Runs the rows through the model. Each row's K/V is appended to its cache
    // (committed at the end); attention of a row covers its cache's slots and
    // the earlier rows of the same sequence. Returns logits
    // [rows with want_logits, vocab] in row order (valid until the next call).
    const float* forward(ThreadPool& pool, const int32_t* tokens, const ForwardRow* rows,
                         int64_t n_rows);

    int64_t max_rows() const { return max_rows_; }
    const Qwen3Weights& weights() const { return w_; }

private:
    void attention(ThreadPool& pool, int64_t layer, const ForwardRow* rows, int64_t n_rows);
    bool selects(const ForwardRow* rows, int64_t n_rows, int64_t r, int64_t layer) const;

    const Qwen3Weights& w_;
    int64_t max_rows_;
    int64_t max_slots_;
    std::vector<float> x_;       // [max_rows, hidden] residual stream
    std::vector<float> xb_;      // [max_rows, hidden] normed input
    std::vector<float> q_;       // [max_rows, n_heads * head_dim]
    std::vector<float> k_;       // [max_rows, n_kv_heads * head_dim]
    std::vector<float> v_;       // [max_rows, n_kv_heads * head_dim]
    std::vector<float> att_;     // [max_rows, n_heads * head_dim]
    std::vector<float> gate_;    // [max_rows, intermediate]
    std::vector<float> up_;      // [max_rows, intermediate]
    // Per thread: max(group x max_slots scores of a decode row, a prefill block's scratch).
    std::vector<float> scores_;
    int64_t max_pages_ = 0;
    std::vector<double> page_bound_;      // [n_threads, max_pages] Quest scratch
    std::vector<int64_t> page_order_;     // [n_threads, max_pages]
    std::vector<int64_t> pages_;          // [n_threads, max_pages]
    std::vector<double> attended_;        // [n_threads, max_rows] attended slots (Quest)
    std::vector<float> kv_row_;           // [n_threads, head_dim] one cached row as f32 (Quest)
    std::vector<int64_t> index_; // [max_rows] index of the row within its sequence's step
    std::vector<int64_t> window_candidates_;  // [max_rows] KvCache::begin_window_query's C (0 = none)
    std::vector<float> logits_;  // [max_rows, vocab]
};

}  // namespace vase
