#include "kv/scoring.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/kernels.h"
#include "util/error.h"

// The hot loops are plain C++ that GCC auto-vectorises; target_clones builds
// them for AVX-512, AVX2+FMA and baseline x86-64 and picks one at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define VASE_VECTOR_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VASE_VECTOR_CLONES
#endif

namespace vase {

namespace {

// Queries are processed in blocks of kLanes (padded with zero queries).
constexpr int64_t kLanes = 16;
// exp(x) is flushed to 0 below this (float32's normal range ends near -87.3).
constexpr float kExpMin = -87.0f;

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

// Helpers below are always inlined into the clones (whose ABI for 64-byte
// vectors differs from the baseline's; nothing crosses a call).
#pragma GCC diagnostic ignored "-Wpsabi"

// GCC/Clang vector extensions: plain arithmetic on 16 (or 8) floats that each
// target clone lowers to its own registers (1 zmm, 2 ymm or 4 xmm), so the
// accumulators stay in registers without intrinsics.
typedef float V16 __attribute__((vector_size(64)));
typedef int32_t V16i __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef double V8d __attribute__((vector_size(64)));

#define VASE_INLINE inline __attribute__((always_inline))

VASE_INLINE V16 load16(const float* p) {
    V16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
VASE_INLINE void store16(float* p, V16 v) {
    std::memcpy(p, &v, sizeof v);
}
VASE_INLINE V8 load8(const float* p) {
    V8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
VASE_INLINE void store8(float* p, V8 v) {
    std::memcpy(p, &v, sizeof v);
}
VASE_INLINE V16 splat(float x) {
    return V16{} + x;
}

// e^x for x <= 0 to about 2 ulp: x = n ln2 + r, |r| <= ln2 / 2, e^r by a
// degree-6 polynomial, 2^n through the exponent bits. The same code runs for
// every candidate, so equal inputs give bit-equal outputs. Below kExpMin the
// result is exactly 0.
VASE_INLINE V16 exp_nonpositive(V16 x) {
    const V16 lo = splat(kExpMin);
    const V16 xc = x < lo ? lo : x;
    const V16 shift = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    const V16 n = (xc * 1.44269504088896341f + shift) - shift;
    const V16 r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    V16 p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const V16i bits = (__builtin_convertvector(n, V16i) + 127) << 23;
    V16 scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return x < lo ? V16{} : p * scale;
}

// logits[i][t] = sum_d k_i[d] * q_t[d][t] for i < n, t < lanes (a multiple of
// kLanes); col_max[t] = max_i logits[i][t]. q_t: [head_dim, lanes].
// Two candidates share each load of the queries.
VASE_VECTOR_CLONES
void logits_pass(const float* keys, int64_t n, int64_t head_dim, const float* q_t, int64_t lanes,
                 float* logits, float* col_max) {
    for (int64_t t = 0; t < lanes; ++t) col_max[t] = -std::numeric_limits<float>::infinity();
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const float* ka = keys + i * head_dim;
        const float* kb = ka + head_dim;
        float* ra = logits + i * lanes;
        float* rb = ra + lanes;
        int64_t t0 = 0;
        for (; t0 + 4 * kLanes <= lanes; t0 += 4 * kLanes) {
            V16 a0{}, a1{}, a2{}, a3{}, b0{}, b1{}, b2{}, b3{};
            for (int64_t d = 0; d < head_dim; ++d) {
                const float* q = q_t + d * lanes + t0;
                const V16 q0 = load16(q), q1 = load16(q + 16), q2 = load16(q + 32),
                          q3 = load16(q + 48);
                const float x = ka[d], y = kb[d];
                a0 += q0 * x;
                a1 += q1 * x;
                a2 += q2 * x;
                a3 += q3 * x;
                b0 += q0 * y;
                b1 += q1 * y;
                b2 += q2 * y;
                b3 += q3 * y;
            }
            store16(ra + t0, a0);
            store16(ra + t0 + 16, a1);
            store16(ra + t0 + 32, a2);
            store16(ra + t0 + 48, a3);
            store16(rb + t0, b0);
            store16(rb + t0 + 16, b1);
            store16(rb + t0 + 32, b2);
            store16(rb + t0 + 48, b3);
        }
        for (; t0 < lanes; t0 += kLanes) {
            V16 a{}, b{};
            for (int64_t d = 0; d < head_dim; ++d) {
                const V16 q = load16(q_t + d * lanes + t0);
                a += q * ka[d];
                b += q * kb[d];
            }
            store16(ra + t0, a);
            store16(rb + t0, b);
        }
    }
    for (; i < n; ++i) {  // the last candidate of an odd count: same arithmetic
        const float* ka = keys + i * head_dim;
        float* ra = logits + i * lanes;
        for (int64_t t0 = 0; t0 < lanes; t0 += kLanes) {
            V16 a{};
            for (int64_t d = 0; d < head_dim; ++d) a += load16(q_t + d * lanes + t0) * ka[d];
            store16(ra + t0, a);
        }
    }
    for (int64_t r = 0; r < n; ++r) {
        const float* row = logits + r * lanes;
        for (int64_t t0 = 0; t0 < lanes; t0 += kLanes) {
            const V16 v = load16(row + t0);
            const V16 m = load16(col_max + t0);
            store16(col_max + t0, v > m ? v : m);
        }
    }
}

// logits[i][t] = exp(logits[i][t] - col_max[t]); col_sum[t] = sum_i of them (double).
VASE_VECTOR_CLONES
void exp_pass(float* logits, int64_t n, int64_t lanes, const float* col_max, double* col_sum) {
    for (int64_t t = 0; t < lanes; ++t) col_sum[t] = 0.0;
    for (int64_t t0 = 0; t0 < lanes; t0 += kLanes) {
        const V16 m = load16(col_max + t0);
        V8d s0{}, s1{};
        for (int64_t i = 0; i < n; ++i) {
            float* row = logits + i * lanes + t0;
            const V16 e = exp_nonpositive(load16(row) - m);
            store16(row, e);
            s0 += __builtin_convertvector(load8(row), V8d);
            s1 += __builtin_convertvector(load8(row + 8), V8d);
        }
        for (int l = 0; l < 8; ++l) {
            col_sum[t0 + l] = s0[l];
            col_sum[t0 + 8 + l] = s1[l];
        }
    }
}

// out[i] += sum_t logits[i][t] * weight[t], summed in a fixed lane order.
VASE_VECTOR_CLONES
void weighted_rows_pass(const float* logits, int64_t n, int64_t lanes, const float* weight,
                        double* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float* row = logits + i * lanes;
        V16 part{};
        for (int64_t t0 = 0; t0 < lanes; t0 += kLanes)
            part += load16(row + t0) * load16(weight + t0);
        float s = 0.0f;
        for (int l = 0; l < kLanes; ++l) s += part[l];
        out[i] += static_cast<double>(s);
    }
}

// Sum of the lanes of a partial-sum vector, in a fixed order.
VASE_INLINE double lane_sum(V8d v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// |p|^2 in double over n columns: 8 partial sums (no serial chain of adds).
VASE_INLINE double squared_norm(const float* p, int64_t n) {
    V8d acc{};
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        const V8d x = __builtin_convertvector(load8(p + c), V8d);
        acc += x * x;
    }
    double sum = lane_sum(acc);
    for (; c < n; ++c) sum += static_cast<double>(p[c]) * p[c];
    return sum;
}

// The lane sums of four vectors, by one fixed tree: out[j] = sum of x_j's lanes.
VASE_INLINE void lane_sums4(V16 a, V16 b, V16 c, V16 d, float* out) {
    const V16 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21,
                                           22, 23) +
                   __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28,
                                           29, 30, 31);
    const V16 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21,
                                           22, 23) +
                   __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28,
                                           29, 30, 31);
    // Lanes 4j .. 4j + 3: four partial sums of vector j.
    const V16 x = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24,
                                          25, 26, 27) +
                  __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28,
                                          29, 30, 31);
    const V16 y =
        x + __builtin_shufflevector(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const V16 z =
        y + __builtin_shufflevector(y, y, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    out[0] = z[0];
    out[1] = z[4];
    out[2] = z[8];
    out[3] = z[12];
}

// Largest head_dim of the split projection below (its transposed tail
// columns live on the stack).
constexpr int64_t kCurSplitMaxDim = 512;

// Projections of R rows of keys and values onto the 16 + T columns of a
// 24-column g (T = 4 for rank 20: columns 20..23 are zero padding, so no work
// is spent on them). Columns 0..15: one 16-wide accumulator per row and side,
// each element of the row broadcast in turn; each load of g serves 2R
// products. Columns 16..16+T: dot products of the row with gt ([T, head_dim],
// those columns transposed), 16 dimensions at a time, the lanes summed by one
// fixed tree. head_dim is a multiple of 16. Every row sees the same operations
// whatever R is, so a row's result does not depend on the rows beside it.
template <int R, int T>
VASE_INLINE void cur_project_split(const float* keys, const float* values, int64_t head_dim,
                                   const float* g, int64_t g_stride, const float* gt, float* pk,
                                   float* pv) {
    V16 ka[R] = {}, va[R] = {};
    for (int64_t d = 0; d < head_dim; ++d) {
        const V16 ga = load16(g + d * g_stride);
        for (int r = 0; r < R; ++r) {
            ka[r] += ga * keys[r * head_dim + d];
            va[r] += ga * values[r * head_dim + d];
        }
    }
    for (int r = 0; r < R; ++r) {
        store16(pk + r * g_stride, ka[r]);
        store16(pv + r * g_stride, va[r]);
    }
    // The tail columns of P rows at a time: 8P independent accumulators keep
    // the FMA units busy through the chains of head_dim / 16 adds.
    constexpr int P = R % 2 == 0 ? 2 : 1;
    for (int r0 = 0; r0 < R; r0 += P) {
        for (int t0 = 0; t0 < T; t0 += 4) {
            V16 kt[P][4] = {}, vt[P][4] = {};
            for (int64_t d = 0; d < head_dim; d += kLanes) {
                V16 x[P], y[P];
                for (int p = 0; p < P; ++p) {
                    x[p] = load16(keys + (r0 + p) * head_dim + d);
                    y[p] = load16(values + (r0 + p) * head_dim + d);
                }
                for (int c = 0; c < 4; ++c) {
                    const V16 gc = load16(gt + (t0 + c) * head_dim + d);
                    for (int p = 0; p < P; ++p) {
                        kt[p][c] += x[p] * gc;
                        vt[p][c] += y[p] * gc;
                    }
                }
            }
            for (int p = 0; p < P; ++p) {
                const int64_t r = r0 + p;
                lane_sums4(kt[p][0], kt[p][1], kt[p][2], kt[p][3], pk + r * g_stride + 16 + t0);
                lane_sums4(vt[p][0], vt[p][1], vt[p][2], vt[p][3], pv + r * g_stride + 16 + t0);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int64_t c = 16 + T; c < g_stride; ++c) pk[r * g_stride + c] = pv[r * g_stride + c] = 0.0f;
    }
}

// out[i .. i + R) by the split projection; proj: 2 * R * g_stride floats.
template <int R, int T>
VASE_INLINE void cur_scores_split(const float* keys, const float* values, int64_t i,
                                  int64_t head_dim, const float* g, int64_t g_stride,
                                  const float* gt, float* proj, double* out) {
    float* pk = proj;
    float* pv = proj + R * g_stride;
    cur_project_split<R, T>(keys + i * head_dim, values + i * head_dim, head_dim, g, g_stride, gt,
                            pk, pv);
    for (int64_t r = 0; r < R; ++r) {
        out[i + r] = squared_norm(pk + r * g_stride, g_stride) *
                     squared_norm(pv + r * g_stride, g_stride);
    }
}

// Columns of a 24-column g past the first 16 that the split projection must
// compute (4 when columns 20..23 are all zero, else 8), transposed into gt
// ([8, head_dim]); 0 when the split projection does not apply (another
// stride, or a head_dim that is not a multiple of 16 or too large).
int64_t cur_split_tail(const float* g, int64_t g_stride, int64_t head_dim, float* gt) {
    if (g_stride != 24 || head_dim % kLanes != 0 || head_dim > kCurSplitMaxDim) return 0;
    int64_t tail = 4;
    for (int64_t d = 0; d < head_dim && tail == 4; ++d) {
        for (int64_t c = 20; c < 24; ++c) {
            if (g[d * g_stride + c] != 0.0f) tail = 8;
        }
    }
    for (int64_t c = 0; c < tail; ++c) {
        for (int64_t d = 0; d < head_dim; ++d) gt[c * head_dim + d] = g[d * g_stride + 16 + c];
    }
    return tail;
}

// out[i] = |k_i G|^2 * |v_i G|^2 with g: [head_dim, g_stride], g_stride a
// multiple of 8 (zero columns past the rank add nothing). proj holds
// 2 * kCurRows * g_stride floats; gt and tail come from cur_split_tail (tail
// 0: the general path).
VASE_VECTOR_CLONES
void cur_pass(const float* keys, const float* values, int64_t n, int64_t head_dim, const float* g,
              int64_t g_stride, const float* gt, int64_t tail, float* proj, double* out) {
    if (tail != 0) {  // rank 17..24, the policy's default 20 among them: rows in fours
        int64_t i = 0;
        if (tail == 4) {
            for (; i + kCurRows <= n; i += kCurRows) {
                cur_scores_split<kCurRows, 4>(keys, values, i, head_dim, g, g_stride, gt, proj, out);
            }
            for (; i < n; ++i) cur_scores_split<1, 4>(keys, values, i, head_dim, g, g_stride, gt, proj, out);
        } else {
            for (; i + kCurRows <= n; i += kCurRows) {
                cur_scores_split<kCurRows, 8>(keys, values, i, head_dim, g, g_stride, gt, proj, out);
            }
            for (; i < n; ++i) cur_scores_split<1, 8>(keys, values, i, head_dim, g, g_stride, gt, proj, out);
        }
        return;
    }
    float* pk = proj;
    float* pv = proj + g_stride;
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const float* v = values + i * head_dim;
        for (int64_t c0 = 0; c0 < g_stride; c0 += 8) {
            V8 k0{}, v0{};
            for (int64_t d = 0; d < head_dim; ++d) {
                const V8 g0 = load8(g + d * g_stride + c0);
                k0 += g0 * k[d];
                v0 += g0 * v[d];
            }
            store8(pk + c0, k0);
            store8(pv + c0, v0);
        }
        out[i] = squared_norm(pk, g_stride) * squared_norm(pv, g_stride);
    }
}

// out[i] = max_d v_i[d] - min_d v_i[d] (in double), head_dim a multiple of 16.
VASE_VECTOR_CLONES
void value_ranges(const float* values, int64_t n, int64_t head_dim, double* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float* v = values + i * head_dim;
        V16 lo = load16(v);
        V16 hi = lo;
        for (int64_t d = kLanes; d < head_dim; d += kLanes) {
            const V16 x = load16(v + d);
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        float mn = lo[0], mx = hi[0];
        for (int l = 1; l < kLanes; ++l) {
            mn = std::min(mn, lo[l]);
            mx = std::max(mx, hi[l]);
        }
        out[i] = static_cast<double>(mx) - static_cast<double>(mn);
    }
}

// sum_d x[d] * y[d] in double, 8 partial sums.
VASE_INLINE double dot_f64(const float* x, const double* y, int64_t n, double scale_x) {
    V8d acc{};
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        V8d xv = __builtin_convertvector(load8(x + d), V8d) * scale_x;
        V8d yv;
        std::memcpy(&yv, y + d, sizeof yv);
        acc += xv * yv;
    }
    double s = lane_sum(acc);
    for (; d < n; ++d) s += static_cast<double>(x[d]) * scale_x * y[d];
    return s;
}

