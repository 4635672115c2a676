#include "kv/cache.h"

#include <cassert>
#include <cstring>

#include "kv/scoring.h"
#include "ops/kernels.h"
#include "util/error.h"

namespace vase {

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
    if (shape.kv_type == DType::Q8_0) fail("KV cache type Q8_0 is not supported (use f32, f16 or bf16)");
    row_bytes_ = dtype_row_bytes(shape.kv_type, static_cast<uint64_t>(shape.head_dim));
    size_t slots = checked_mul(checked_mul(static_cast<size_t>(shape.n_layers),
                                           static_cast<size_t>(shape.n_kv_heads), "KV cache"),
                               static_cast<size_t>(shape.capacity), "KV cache");
    size_t bytes = checked_mul(slots, row_bytes_, "KV cache");
    keys_.assign(bytes, 0);
    values_.assign(bytes, 0);
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
    return keys_.size() + values_.size() +
           positions_.size() * sizeof(int64_t) + queries_.size() * sizeof(float) +
           (page_min_.size() + page_max_.size()) * sizeof(float);
}

void KvCache::write(int64_t layer, int64_t index, int64_t position, const float* k,
                    const float* v) {
    int64_t slot = size_ + index;
    assert(slot < shape_.capacity);
    for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
        const float* kh = k + h * shape_.head_dim;
        quantize_row(shape_.kv_type, kh, shape_.head_dim, keys_.data() + offset(layer, h, slot));
        quantize_row(shape_.kv_type, v + h * shape_.head_dim, shape_.head_dim,
                     values_.data() + offset(layer, h, slot));
        positions(layer, h)[slot] = position;
        if (pages_ > 0) {
            const int64_t at = (layer * shape_.n_kv_heads + h) * pages_ * shape_.head_dim;
            quest_add_token(kh, slot, shape_.head_dim, page_min_.data() + at, page_max_.data() + at);
        }
    }
}

void KvCache::keys_f32(int64_t layer, int64_t head, int64_t n, float* out) const {
    dequantize_row(shape_.kv_type, key_row(layer, head, 0), n * shape_.head_dim, out);
}

void KvCache::values_f32(int64_t layer, int64_t head, int64_t n, float* out) const {
    dequantize_row(shape_.kv_type, value_row(layer, head, 0), n * shape_.head_dim, out);
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
    for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
        compact_head(layer, h, kept + h * n_keep, n_keep, n_candidates);
    }
}

void KvCache::compact_head(int64_t layer, int64_t h, const int64_t* keep, int64_t n_keep,
                           int64_t n_candidates) {
    assert(pages_ == 0);  // Quest never shrinks the cache
    const size_t row = static_cast<size_t>(row_bytes_);
    int64_t* pos = positions(layer, h);
    uint8_t* kbase = keys_.data() + offset(layer, h, 0);
    uint8_t* vbase = values_.data() + offset(layer, h, 0);
    auto move = [&](int64_t src, int64_t dst) {
        std::memcpy(kbase + dst * row, kbase + src * row, row);
        std::memcpy(vbase + dst * row, vbase + src * row, row);
        pos[dst] = pos[src];
    };
    int64_t dst = 0;
    // Kept candidates move toward the front; indices ascend and dst <= src,
    // so a forward copy never overwrites a slot still to be read.
    for (int64_t i = 0; i < n_keep; ++i, ++dst) {
        int64_t src = keep[i];
        assert(src < n_candidates && (i == 0 || keep[i - 1] < src));
        if (src != dst) move(src, dst);
    }
    for (int64_t src = n_candidates; src < size_; ++src, ++dst) move(src, dst);
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
