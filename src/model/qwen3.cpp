#include "model/qwen3.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <string>

#include "kv/scoring.h"
#include "ops/attention_block.h"
#include "ops/kernels.h"
#include "util/error.h"

namespace vase {
namespace {

Matrix matrix(const Checkpoint& ckpt, const std::string& name, int64_t rows, int64_t cols) {
    const TensorView& t = ckpt.tensor(name);
    if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols) {
        fail("{}: tensor {} has shape [{}], expected [{}, {}] from the config", ckpt.path, name,
             fmt::join(t.shape, ", "), rows, cols);
    }
    if (t.dtype == DType::Q8_0 && cols % kQ8BlockSize != 0) {
        fail("{}: tensor {} is Q8_0 but its rows ({}) are not a multiple of 32", ckpt.path, name,
             cols);
    }
    return Matrix{t.dtype, t.data, rows, cols};
}

std::vector<float> vector_f32(const Checkpoint& ckpt, const std::string& name, int64_t n) {
    const TensorView& t = ckpt.tensor(name);
    if (t.shape.size() != 1 || t.shape[0] != n) {
        fail("{}: tensor {} has shape [{}], expected [{}] from the config", ckpt.path, name,
             fmt::join(t.shape, ", "), n);
    }
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t.dtype, t.data, n, out.data());
    return out;
}

// Matrix row r as f32 into out[cols].
void row_f32(const Matrix& m, int64_t r, float* out) {
    const uint8_t* base = static_cast<const uint8_t*>(m.data);
    dequantize_row(m.dtype, base + r * dtype_row_bytes(m.dtype, m.cols), m.cols, out);
}

}  // namespace

Qwen3Weights::Qwen3Weights(const Checkpoint& ckpt) : config(ckpt.config) {
    const ModelConfig& c = config;
    const int64_t hd = c.head_dim;
    embed = matrix(ckpt, "model.embed_tokens.weight", c.vocab_size, c.hidden_size);
    lm_head = c.tie_word_embeddings ? embed
                                    : matrix(ckpt, "lm_head.weight", c.vocab_size, c.hidden_size);
    final_norm = vector_f32(ckpt, "model.norm.weight", c.hidden_size);
    layers.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        LayerWeights& lw = layers[static_cast<size_t>(l)];
        lw.q = matrix(ckpt, p + "self_attn.q_proj.weight", c.n_heads * hd, c.hidden_size);
        lw.k = matrix(ckpt, p + "self_attn.k_proj.weight", c.n_kv_heads * hd, c.hidden_size);
        lw.v = matrix(ckpt, p + "self_attn.v_proj.weight", c.n_kv_heads * hd, c.hidden_size);
        lw.o = matrix(ckpt, p + "self_attn.o_proj.weight", c.hidden_size, c.n_heads * hd);
        lw.gate = matrix(ckpt, p + "mlp.gate_proj.weight", c.intermediate_size, c.hidden_size);
        lw.up = matrix(ckpt, p + "mlp.up_proj.weight", c.intermediate_size, c.hidden_size);
        lw.down = matrix(ckpt, p + "mlp.down_proj.weight", c.hidden_size, c.intermediate_size);
        lw.attn_norm = vector_f32(ckpt, p + "input_layernorm.weight", c.hidden_size);
        lw.ffn_norm = vector_f32(ckpt, p + "post_attention_layernorm.weight", c.hidden_size);
        lw.q_norm = vector_f32(ckpt, p + "self_attn.q_norm.weight", hd);
        lw.k_norm = vector_f32(ckpt, p + "self_attn.k_norm.weight", hd);
    }
    // As Hugging Face: inv_freq[i] = 1 / theta^(2i / head_dim), rounded to f32.
    inv_freq.resize(static_cast<size_t>(hd / 2));
    for (int64_t i = 0; i < hd / 2; ++i) {
        inv_freq[static_cast<size_t>(i)] =
            static_cast<float>(1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / hd));
    }
}

// ---------------------------------------------------------------------------
// Reference forward pass: one token, scalar loops, nothing clever.

ReferenceQwen3::ReferenceQwen3(const Qwen3Weights& weights)
    : w_(weights),
      key_cache_(static_cast<size_t>(weights.config.n_layers)),
      value_cache_(static_cast<size_t>(weights.config.n_layers)) {}

