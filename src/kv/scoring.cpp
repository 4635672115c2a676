#include "kv/scoring.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "util/error.h"

// The hot loops are plain C++ that GCC auto-vectorises; target_clones builds
// them for AVX-512, AVX2+FMA and baseline x86-64 and picks one at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VASE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VASE_VECTOR_CLONES
#endif

namespace vase {

namespace {

// Queries are processed in blocks of kLanes (padded with zero queries).
constexpr int64_t kLanes = 16;
// exp(x) is flushed to 0 below this (float32's normal range ends near -87.3).
constexpr float kExpMin = -87.0f;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// e^x for x <= 0 to about 2 ulp: x = n ln2 + r, |r| <= ln2 / 2, e^r by a
// degree-6 polynomial, 2^n through the exponent bits. Branch-free so that it
// vectorises; the same code runs for every candidate, so equal inputs give
// bit-equal outputs.
inline float exp_nonpositive(float x) {
    const float xc = x < kExpMin ? kExpMin : x;
    const float kShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float n = (xc * 1.44269504088896341f + kShift) - kShift;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    const float scale = std::bit_cast<float>(bits);
    return x < kExpMin ? 0.0f : p * scale;
}

// logits[i][t] = sum_d k_i[d] * q_t[t-block][d], for i < n, t < lanes;
// col_max[t] = max_i logits[i][t]. q_t: [head_dim, lanes].
VASE_VECTOR_CLONES
void logits_pass(const float* keys, int64_t n, int64_t head_dim, const float* q_t, int64_t lanes,
                 float* logits, float* col_max) {
    for (int64_t t = 0; t < lanes; ++t) col_max[t] = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        float* row = logits + i * lanes;
        for (int64_t t0 = 0; t0 < lanes; t0 += 4 * kLanes) {
            // Up to 64 queries at once: 4-8 independent vector accumulators.
            const int64_t width = std::min<int64_t>(4 * kLanes, lanes - t0);
            if (width == 4 * kLanes) {
                float acc[4 * kLanes] = {};
                for (int64_t d = 0; d < head_dim; ++d) {
                    const float kd = k[d];
                    const float* q = q_t + d * lanes + t0;
                    for (int64_t l = 0; l < 4 * kLanes; ++l) acc[l] += q[l] * kd;
                }
                for (int64_t l = 0; l < 4 * kLanes; ++l) row[t0 + l] = acc[l];
            } else {
                for (int64_t b = 0; b < width; b += kLanes) {
                    float acc[kLanes] = {};
                    for (int64_t d = 0; d < head_dim; ++d) {
                        const float kd = k[d];
                        const float* q = q_t + d * lanes + t0 + b;
                        for (int64_t l = 0; l < kLanes; ++l) acc[l] += q[l] * kd;
                    }
                    for (int64_t l = 0; l < kLanes; ++l) row[t0 + b + l] = acc[l];
                }
            }
        }
        for (int64_t t = 0; t < lanes; ++t) col_max[t] = row[t] > col_max[t] ? row[t] : col_max[t];
    }
}

// logits[i][t] = exp(logits[i][t] - col_max[t]); col_sum[t] = sum_i of them.
VASE_VECTOR_CLONES
void exp_pass(float* logits, int64_t n, int64_t lanes, const float* col_max, double* col_sum) {
    for (int64_t t = 0; t < lanes; ++t) col_sum[t] = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        float* row = logits + i * lanes;
        for (int64_t t = 0; t < lanes; ++t) {
            const float e = exp_nonpositive(row[t] - col_max[t]);
            row[t] = e;
            col_sum[t] += static_cast<double>(e);
        }
    }
}

