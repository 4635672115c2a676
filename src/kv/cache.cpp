#include "kv/cache.h"

#include <algorithm>
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
    if (shape.score_window > 0) {
        if (shape.score_budget <= 0 || shape.score_budget % shape.score_window != 0) {
            fail("KV cache: window scoring needs a budget ({}) that is a positive multiple of the "
                 "window ({})",
                 shape.score_budget, shape.score_window);
        }
        window_sums_.assign(slots, 0.0f);
        window_candidates_.assign(static_cast<size_t>(shape.n_layers), 0);
        window_summed_.assign(static_cast<size_t>(shape.n_layers), 0);
        window_incomplete_.assign(static_cast<size_t>(shape.n_layers), 0);
    }
    if (shape.page_bounds) {
        pages_ = quest_pages(shape.capacity);
        page_min_.assign(static_cast<size_t>(shape.n_layers * shape.n_kv_heads * pages_ * shape.head_dim), 0.0f);
        page_max_.assign(page_min_.size(), 0.0f);
    }
}

uint64_t KvCache::bytes() const {
    return keys_.size() + values_.size() +
           positions_.size() * sizeof(int64_t) + queries_.size() * sizeof(float) +
           (page_min_.size() + page_max_.size() + window_sums_.size()) * sizeof(float);
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

int64_t KvCache::begin_window_query(int64_t layer, int64_t slot, bool summed) {
    const int64_t budget = shape_.score_budget, window = shape_.score_window;
    if (window == 0 || slot + 1 <= budget) return 0;  // before the budget: no eviction reads it
    const int64_t candidates = (slot + window) / window * window - window;
    if (window_candidates_[layer] != candidates) {  // the first query of a new window
        for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
            float* sums = window_scores(layer, h);
            std::fill(sums, sums + candidates, 0.0f);
        }
        window_candidates_[layer] = candidates;
        window_summed_[layer] = 0;
        window_incomplete_[layer] = 0;
    }
    if (!summed) {
        window_incomplete_[layer] = 1;
        return 0;
    }
    ++window_summed_[layer];
    return candidates;
}

const float* KvCache::complete_window_scores(int64_t layer, int64_t n_candidates) const {
    if (shape_.score_window == 0 || window_candidates_[layer] != n_candidates ||
        window_incomplete_[layer] != 0 || n_queries_[layer] == 0 ||
        window_summed_[layer] != n_queries_[layer]) {
        return nullptr;
    }
    return window_sums_.data() + layer * shape_.n_kv_heads * shape_.capacity;
}

void KvCache::reset_window_scores() {
    std::fill(window_candidates_.begin(), window_candidates_.end(), 0);
    std::fill(window_summed_.begin(), window_summed_.end(), 0);
    std::fill(window_incomplete_.begin(), window_incomplete_.end(), 0);
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
    // Moves rows [src, src + count) to dst <= src (memmove: the ranges may overlap).
    auto move = [&](int64_t src, int64_t dst, int64_t count) {
        if (src == dst || count == 0) return;
        std::memmove(kbase + dst * row, kbase + src * row, static_cast<size_t>(count) * row);
        std::memmove(vbase + dst * row, vbase + src * row, static_cast<size_t>(count) * row);
        std::memmove(pos + dst, pos + src, static_cast<size_t>(count) * sizeof(int64_t));
    };
    // Kept candidates move toward the front in runs of consecutive slots (one
    // copy per run); indices ascend and dst <= src, so a run never overwrites
    // a slot still to be read. The recent window follows as one run.
    int64_t dst = 0;
    for (int64_t i = 0; i < n_keep;) {
        const int64_t src = keep[i];
        int64_t run = 1;
        while (i + run < n_keep && keep[i + run] == src + run) ++run;
        assert(src + run <= n_candidates && (i == 0 || keep[i - 1] < src));
        move(src, dst, run);
        dst += run;
        i += run;
    }
    move(n_candidates, dst, size_ - n_candidates);
}

void KvCache::compact_head_unordered(int64_t layer, int64_t h, const int64_t* keep,
                                     int64_t n_keep, int64_t n_candidates) {
    assert(pages_ == 0);
    assert(n_candidates <= size_);
    const size_t row = static_cast<size_t>(row_bytes_);
    int64_t* pos = positions(layer, h);
    uint8_t* kbase = keys_.data() + offset(layer, h, 0);
    uint8_t* vbase = values_.data() + offset(layer, h, 0);
    const int64_t m = n_keep + (size_ - n_candidates);  // slots held afterwards
    // Holes: dropped candidates below m. Sources: kept rows at or above m
    // (kept candidates there, then the window). There are as many of each.
    int64_t ki = 0;  // keep[ki]: the next kept candidate at or above the hole cursor
    int64_t ks = static_cast<int64_t>(std::lower_bound(keep, keep + n_keep, m) - keep);
    int64_t src = m;
    const int64_t hole_end = std::min(m, n_candidates);
    for (int64_t hole = 0; hole < hole_end; ++hole) {
        if (ki < n_keep && keep[ki] == hole) {
            ++ki;
            continue;
        }
        // The next source: a kept candidate at or after src, else a window row.
        while (src < n_candidates && !(ks < n_keep && keep[ks] == src)) ++src;
        if (src < n_candidates) ++ks;
        assert(src < size_);
        std::memcpy(kbase + hole * row, kbase + src * row, row);
        std::memcpy(vbase + hole * row, vbase + src * row, row);
        pos[hole] = pos[src];
        ++src;
    }
}

void KvCache::set_size(int64_t n) {
    assert(n <= size_);
    size_ = n;
    reset_window_scores();
}

void KvCache::clear() {
    size_ = 0;
    std::fill(query_next_.begin(), query_next_.end(), 0);
    std::fill(n_queries_.begin(), n_queries_.end(), 0);
    reset_window_scores();
}

}  // namespace vase
