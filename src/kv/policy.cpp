#include "kv/policy.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#include "kv/scoring.h"
#include "ops/thread_pool.h"
#include "util/error.h"

namespace vase {

PolicyScratch::PolicyScratch(const PolicyShape& shape, bool with_attention) {
    const auto n = static_cast<size_t>(std::max<int64_t>(shape.max_candidates, 1));
    magnitude.resize(n);
    score.resize(n);
    key.resize(n);
    dims.resize(static_cast<size_t>(std::max<int64_t>(shape.head_dim, 1)));
    proj.resize(2 * kCurRows * (kMaxCurRank + 8));
    rows.resize(static_cast<size_t>(2 * kCurBlock * std::max<int64_t>(shape.head_dim, 1)));
    order.resize(n);
    taken.resize(n);
    if (with_attention) {
        attention = std::make_unique<AttentionScorer>(shape.head_dim, shape.max_candidates,
                                                      shape.max_queries);
    }
}

PolicyScratch::~PolicyScratch() = default;

EvictionPolicy::EvictionPolicy(const EvictionParams& params, const PolicyShape& shape,
                               int n_threads, bool with_attention)
    : params_(params), shape_(shape) {
    if (shape.n_layers < 0 || shape.n_kv_heads < 1 || shape.n_q_heads < shape.n_kv_heads ||
        shape.n_q_heads % shape.n_kv_heads != 0 || shape.head_dim < 1 || shape.max_candidates < 0 ||
        shape.max_queries < 0) {
        fail(
            "eviction policy '{}': invalid shape ({} layers, {} KV heads, {} query heads, "
            "head_dim {}, {} candidates, {} queries)",
            params.policy, shape.n_layers, shape.n_kv_heads, shape.n_q_heads, shape.head_dim,
            shape.max_candidates, shape.max_queries);
    }
    if (with_attention && shape.max_queries < 1) {
        fail("eviction policy '{}' scores with queries but the cache keeps none (query window 0)",
             params.policy);
    }
    rngs_.reserve(static_cast<size_t>(shape.n_layers * shape.n_kv_heads));
    for (int64_t i = 0; i < shape.n_layers * shape.n_kv_heads; ++i) {
        rngs_.push_back(Rng::derive(params.seed, static_cast<uint64_t>(i)));
    }
    for (int t = 0; t < std::max(n_threads, 1); ++t) {
        scratch_.push_back(std::make_unique<PolicyScratch>(shape, with_attention));
    }
}

EvictionPolicy::~EvictionPolicy() = default;

void EvictionPolicy::set_projection(int64_t layer, const float* g, int64_t rank) {
    fail("eviction policy '{}' takes no projection (only cur and cur_fixed do)", params_.policy);
}

void EvictionPolicy::check_view(const LayerView& v, int64_t keep) const {
    if (v.layer < 0 || v.layer >= shape_.n_layers || v.n_kv_heads != shape_.n_kv_heads ||
        v.n_q_heads != shape_.n_q_heads || v.head_dim != shape_.head_dim || v.n < 0 ||
        v.n > shape_.max_candidates) {
        fail(
            "eviction policy '{}': layer view (layer {}, {} KV heads, {} query heads, head_dim "
            "{}, {} candidates) does not fit the policy's shape ({} layers, {}, {}, {}, at most "
            "{})",
            params_.policy, v.layer, v.n_kv_heads, v.n_q_heads, v.head_dim, v.n, shape_.n_layers,
            shape_.n_kv_heads, shape_.n_q_heads, shape_.head_dim, shape_.max_candidates);
    }
    const bool keys_given = v.keys != nullptr || (!reads_keys() && v.window_scores != nullptr);
    const bool f32_rows = keys_given && v.values != nullptr;
    const bool cache_rows = reads_cache_rows() && v.keys == nullptr && v.values == nullptr &&
                            v.cache_keys != nullptr && v.cache_values != nullptr &&
                            (v.cache_type == DType::F16 || v.cache_type == DType::BF16) &&
                            v.cache_head_rows >= v.n;
    if (v.n > 0 && reads_rows() && !f32_rows && !cache_rows) {
        fail("eviction policy '{}': layer view without f32 keys and values{}", params_.policy,
             reads_cache_rows() ? " or 16-bit cache rows" : "");
    }
    if (keep < 0 || keep > v.n) {
        fail("eviction policy '{}': cannot keep {} of {} candidates", params_.policy, keep, v.n);
    }
    const int64_t n_large = params_.resolved_n_large();
    if (policy_uses_n_large(params_.policy) && n_large > keep) {
        fail("eviction policy '{}': n_large ({}) must be at most the {} candidates kept",
             params_.policy, n_large, keep);
    }
    if (policy_protects_sinks_in_large(params_.policy) && params_.sinks > n_large) {
        fail("eviction policy '{}': sinks ({}) must be at most n_large ({})", params_.policy,
             params_.sinks, n_large);
    }
    if (policy_keeps_sinks(params_.policy) && params_.sinks > keep) {
        fail("eviction policy '{}': sinks ({}) must be at most the {} candidates kept",
             params_.policy, params_.sinks, keep);
    }
    if (needs_queries() && (v.n_queries < 1 || v.n_queries > shape_.max_queries)) {
        fail("eviction policy '{}': needs between 1 and {} buffered queries, got {}",
             params_.policy, shape_.max_queries, v.n_queries);
    }
}

void EvictionPolicy::select(const LayerView& view, int64_t keep, int64_t* kept, ThreadPool* pool) {
    check_view(view, keep);
    begin_layer(view);
    // Returns the number of distinct indices the policy chose (keep unless we have a bug).
    auto run_head = [&](int64_t h, PolicyScratch& s) -> int64_t {
        int64_t* out = kept + h * keep;
        select_head(view, h, keep, out, s);
        // Ascending order without sorting: mark, then scan (O(n)).
        std::fill(s.taken.begin(), s.taken.begin() + view.n, uint8_t{0});
        for (int64_t i = 0; i < keep; ++i) s.taken[out[i]] = 1;
        int64_t w = 0;
        for (int64_t i = 0; i < view.n; ++i) {
            if (s.taken[i]) out[w++] = i;
        }
        return w;
    };
    const int n_workers = static_cast<int>(scratch_.size());
    int64_t bad_head = -1;
    int64_t bad_count = 0;
    if (pool == nullptr || pool->size() == 1 || n_workers == 1) {
        for (int64_t h = 0; h < view.n_kv_heads && bad_head < 0; ++h) {
            const int64_t w = run_head(h, *scratch_[0]);
            if (w != keep) bad_head = h, bad_count = w;
        }
    } else {
        // Exceptions must not leave a worker thread: remember the first, rethrow here.
        std::exception_ptr error;
        std::atomic<int64_t> first_bad{-1};
        std::atomic<int64_t> first_count{0};
        std::mutex error_mutex;
        pool->run([&](int index, int count) {
            const int workers = std::min(count, n_workers);
            if (index >= workers) return;
            try {
                for (int64_t h = index; h < view.n_kv_heads; h += workers) {
                    const int64_t w = run_head(h, *scratch_[index]);
                    int64_t none = -1;
                    if (w != keep && first_bad.compare_exchange_strong(none, h)) first_count = w;
                }
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        });
        if (error) std::rethrow_exception(error);
        bad_head = first_bad;
        bad_count = first_count;
    }
    // A policy returning duplicates is our bug, not the user's; say so loudly.
    if (bad_head >= 0) {
        fail("eviction policy '{}' chose {} distinct candidates instead of {} (KV head {})",
             params_.policy, bad_count, keep, bad_head);
    }
}

}  // namespace vase