std::vector<float> ReferenceQwen3::forward(int32_t token, int64_t pos) {
    const ModelConfig& c = w_.config;
    const int64_t dim = c.hidden_size, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
    const int64_t group = nh / nkv;
    const float eps = static_cast<float>(c.rms_norm_eps);
    if (token < 0 || token >= c.vocab_size) fail("token id {} is outside the vocabulary", token);

    std::vector<float> x(dim), xb(dim), row(std::max({dim, c.intermediate_size, nh * hd}));
    std::vector<float> q(nh * hd), k(nkv * hd), v(nkv * hd), att(nh * hd);
    std::vector<float> hb(c.intermediate_size), hb2(c.intermediate_size);

    // y = W x, one dequantized row at a time.
    auto matvec = [&](const Matrix& m, const float* in, float* out) {
        for (int64_t r = 0; r < m.rows; ++r) {
            row_f32(m, r, row.data());
            float acc = 0.0f;
            for (int64_t i = 0; i < m.cols; ++i) acc += row[i] * in[i];
            out[r] = acc;
        }
    };

    // Token embedding.
    row_f32(w_.embed, token, x.data());  // x: [dim]

    for (int64_t l = 0; l < c.n_layers; ++l) {
        const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
        // Attention block: RMSNorm, projections.
        scalar::rmsnorm(x.data(), lw.attn_norm.data(), dim, eps, xb.data());
        matvec(lw.q, xb.data(), q.data());  // q: [nh, hd]
        matvec(lw.k, xb.data(), k.data());  // k: [nkv, hd]
        matvec(lw.v, xb.data(), v.data());  // v: [nkv, hd]
        // QK-norm per head, then RoPE.
        for (int64_t h = 0; h < nh; ++h) {
            scalar::rmsnorm(&q[h * hd], lw.q_norm.data(), hd, eps, &q[h * hd]);
        }
        for (int64_t h = 0; h < nkv; ++h) {
            scalar::rmsnorm(&k[h * hd], lw.k_norm.data(), hd, eps, &k[h * hd]);
        }
        scalar::rope(q.data(), nh, hd, pos, w_.inv_freq.data());
        scalar::rope(k.data(), nkv, hd, pos, w_.inv_freq.data());
        // Append to this layer's cache: [pos + 1, nkv, hd].
        auto& kc = key_cache_[static_cast<size_t>(l)];
        auto& vc = value_cache_[static_cast<size_t>(l)];
        kc.insert(kc.end(), k.begin(), k.end());
        vc.insert(vc.end(), v.begin(), v.end());
        const int64_t n = pos + 1;
        // Causal attention of each query head over its KV head's keys.
        std::vector<float> scores(n);
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        for (int64_t h = 0; h < nh; ++h) {
            const int64_t kvh = h / group;
            for (int64_t t = 0; t < n; ++t) {
                const float* kt = &kc[(t * nkv + kvh) * hd];
                float s = 0.0f;
                for (int64_t i = 0; i < hd; ++i) s += q[h * hd + i] * kt[i];
                scores[t] = s * scale;
            }
            scalar::softmax(scores.data(), n);
            float* out = &att[h * hd];
            std::fill(out, out + hd, 0.0f);
            for (int64_t t = 0; t < n; ++t) {
                const float* vt = &vc[(t * nkv + kvh) * hd];
                for (int64_t i = 0; i < hd; ++i) out[i] += scores[t] * vt[i];
            }
        }
        // Output projection and residual.
        matvec(lw.o, att.data(), xb.data());
        for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
        // MLP block: RMSNorm, SwiGLU, residual.
        scalar::rmsnorm(x.data(), lw.ffn_norm.data(), dim, eps, xb.data());
        matvec(lw.gate, xb.data(), hb.data());
        matvec(lw.up, xb.data(), hb2.data());
        scalar::silu_mul(hb.data(), hb2.data(), c.intermediate_size, hb.data());
        matvec(lw.down, hb.data(), xb.data());
        for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
    }
    // Final norm and the language-model head.
    scalar::rmsnorm(x.data(), w_.final_norm.data(), dim, eps, x.data());
    std::vector<float> logits(c.vocab_size);
    matvec(w_.lm_head, x.data(), logits.data());
    return logits;
}

// ---------------------------------------------------------------------------
// Fast path.

namespace {
constexpr int64_t kMaxLogitRows = 64;
// Rows of a sequence with several rows in one call (prefill) are attended in
// blocks of this many per KV head: the block reads the cache once, not once per row.
constexpr int64_t kAttendBlockRows = 32;
}  // namespace