// out[i] += sum_t logits[i][t] * weight[t], summed in a fixed lane order.
VASE_VECTOR_CLONES
void weighted_rows_pass(const float* logits, int64_t n, int64_t lanes, const float* weight,
                        double* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float* row = logits + i * lanes;
        float part[kLanes] = {};
        for (int64_t t0 = 0; t0 < lanes; t0 += kLanes) {
            for (int64_t l = 0; l < kLanes; ++l) part[l] += row[t0 + l] * weight[t0 + l];
        }
        float s = 0.0f;
        for (int64_t l = 0; l < kLanes; ++l) s += part[l];
        out[i] += static_cast<double>(s);
    }
}

// proj[c] = sum_d x[d] g[d][c] for c < g_stride, for x = k_i and x = v_i.
VASE_VECTOR_CLONES
void cur_pass(const float* keys, const float* values, int64_t n, int64_t head_dim, const float* g,
              int64_t g_stride, float* proj, double* out) {
    float* pk = proj;
    float* pv = proj + g_stride;
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const float* v = values + i * head_dim;
        for (int64_t c = 0; c < g_stride; ++c) pk[c] = pv[c] = 0.0f;
        for (int64_t d = 0; d < head_dim; ++d) {
            const float kd = k[d];
            const float vd = v[d];
            const float* gr = g + d * g_stride;
            for (int64_t c = 0; c < g_stride; ++c) {
                pk[c] += gr[c] * kd;
                pv[c] += gr[c] * vd;
            }
        }
        double k2 = 0.0;
        double v2 = 0.0;
        for (int64_t c = 0; c < g_stride; ++c) {
            k2 += static_cast<double>(pk[c]) * pk[c];
            v2 += static_cast<double>(pv[c]) * pv[c];
        }
        out[i] = k2 * v2;
    }
}

}  // namespace

AttentionScorer::AttentionScorer(int64_t head_dim, int64_t max_candidates, int64_t max_queries)
    : head_dim_(head_dim),
      max_candidates_(max_candidates),
      max_lanes_(round_up(std::max<int64_t>(max_queries, 1), kLanes)),
      q_t_(static_cast<size_t>(head_dim * max_lanes_)),
      logits_(checked_mul(static_cast<size_t>(std::max<int64_t>(max_candidates, 1)),
                          static_cast<size_t>(max_lanes_), "attention scorer logits")),
      col_max_(static_cast<size_t>(max_lanes_)),
      col_sum_(static_cast<size_t>(max_lanes_)),
      col_weight_(static_cast<size_t>(max_lanes_)),
      group_sum_(static_cast<size_t>(std::max<int64_t>(max_candidates, 1))) {}

void AttentionScorer::score(const LayerView& view, int64_t kv_head, float temperature,
                            bool smooth, double* out) {
    const int64_t n = view.n;
    const int64_t d = view.head_dim;
    const int64_t n_queries = view.n_queries;
    if (n_queries < 1) fail("attention scoring needs at least one buffered query (got 0)");
    if (n > max_candidates_ || d != head_dim_ || round_up(n_queries, kLanes) > max_lanes_) {
        fail("attention scoring: view ({} candidates, head_dim {}, {} queries) exceeds the sizes "
             "it was built for ({}, {}, {})", n, d, n_queries, max_candidates_, head_dim_,
             max_lanes_);
    }
    if (n == 0) return;
    const int64_t lanes = round_up(n_queries, kLanes);
    const int64_t group = view.n_q_heads / view.n_kv_heads;
    const float scale = 1.0f / (std::sqrt(static_cast<float>(d)) * temperature);
    const float* keys = view.keys + kv_head * view.kv_head_stride;

    std::fill(group_sum_.begin(), group_sum_.begin() + n, 0.0);
    for (int64_t g = 0; g < group; ++g) {
        const int64_t j = kv_head * group + g;
        const float* q = view.queries + j * view.q_head_stride;
        // Transpose (and scale) the window: q_t[d][t]; padding queries are 0.
        for (int64_t dd = 0; dd < d; ++dd) {
            float* dst = q_t_.data() + dd * lanes;
            for (int64_t t = 0; t < n_queries; ++t) dst[t] = q[t * d + dd] * scale;
            for (int64_t t = n_queries; t < lanes; ++t) dst[t] = 0.0f;
        }
        logits_pass(keys, n, d, q_t_.data(), lanes, logits_.data(), col_max_.data());
        exp_pass(logits_.data(), n, lanes, col_max_.data(), col_sum_.data());
        for (int64_t t = 0; t < lanes; ++t) {
            col_weight_[t] =
                t < n_queries ? static_cast<float>(1.0 / (col_sum_[t] * double(n_queries))) : 0.0f;
        }
        weighted_rows_pass(logits_.data(), n, lanes, col_weight_.data(), group_sum_.data());
    }
    const double inv_group = 1.0 / static_cast<double>(group);
    if (smooth) {
        for (int64_t i = 0; i < n; ++i) group_sum_[i] *= inv_group;
        smooth_scores(group_sum_.data(), n, out);
    } else {
        for (int64_t i = 0; i < n; ++i) out[i] = group_sum_[i] * inv_group;
    }
}