// inv_norm[i] = 1 / (|k_i| + 1e-8); key_sum = sum_i k_i * inv_norm[i].
VASE_VECTOR_CLONES
void key_sum_pass(const float* keys, int64_t n, int64_t head_dim, double* inv_norm,
                  double* key_sum) {
    std::fill(key_sum, key_sum + head_dim, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const double inv = 1.0 / (std::sqrt(squared_norm(k, head_dim)) + 1e-8);
        inv_norm[i] = inv;
        for (int64_t d = 0; d < head_dim; ++d) key_sum[d] += static_cast<double>(k[d]) * inv;
    }
}

// r[i] = key_sum . khat_i - khat_i . khat_i  (r holds inv_norm on entry).
VASE_VECTOR_CLONES
void redundancy_pass(const float* keys, int64_t n, int64_t head_dim, const double* key_sum,
                     double* r) {
    for (int64_t i = 0; i < n; ++i) {
        const float* k = keys + i * head_dim;
        const double inv = r[i];
        const double with_self = dot_f64(k, key_sum, head_dim, inv);
        const double self = squared_norm(k, head_dim) * inv * inv;
        r[i] = with_self - self;
    }
}

// max_out = max of x[0..n), sum_out = their sum in double (fixed lane order).
VASE_VECTOR_CLONES
void max_and_sum(const float* x, int64_t n, float* max_out, double* sum_out) {
    float m = -std::numeric_limits<float>::infinity();
    V16 vm = splat(m);
    V8d s0{}, s1{};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const V16 v = load16(x + i);
        vm = v > vm ? v : vm;
        s0 += __builtin_convertvector(load8(x + i), V8d);
        s1 += __builtin_convertvector(load8(x + i + 8), V8d);
    }
    double sum = lane_sum(s0) + lane_sum(s1);
    for (int l = 0; l < kLanes; ++l) m = std::max(m, vm[l]);
    for (; i < n; ++i) {
        m = std::max(m, x[i]);
        sum += static_cast<double>(x[i]);
    }
    *max_out = m;
    *sum_out = sum;
}