Qwen3Forward::Qwen3Forward(const Qwen3Weights& weights, int64_t max_rows, int64_t max_slots,
                           int n_threads)
    : w_(weights), max_rows_(std::max<int64_t>(1, max_rows)), max_slots_(max_slots) {
    const ModelConfig& c = w_.config;
    auto n = [&](int64_t per_row) { return static_cast<size_t>(max_rows_ * per_row); };
    x_.resize(n(c.hidden_size));
    xb_.resize(n(c.hidden_size));
    q_.resize(n(c.n_heads * c.head_dim));
    k_.resize(n(c.n_kv_heads * c.head_dim));
    v_.resize(n(c.n_kv_heads * c.head_dim));
    att_.resize(n(c.n_heads * c.head_dim));
    gate_.resize(n(c.intermediate_size));
    up_.resize(n(c.intermediate_size));
    const int64_t threads = std::max(1, n_threads);
    // Per thread: the scores of one row's group (decode) or a block's scratch (prefill).
    const int64_t group = c.n_heads / c.n_kv_heads;
    const int64_t per_thread = std::max(
        group * std::max<int64_t>(1, max_slots),
        attend_causal_block_scratch(std::min(max_rows_, kAttendBlockRows), group, c.head_dim));
    scores_.resize(static_cast<size_t>(threads * per_thread));
    max_pages_ = quest_pages(std::max<int64_t>(1, max_slots));
    page_bound_.resize(static_cast<size_t>(threads * max_pages_));
    page_order_.resize(static_cast<size_t>(threads * max_pages_));
    pages_.resize(static_cast<size_t>(threads * max_pages_));
    attended_.resize(static_cast<size_t>(threads * max_rows_));
    kv_row_.resize(static_cast<size_t>(threads * c.head_dim));
    index_.resize(static_cast<size_t>(max_rows_));
    window_candidates_.resize(static_cast<size_t>(max_rows_));
    logits_.resize(static_cast<size_t>(std::min(max_rows_, kMaxLogitRows) * c.vocab_size));
}

bool Qwen3Forward::selects(const ForwardRow* rows, int64_t n_rows, int64_t r, int64_t layer) const {
    // Quest selects for decode rows only (the one row of its sequence in this call).
    if (rows[r].select_budget <= 0 || layer < kQuestDenseLayers) return false;
    const bool alone = (r == 0 || rows[r - 1].cache != rows[r].cache) &&
                       (r + 1 == n_rows || rows[r + 1].cache != rows[r].cache);
    return alone;
}

