#include "kv/cache.h"

#include <cassert>
#include <cstring>

#include "kv/scoring.h"
#include "util/error.h"

namespace vase {

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
    size_t slots = checked_mul(checked_mul(static_cast<size_t>(shape.n_layers),
                                           static_cast<size_t>(shape.n_kv_heads), "KV cache"),
                               static_cast<size_t>(shape.capacity), "KV cache");
    size_t floats = checked_mul(slots, static_cast<size_t>(shape.head_dim), "KV cache");
    keys_.assign(floats, 0.0f);
    values_.assign(floats, 0.0f);
    positions_.assign(slots, -1);
    queries_.assign(static_cast<size_t>(shape.n_layers * shape.n_q_heads * shape.query_window *
                                        shape.head_dim),
                    0.0f);
    query_next_.assign(static_cast<size_t>(shape.n_layers), 0);
    n_queries_.assign(static_cast<size_t>(shape.n_layers), 0);
    if (shape.page_bounds) {
        pages_ = quest_pages(shape.capacity);
        page_min_.assign(static_cast<size_t>(shape.n_layers * shape.n_kv_heads * pages_ * shape.head_dim), 0.0f);
        page_max_.assign(page_min_.size(), 0.0f);
    }
}

uint64_t KvCache::bytes() const {
    return keys_.size() * sizeof(float) + values_.size() * sizeof(float) +
           positions_.size() * sizeof(int64_t) + queries_.size() * sizeof(float) +
           (page_min_.size() + page_max_.size()) * sizeof(float);
}

void KvCache::write(int64_t layer, int64_t index, int64_t position, const float* k,
                    const float* v) {
    int64_t slot = size_ + index;
    assert(slot < shape_.capacity);
    const size_t row = static_cast<size_t>(shape_.head_dim) * sizeof(float);
    for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
        std::memcpy(key(layer, h, slot), k + h * shape_.head_dim, row);
        std::memcpy(value(layer, h, slot), v + h * shape_.head_dim, row);
        positions(layer, h)[slot] = position;
        if (pages_ > 0) {
            const int64_t at = (layer * shape_.n_kv_heads + h) * pages_ * shape_.head_dim;
            quest_add_token(k + h * shape_.head_dim, slot, shape_.head_dim, page_min_.data() + at,
                            page_max_.data() + at);
        }
    }
}

void KvCache::commit(int64_t n) {
    assert(size_ + n <= shape_.capacity);
    size_ += n;
}

void KvCache::push_query(int64_t layer, const float* q) {
    if (shape_.query_window == 0) return;
    int64_t t = query_next_[layer];
    float* base = queries_.data() + layer * shape_.n_q_heads * shape_.query_window * shape_.head_dim;
    for (int64_t j = 0; j < shape_.n_q_heads; ++j) {
        std::memcpy(base + (j * shape_.query_window + t) * shape_.head_dim, q + j * shape_.head_dim,
                    static_cast<size_t>(shape_.head_dim) * sizeof(float));
    }
    query_next_[layer] = (t + 1) % shape_.query_window;
    if (n_queries_[layer] < shape_.query_window) ++n_queries_[layer];
}

void KvCache::compact_layer(int64_t layer, const int64_t* kept, int64_t n_keep,
                            int64_t n_candidates) {
    assert(pages_ == 0);  // Quest never shrinks the cache
    const size_t row = static_cast<size_t>(shape_.head_dim) * sizeof(float);
    for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
        const int64_t* keep = kept + h * n_keep;
        int64_t* pos = positions(layer, h);
        int64_t dst = 0;
        // Kept candidates move toward the front; indices ascend and dst <= src,
        // so a forward copy never overwrites a slot still to be read.
        for (int64_t i = 0; i < n_keep; ++i, ++dst) {
            int64_t src = keep[i];
            assert(src < n_candidates && (i == 0 || keep[i - 1] < src));
            if (src == dst) continue;
            std::memcpy(key(layer, h, dst), key(layer, h, src), row);
            std::memcpy(value(layer, h, dst), value(layer, h, src), row);
            pos[dst] = pos[src];
        }
        for (int64_t src = n_candidates; src < size_; ++src, ++dst) {
            std::memcpy(key(layer, h, dst), key(layer, h, src), row);
            std::memcpy(value(layer, h, dst), value(layer, h, src), row);
            pos[dst] = pos[src];
        }
    }
}

void KvCache::set_size(int64_t n) {
    assert(n <= size_);
    size_ = n;
}

void KvCache::clear() {
    size_ = 0;
    std::fill(query_next_.begin(), query_next_.end(), 0);
    std::fill(n_queries_.begin(), n_queries_.end(), 0);
}

}  // namespace vase
