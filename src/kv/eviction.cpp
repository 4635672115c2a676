#include "kv/eviction.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "kv/registry.h"
#include "ops/thread_pool.h"

namespace vase {

nlohmann::json CacheStats::to_json() const {
    nlohmann::json j{{"policy", policy},
                          {"budget", budget},
                          {"window", window},
                          {"capacity", capacity},
                          {"cache_bytes", cache_bytes},
                          {"eviction_passes", eviction_passes},
                          {"tokens_evicted", tokens_evicted},
                          {"peak_slots", peak_slots},
                          {"final_slots", final_slots},
                          {"protected_slots", protected_slots},
                          {"decode_steps", decode_steps},
                          {"sparsity", sparsity()},
                          {"evict_seconds", evict_seconds},
                          {"layers_scored_while_decoding", layers_scored_while_decoding}};
    if (!value_range_hist.empty()) {
        j["value_range_hist"] = {{"edges", value_range_edges()}, {"layers", value_range_hist}};
    }
    return j;
}

const std::vector<double>& value_range_edges() {
    static const std::vector<double> edges = [] {
        std::vector<double> e;
        for (int i = 0; i <= 64; ++i) e.push_back(std::exp2(-6.0 + i / 4.0));
        return e;
    }();
    return edges;
}

void record_value_ranges(const KvCache& cache, CacheStats& stats) {
    const KvCacheShape& s = cache.shape();
    const std::vector<double>& edges = value_range_edges();
    const int64_t bins = static_cast<int64_t>(edges.size()) - 1;
    stats.value_range_hist.assign(static_cast<size_t>(s.n_layers), std::vector<int64_t>(bins, 0));
    std::vector<float> values(static_cast<size_t>(cache.size() * s.head_dim));
    for (int64_t l = 0; l < s.n_layers; ++l) {
        for (int64_t h = 0; h < s.n_kv_heads; ++h) {
            cache.values_f32(l, h, cache.size(), values.data());
            for (int64_t i = 0; i < cache.size(); ++i) {
                const float* v = &values[static_cast<size_t>(i * s.head_dim)];
                const double r = *std::max_element(v, v + s.head_dim) - *std::min_element(v, v + s.head_dim);
                // Bin i holds edges[i] <= r < edges[i + 1]; out-of-range values clamp.
                int64_t bin = static_cast<int64_t>(std::floor((std::log2(std::max(r, 1e-30)) + 6.0) * 4.0));
                bin = std::clamp<int64_t>(bin, 0, bins - 1);
                stats.value_range_hist[static_cast<size_t>(l)][static_cast<size_t>(bin)] += 1;
            }
        }
    }
}

int64_t cache_capacity(const EvictionParams& params, int64_t prompt_len, int64_t max_new_tokens) {
    const int64_t whole = prompt_len + max_new_tokens;
    if (params.policy == "full" || params.policy == "quest") return std::max<int64_t>(1, whole);
    return std::max<int64_t>(1, std::min(whole, std::max(prompt_len, params.budget) + params.window));
}

void sum_window_attention(const EvictionParams& params, KvCacheShape& shape) {
    if (!policy_uses_attention(params.policy) || params.window <= 0) return;
    shape.score_budget = params.budget;
    shape.score_window = params.window;
    shape.score_temperature = params.temperature;
}

Evictor::Evictor(const EvictionParams& params, const KvCacheShape& shape, int n_threads)
    : params_(params) {
    params_.validate();
    policy_ = make_policy(params_, shape.n_layers, shape.n_kv_heads, shape.head_dim,
                          std::max<int64_t>(1, shape.capacity - params_.window), shape.n_q_heads,
                          std::max<int64_t>(1, shape.query_window), n_threads);
    if (policy_->evicts()) {
        kept_.resize(static_cast<size_t>(shape.n_kv_heads *
                                          std::max<int64_t>(0, params_.budget - params_.window)));
        // An f32 copy only for policies that score f32 rows of a 16-bit cache.
        if (shape.kv_type != DType::F32 && policy_->reads_rows() && !policy_->reads_cache_rows()) {
            const int64_t candidates = std::max<int64_t>(0, shape.capacity - params_.window);
            keys_f32_.resize(static_cast<size_t>(shape.n_kv_heads * candidates * shape.head_dim));
            values_f32_.resize(keys_f32_.size());
        }
    }
    stats_.policy = params_.policy;
    stats_.budget = policy_->evicts() ? params_.budget : 0;
    stats_.window = params_.window;
    stats_.capacity = shape.capacity;
    stats_.protected_slots = policy_->protected_slots();
}

void Evictor::after_prefill(const KvCache& cache) {
    stats_.cache_bytes = cache.bytes();
    stats_.peak_slots = std::max(stats_.peak_slots, cache.size());
    stats_.final_slots = cache.size();
}

void Evictor::after_decode_step(KvCache& cache, int64_t sequence_length, ThreadPool* pool) {
    // The step attended to every slot it had (its own included).
    stats_.decode_steps += 1;
    const double attended = cache.attended_fraction() >= 0.0
                                ? cache.attended_fraction()
                                : static_cast<double>(cache.size()) /
                                      static_cast<double>(std::max<int64_t>(1, sequence_length));
    stats_.attended_fraction_sum += attended;
    stats_.peak_slots = std::max(stats_.peak_slots, cache.size());
    const int64_t n = cache.size();
    if (policy_->evicts() && n > params_.budget && n % params_.window == 0) run_pass(cache, pool);
    stats_.final_slots = cache.size();
}

namespace {

// fn(h) for every KV head, spread over the pool's threads (fn must not throw).
template <typename Fn>
void for_heads(ThreadPool* pool, int64_t n_heads, const Fn& fn) {
    if (pool == nullptr || pool->size() == 1) {
        for (int64_t h = 0; h < n_heads; ++h) fn(h);
        return;
    }
    pool->run([&](int index, int count) {
        for (int64_t h = index; h < n_heads; h += count) fn(h);
    });
}

}  // namespace

void Evictor::run_pass(KvCache& cache, ThreadPool* pool) {
    auto t0 = std::chrono::steady_clock::now();
    const KvCacheShape& s = cache.shape();
    const int64_t n = cache.size();
    const int64_t n_candidates = n - params_.window;
    const int64_t keep = params_.budget - params_.window;
    for (int64_t layer = 0; layer < s.n_layers; ++layer) {
        LayerView view;
        view.layer = layer;
        view.n_kv_heads = s.n_kv_heads;
        view.n_q_heads = s.n_q_heads;
        view.head_dim = s.head_dim;
        view.n = n_candidates;
        // Attention summed while decoding spares the pass the window's scoring
        // and, for policies that read keys only for it, the keys' conversion.
        const float* sums =
            policy_->needs_queries() ? cache.complete_window_scores(layer, n_candidates) : nullptr;
        const bool keys_needed = policy_->reads_keys() || (policy_->needs_queries() && !sums);
        if (sums != nullptr) {
            view.window_scores = sums;
            view.window_score_stride = cache.window_score_stride();
            stats_.layers_scored_while_decoding += 1;
        }
        if (!policy_->reads_rows()) {
            // Positions and random draws only: no rows to give.
        } else if (cache.kv_type() == DType::F32) {
            view.keys = cache.key(layer, 0, 0);
            view.values = cache.value(layer, 0, 0);
            view.kv_head_stride = cache.head_stride();
        } else if (policy_->reads_cache_rows()) {
            view.cache_type = cache.kv_type();
            view.cache_keys = cache.key_row(layer, 0, 0);
            view.cache_values = cache.value_row(layer, 0, 0);
            view.cache_head_rows = s.capacity;
        } else {
            // Policies score in f32: convert this layer's candidates once.
            for_heads(pool, s.n_kv_heads, [&](int64_t h) {
                const int64_t at = h * n_candidates * s.head_dim;
                if (keys_needed) cache.keys_f32(layer, h, n_candidates, keys_f32_.data() + at);
                cache.values_f32(layer, h, n_candidates, values_f32_.data() + at);
            });
            view.keys = keys_needed ? keys_f32_.data() : nullptr;
            view.values = values_f32_.data();
            view.kv_head_stride = n_candidates * s.head_dim;
        }
        view.positions = cache.positions(layer, 0);
        view.pos_head_stride = s.capacity;
        view.queries = cache.queries(layer);
        view.n_queries = cache.n_queries(layer);
        view.q_head_stride = cache.query_head_stride();
        policy_->select(view, keep, kept_.data(), pool);
        const bool ordered = policy_->needs_slot_order();
        for_heads(pool, s.n_kv_heads, [&](int64_t h) {
            if (ordered) {
                cache.compact_head(layer, h, kept_.data() + h * keep, keep, n_candidates);
            } else {
                cache.compact_head_unordered(layer, h, kept_.data() + h * keep, keep, n_candidates);
            }
        });
    }
    cache.set_size(params_.budget);
    stats_.eviction_passes += 1;
    stats_.tokens_evicted += n - params_.budget;
    stats_.evict_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace vase