void Qwen3Forward::attention(ThreadPool& pool, int64_t layer, const ForwardRow* rows,
                             int64_t n_rows) {
    const ModelConfig& c = w_.config;
    const int64_t hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads, group = nh / nkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const int64_t planned_threads = static_cast<int64_t>(attended_.size()) / max_rows_;
    const int64_t scratch_floats = static_cast<int64_t>(scores_.size()) / planned_threads;
    // Work items (row, KV head), the group's query heads sharing its keys, claimed
    // from one counter, last rows (the longest) first. A row alone in its
    // sequence (decode) is attended by itself and may use Quest; the rows of a
    // sequence with several rows are attended in blocks, the item of a block's
    // first row doing the whole block.
    std::atomic<int64_t> next_item{0};
    const int64_t items = n_rows * nkv;
    pool.run([&](int thread, int) {
        float* scores = scores_.data() + thread * scratch_floats;
        for (int64_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const int64_t r = n_rows - 1 - item / nkv, kvh = item % nkv;
            const KvCache& cache = *rows[r].cache;
            const bool alone = (r == 0 || rows[r - 1].cache != rows[r].cache) &&
                               (r + 1 == n_rows || rows[r + 1].cache != rows[r].cache);
            if (!alone) {
                if (index_[r] % kAttendBlockRows != 0) continue;  // inside an earlier row's block
                int64_t r1 = r + 1;
                while (r1 < n_rows && rows[r1].cache == rows[r].cache &&
                       index_[r1] % kAttendBlockRows != 0) {
                    ++r1;
                }
                const int64_t n_past = cache.size() + index_[r];  // slots before the block
                attend_causal_block(&q_[(r * nh + kvh * group) * hd], nh * hd, r1 - r, group,
                                    cache.key_row(layer, kvh, 0), cache.value_row(layer, kvh, 0),
                                    cache.kv_type(), n_past, hd, scale, scores,
                                    &att_[(r * nh + kvh * group) * hd], nh * hd);
                for (int64_t i = r; i < r1; ++i) {
                    const int64_t n = n_past + (i - r) + 1;
                    attended_[thread * max_rows_ + i] += static_cast<double>(group * n);
                }
                continue;
            }
            const int64_t n = cache.size() + index_[r] + 1;  // causal: earlier slots and this row
            const float* q = &q_[(r * nh + kvh * group) * hd];  // [group, hd]
            float* out = &att_[(r * nh + kvh * group) * hd];    // [group, hd]
            if (!selects(rows, n_rows, r, layer)) {
                attend_group(q, group, cache.key_row(layer, kvh, 0), cache.value_row(layer, kvh, 0),
                             cache.kv_type(), n, hd, scale, scores, out);
                if (window_candidates_[r] > 0) {
                    accumulate_window_attention(scores, group, n, window_candidates_[r], q,
                                                cache.key_row(layer, kvh, 0), cache.kv_type(), hd,
                                                scale, cache.shape().score_temperature,
                                                rows[r].cache->window_scores(layer, kvh));
                }
                attended_[thread * max_rows_ + r] += static_cast<double>(group * n);
                continue;
            }
            // Quest: per query head, the pages of highest upper bound.
            double* bound = page_bound_.data() + thread * max_pages_;
            int64_t* order = page_order_.data() + thread * max_pages_;
            int64_t* pages = pages_.data() + thread * max_pages_;
            for (int64_t j = 0; j < group; ++j) {
                const float* qj = q + j * hd;
                const int64_t n_pages =
                    quest_select_pages(qj, cache.page_min(layer, kvh), cache.page_max(layer, kvh),
                                       n, hd, rows[r].select_budget, bound, order, pages);
                int64_t m = 0;
                float* row = kv_row_.data() + thread * hd;
                for (int64_t p = 0; p < n_pages; ++p) {
                    const int64_t t1 = std::min(n, (pages[p] + 1) * kQuestPageSize);
                    for (int64_t t = pages[p] * kQuestPageSize; t < t1; ++t) {
                        dequantize_row(cache.kv_type(), cache.key_row(layer, kvh, t), hd, row);
                        scores[m++] = dot(qj, row, hd) * scale;
                    }
                }
                softmax(scores, m);
                float* oj = out + j * hd;
                std::fill(oj, oj + hd, 0.0f);
                m = 0;
                for (int64_t p = 0; p < n_pages; ++p) {
                    const int64_t t1 = std::min(n, (pages[p] + 1) * kQuestPageSize);
                    for (int64_t t = pages[p] * kQuestPageSize; t < t1; ++t) {
                        dequantize_row(cache.kv_type(), cache.value_row(layer, kvh, t), hd, row);
                        axpy(scores[m++], row, oj, hd);
                    }
                }
                attended_[thread * max_rows_ + r] += static_cast<double>(m);
            }
        }
    });
}