// x[i] = exp(x[i] - m) for x[i] <= m (0 below kExpMin, as exp_pass); returns their sum.
VASE_VECTOR_CLONES
double exp_shifted(float* x, int64_t n, float m) {
    V8d s0{}, s1{};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        store16(x + i, exp_nonpositive(load16(x + i) - m));
        s0 += __builtin_convertvector(load8(x + i), V8d);
        s1 += __builtin_convertvector(load8(x + i + 8), V8d);
    }
    double sum = lane_sum(s0) + lane_sum(s1);
    for (; i < n; ++i) {
        const float d = x[i] - m;
        x[i] = d < kExpMin ? 0.0f : std::exp(d);
        sum += static_cast<double>(x[i]);
    }
    return sum;
}

// acc[i] += a * x[i].
VASE_VECTOR_CLONES
void add_scaled(const float* x, int64_t n, float a, float* acc) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store16(acc + i, load16(acc + i) + load16(x + i) * a);
    for (; i < n; ++i) acc[i] += a * x[i];
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

void AttentionScorer::score(const LayerView& view, int64_t kv_head, float temperature, bool smooth,
                            double* out) {
    const int64_t n = view.n;
    const int64_t d = view.head_dim;
    const int64_t n_queries = view.n_queries;
    if (n_queries < 1) fail("attention scoring needs at least one buffered query (got 0)");
    if (n > max_candidates_ || d != head_dim_ || round_up(n_queries, kLanes) > max_lanes_) {
        fail(
            "attention scoring: view ({} candidates, head_dim {}, {} queries) exceeds the sizes "
            "it was built for ({}, {}, {})",
            n, d, n_queries, max_candidates_, head_dim_, max_lanes_);
    }
    if (n == 0) return;
    const int64_t group = view.n_q_heads / view.n_kv_heads;
    const double inv_group = 1.0 / static_cast<double>(group);
    if (view.window_scores != nullptr) {
        // Summed while decoding over the window's queries and the group's heads.
        const float* sums = view.window_scores + kv_head * view.window_score_stride;
        const double inv = inv_group / static_cast<double>(n_queries);
        double* mean = smooth ? group_sum_.data() : out;
        for (int64_t i = 0; i < n; ++i) mean[i] = static_cast<double>(sums[i]) * inv;
        if (smooth) smooth_scores(group_sum_.data(), n, out);
        return;
    }
    const int64_t lanes = round_up(n_queries, kLanes);
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
    if (smooth) {
        for (int64_t i = 0; i < n; ++i) group_sum_[i] *= inv_group;
        smooth_scores(group_sum_.data(), n, out);
    } else {
        for (int64_t i = 0; i < n; ++i) out[i] = group_sum_[i] * inv_group;
    }
}