void smooth_scores(const double* in, int64_t n, double* out) {
    for (int64_t i = 0; i < n; ++i) {
        // Left to right in a fixed order, so equal neighbourhoods give equal sums.
        double s = 0.0;
        for (int64_t o = -2; o <= 2; ++o) {
            const int64_t j = i + o;
            s += (j >= 0 && j < n) ? in[j] : 0.0;
        }
        out[i] = s / 5.0;
    }
}

void value_magnitude(Magnitude kind, const float* values, int64_t n, int64_t head_dim,
                     double* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float* v = values + i * head_dim;
        switch (kind) {
            case Magnitude::kRange: {
                float lo = v[0];
                float hi = v[0];
                for (int64_t d = 1; d < head_dim; ++d) {
                    lo = std::min(lo, v[d]);
                    hi = std::max(hi, v[d]);
                }
                out[i] = static_cast<double>(hi) - static_cast<double>(lo);
                break;
            }
            case Magnitude::kL2: {
                double s = 0.0;
                for (int64_t d = 0; d < head_dim; ++d) s += static_cast<double>(v[d]) * v[d];
                out[i] = std::sqrt(s);
                break;
            }
            case Magnitude::kVariance: {
                double mean = 0.0;
                for (int64_t d = 0; d < head_dim; ++d) mean += v[d];
                mean /= static_cast<double>(head_dim);
                double s = 0.0;
                for (int64_t d = 0; d < head_dim; ++d) {
                    const double x = v[d] - mean;
                    s += x * x;
                }
                out[i] = head_dim > 1 ? s / static_cast<double>(head_dim - 1) : 0.0;
                break;
            }
        }
    }
}

void key_redundancy(const float* keys, int64_t n, int64_t head_dim, double* key_sum,
                    double* out) {
    if (n == 0) return;
    auto inv_norm = [&](const float* k) {
        double s = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) s += static_cast<double>(k[d]) * k[d];
        return 1.0 / (std::sqrt(s) + 1e-8);
    };
    std::fill(key_sum, key_sum + head_dim, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const double inv = inv_norm(k);
        for (int64_t d = 0; d < head_dim; ++d) key_sum[d] += k[d] * inv;
    }
    double max_r = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const double inv = inv_norm(k);
        double with_self = 0.0;
        double self = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) {
            const double kh = k[d] * inv;
            with_self += key_sum[d] * kh;
            self += kh * kh;
        }
        out[i] = (with_self - self) / static_cast<double>(n);
        max_r = std::max(max_r, out[i]);
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        out[i] = std::exp(out[i] - max_r);
        total += out[i];
    }
    for (int64_t i = 0; i < n; ++i) out[i] /= total;
}

void cur_raw_scores(const float* keys, const float* values, int64_t n, int64_t head_dim,
                    const float* g, int64_t g_stride, float* proj, double* out) {
    cur_pass(keys, values, n, head_dim, g, g_stride, proj, out);
}

}  // namespace vase