const float* Qwen3Forward::forward(ThreadPool& pool, const int32_t* tokens, const ForwardRow* rows,
                                   int64_t n_rows) {
    const ModelConfig& c = w_.config;
    const int64_t dim = c.hidden_size, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
    const int64_t inter = c.intermediate_size;
    const float eps = static_cast<float>(c.rms_norm_eps);
    if (n_rows > max_rows_) fail("forward: {} rows exceed the planned maximum {}", n_rows, max_rows_);

    // Index of each row within its sequence's step; check caches have room.
    for (int64_t r = 0; r < n_rows; ++r) {
        index_[r] = (r > 0 && rows[r - 1].cache == rows[r].cache) ? index_[r - 1] + 1 : 0;
        if (rows[r].cache->size() + index_[r] >= rows[r].cache->capacity()) {
            fail("KV cache is full ({} slots)", rows[r].cache->capacity());
        }
        if (tokens[r] < 0 || tokens[r] >= c.vocab_size) {
            fail("token id {} is outside the vocabulary (0..{})", tokens[r], c.vocab_size - 1);
        }
    }
    std::fill(attended_.begin(), attended_.end(), 0.0);
    // Token embeddings: x [n_rows, dim].
    for (int64_t r = 0; r < n_rows; ++r) row_f32(w_.embed, tokens[r], &x_[r * dim]);

    for (int64_t l = 0; l < c.n_layers; ++l) {
        const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
        for (int64_t r = 0; r < n_rows; ++r) {
            rmsnorm(&x_[r * dim], lw.attn_norm.data(), dim, eps, &xb_[r * dim]);
        }
        matmul(pool, lw.q.dtype, lw.q.data, lw.q.rows, lw.q.cols, xb_.data(), n_rows, q_.data());
        matmul(pool, lw.k.dtype, lw.k.data, lw.k.rows, lw.k.cols, xb_.data(), n_rows, k_.data());
        matmul(pool, lw.v.dtype, lw.v.data, lw.v.rows, lw.v.cols, xb_.data(), n_rows, v_.data());
        for (int64_t r = 0; r < n_rows; ++r) {
            float* q = &q_[r * nh * hd];  // [nh, hd]
            float* k = &k_[r * nkv * hd];  // [nkv, hd]
            for (int64_t h = 0; h < nh; ++h) rmsnorm(q + h * hd, lw.q_norm.data(), hd, eps, q + h * hd);
            for (int64_t h = 0; h < nkv; ++h) rmsnorm(k + h * hd, lw.k_norm.data(), hd, eps, k + h * hd);
            rope(q, nh, hd, rows[r].position, w_.inv_freq.data());
            rope(k, nkv, hd, rows[r].position, w_.inv_freq.data());
            rows[r].cache->write(l, index_[r], rows[r].position, k, &v_[r * nkv * hd]);
            rows[r].cache->push_query(l, q);
            // A decode row (alone in its sequence) adds its attention to the
            // next eviction's window scores; a block of rows does not.
            const bool alone = (r == 0 || rows[r - 1].cache != rows[r].cache) &&
                               (r + 1 == n_rows || rows[r + 1].cache != rows[r].cache);
            window_candidates_[r] = rows[r].cache->begin_window_query(
                l, rows[r].cache->size() + index_[r], alone && !selects(rows, n_rows, r, l));
        }
        attention(pool, l, rows, n_rows);
        matmul(pool, lw.o.dtype, lw.o.data, lw.o.rows, lw.o.cols, att_.data(), n_rows, xb_.data());
        for (int64_t i = 0; i < n_rows * dim; ++i) x_[i] += xb_[i];
        for (int64_t r = 0; r < n_rows; ++r) {
            rmsnorm(&x_[r * dim], lw.ffn_norm.data(), dim, eps, &xb_[r * dim]);
        }
        matmul(pool, lw.gate.dtype, lw.gate.data, inter, dim, xb_.data(), n_rows, gate_.data());
        matmul(pool, lw.up.dtype, lw.up.data, inter, dim, xb_.data(), n_rows, up_.data());
        silu_mul(gate_.data(), up_.data(), n_rows * inter, gate_.data());
        matmul(pool, lw.down.dtype, lw.down.data, dim, inter, gate_.data(), n_rows, xb_.data());
        for (int64_t i = 0; i < n_rows * dim; ++i) x_[i] += xb_[i];
    }
    // Commit each sequence's new tokens; record what Quest rows attended to.
    const int64_t n_threads = static_cast<int64_t>(attended_.size()) / max_rows_;
    for (int64_t r = 0; r < n_rows; ++r) {
        if (rows[r].select_budget > 0) {
            double sum = 0.0;
            for (int64_t t = 0; t < n_threads; ++t) sum += attended_[t * max_rows_ + r];
            const double full = static_cast<double>(c.n_layers * nh * (rows[r].position + 1));
            rows[r].cache->set_attended_fraction(sum / full);
        }
        if (r + 1 == n_rows || rows[r + 1].cache != rows[r].cache) rows[r].cache->commit(index_[r] + 1);
    }
    // Final norm and LM head for the rows that want logits (gathered into xb).
    int64_t n_out = 0;
    for (int64_t r = 0; r < n_rows; ++r) {
        if (!rows[r].want_logits) continue;
        if (n_out == kMaxLogitRows) fail("forward: more than {} rows want logits", kMaxLogitRows);
        rmsnorm(&x_[r * dim], w_.final_norm.data(), dim, eps, &xb_[n_out * dim]);
        ++n_out;
    }
    if (n_out > 0) {
        matmul(pool, w_.lm_head.dtype, w_.lm_head.data, c.vocab_size, dim, xb_.data(), n_out,
               logits_.data());
    }
    return logits_.data();
}

}  // namespace vase
