// Runs a sequence's eviction policy at the moments the spec fixes (section 2)
// and applies its decisions to the cache; keeps the statistics of section 5.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kv/cache.h"
#include "kv/params.h"
#include "kv/policy.h"

namespace vase {

class ThreadPool;

struct CacheStats {
    std::string policy;
    int64_t budget = 0;
    int64_t window = 0;
    int64_t capacity = 0;          // slots per (layer, KV head), fixed at start
    uint64_t cache_bytes = 0;      // storage bytes of the cache, fixed at start
    int64_t eviction_passes = 0;
    int64_t tokens_evicted = 0;    // per (layer, KV head)
    int64_t peak_slots = 0;        // per (layer, KV head)
    int64_t final_slots = 0;
    int64_t protected_slots = 0;   // slots per (layer, KV head) a pass protects (sinks, large values)
    int64_t decode_steps = 0;
    double attended_fraction_sum = 0.0;  // sum over decode steps of attended / full-cache slots
    double evict_seconds = 0.0;          // time spent choosing and compacting
    // Layer passes that read the window attention summed while decoding
    // (instead of scoring the window again).
    int64_t layers_scored_while_decoding = 0;
    // Ranges (max - min) of the cached value vectors per layer at the end of a
    // sequence, as a histogram over kValueRangeEdges (docs/eval.md); empty
    // unless record_value_ranges() was called.
    std::vector<std::vector<int64_t>> value_range_hist;  // [n_layers][bins]

    double sparsity() const {
        return decode_steps == 0 ? 0.0 : 1.0 - attended_fraction_sum / static_cast<double>(decode_steps);
    }
    nlohmann::json to_json() const;
};

// Log-spaced histogram edges 2^(-6 + i/4), i = 0..64: 1/64 to 1024.
const std::vector<double>& value_range_edges();
// Fills stats.value_range_hist from every occupied slot of every layer and KV head.
void record_value_ranges(const KvCache& cache, CacheStats& stats);

// Slots a sequence needs: the whole sequence for `full` (and `quest`, which
// never shrinks the cache), else max(prompt, budget) + window -- never more
// than the sequence can fill.
int64_t cache_capacity(const EvictionParams& params, int64_t prompt_len, int64_t max_new_tokens);

// Makes a cache of `shape` sum each eviction's window attention while decoding
// (KvCache::begin_window_query) when the policy scores with attention, so
// that eviction passes need not score the window again.
void sum_window_attention(const EvictionParams& params, KvCacheShape& shape);

class Evictor {
public:
    // n_threads: the most threads a pass may use (the pool given to after_decode_step).
    Evictor(const EvictionParams& params, const KvCacheShape& shape, int n_threads);

    bool evicts() const { return policy_->evicts(); }
    const EvictionParams& params() const { return params_; }

    // After a decode step was committed: records sparsity, and runs one pass
    // over every layer if the cache holds n > budget tokens and n % window == 0.
    void after_decode_step(KvCache& cache, int64_t sequence_length, ThreadPool* pool);
    void after_prefill(const KvCache& cache);

    const CacheStats& stats() const { return stats_; }

private:
    void run_pass(KvCache& cache, ThreadPool* pool);

    EvictionParams params_;
    std::unique_ptr<EvictionPolicy> policy_;
    std::vector<int64_t> kept_;  // [n_kv_heads, budget - window]
    // One layer's candidates as f32 when the cache stores 16-bit values:
    // [n_kv_heads, capacity - window, head_dim] each (empty for F32 caches).
    std::vector<float> keys_f32_;
    std::vector<float> values_f32_;
    CacheStats stats_;
};

}  // namespace vase