void accumulate_window_attention(float* p, int64_t group, int64_t n_slots, int64_t n_candidates,
                                 const float* q, const void* keys, DType kv_type, int64_t head_dim,
                                 float scale, float temperature, float* acc) {
    const int64_t n = std::min(n_slots, n_candidates);
    if (n <= 0) return;
    const uint64_t stride = dtype_row_bytes(kv_type, static_cast<uint64_t>(head_dim));
    for (int64_t g = 0; g < group; ++g) {
        float* pg = p + g * n_slots;
        float largest = 0.0f;
        double sum = 0.0;
        if (temperature == 1.0f) max_and_sum(pg, n, &largest, &sum);
        if (temperature != 1.0f || largest < kWindowReuseMin) {
            // The candidates' own softmax, from their logits (as the scorer computes them).
            const float* qg = q + g * head_dim;
            const float s = scale / temperature;
            const auto* k = static_cast<const uint8_t*>(keys);
            alignas(64) float stack_row[512];
            std::vector<float> heap_row;  // only for head_dim > 512 (no such model yet)
            if (head_dim > 512) heap_row.resize(static_cast<size_t>(head_dim));
            float* row = head_dim > 512 ? heap_row.data() : stack_row;
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t i = 0; i < n; ++i) {
                dequantize_row(kv_type, k + i * stride, head_dim, row);
                pg[i] = dot(qg, row, head_dim) * s;
                m = std::max(m, pg[i]);
            }
            sum = exp_shifted(pg, n, m);
        }
        add_scaled(pg, n, static_cast<float>(1.0 / sum), acc);
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
    if (kind == Magnitude::kRange && head_dim % kLanes == 0) {
        value_ranges(values, n, head_dim, out);
        return;
    }
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

void key_redundancy(const float* keys, int64_t n, int64_t head_dim, double* key_sum, double* out) {
    if (n == 0) return;
    // out holds 1 / (|k_i| + 1e-8) until it receives r_i.
    key_sum_pass(keys, n, head_dim, out, key_sum);
    redundancy_pass(keys, n, head_dim, key_sum, out);
    double max_r = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        out[i] /= static_cast<double>(n);
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
    float gt[8 * kCurSplitMaxDim];
    const int64_t tail = cur_split_tail(g, g_stride, head_dim, gt);
    cur_pass(keys, values, n, head_dim, g, g_stride, gt, tail, proj, out);
}

void cur_raw_scores(DType type, const void* keys, const void* values, int64_t n,
                    int64_t head_dim, const float* g, int64_t g_stride, float* rows, float* proj,
                    double* out) {
    const uint64_t row_bytes = dtype_row_bytes(type, static_cast<uint64_t>(head_dim));
    const auto* k = static_cast<const uint8_t*>(keys);
    const auto* v = static_cast<const uint8_t*>(values);
    float gt[8 * kCurSplitMaxDim];
    const int64_t tail = cur_split_tail(g, g_stride, head_dim, gt);
    float* krows = rows;
    float* vrows = rows + kCurBlock * head_dim;
    for (int64_t i0 = 0; i0 < n; i0 += kCurBlock) {
        const int64_t m = std::min(kCurBlock, n - i0);
        const uint64_t at = static_cast<uint64_t>(i0) * row_bytes;
        dequantize_row(type, k + at, m * head_dim, krows);
        dequantize_row(type, v + at, m * head_dim, vrows);
        // The next block's rows come from memory while this one is projected:
        // a slice of its lines before each kCurRows rows, so that the requests
        // stay within what the core keeps in flight (all at once, most were
        // dropped and the conversion waited on memory).
        const uint64_t next = at + static_cast<uint64_t>(m) * row_bytes;
        const uint64_t next_end =
            std::min(static_cast<uint64_t>(n) * row_bytes, next + kCurBlock * row_bytes);
        const uint64_t slice = (kCurBlock * row_bytes / (kCurBlock / kCurRows) + 63) / 64 * 64;
        uint64_t b = next;
        for (int64_t r = 0; r < m; r += kCurRows) {
            for (const uint64_t end = std::min(next_end, b + slice); b < end; b += 64) {
                __builtin_prefetch(k + b);
                __builtin_prefetch(v + b);
            }
            cur_pass(krows + r * head_dim, vrows + r * head_dim, std::min(kCurRows, m - r),
                     head_dim, g, g_stride, gt, tail, proj, out + i0 + r);
        }
    }
}

}  // namespace vase
