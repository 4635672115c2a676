// Vector kernels of the forward pass (all but matmul, see matmul.cpp),
// compiled for several SIMD targets and dispatched at run time (Highway).
// Tails shorter than a vector use the scalar formulas.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "ops/simd_inl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>

#include "ops/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace vase {
namespace HWY_NAMESPACE {

const char* target_name() {
    return hwy::TargetName(HWY_TARGET);
}

// ------------------------------------------------------------ conversions

template <DType T>
HWY_INLINE void dequantize_float(const void* row, int64_t n, float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    int64_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(load_f32<T>(df, row, i), df, out + i);
    for (; i < n; ++i) out[i] = load_scalar<T>(row, i);
}

HWY_INLINE void dequantize_q8(const void* row, int64_t n, float* out) {
    const hn::CappedTag<float, 16> df;
    const hn::Rebind<int32_t, decltype(df)> di;
    const hn::Rebind<int8_t, decltype(df)> d8;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const uint8_t* blocks = static_cast<const uint8_t*>(row);
    int64_t i0 = 0;
    for (; i0 + kQ8BlockSize <= n; i0 += kQ8BlockSize) {
        const uint8_t* block = blocks + i0 / kQ8BlockSize * sizeof(BlockQ8_0);
        const auto scale = q8_scale(df, block);
        const int8_t* q = reinterpret_cast<const int8_t*>(block + offsetof(BlockQ8_0, q));
        for (int64_t j = 0; j < kQ8BlockSize; j += N) {
            const auto v = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, q + j)));
            hn::StoreU(hn::Mul(v, scale), df, out + i0 + j);
        }
    }
    if (i0 < n) {
        scalar::dequantize_row(DType::Q8_0, blocks + i0 / kQ8BlockSize * sizeof(BlockQ8_0), n - i0,
                               out + i0);
    }
}

void dequantize_row_impl(DType type, const void* row, int64_t n, float* out) {
    switch (type) {
        case DType::F32:
            return dequantize_float<DType::F32>(row, n, out);
        case DType::F16:
            return dequantize_float<DType::F16>(row, n, out);
        case DType::BF16:
            return dequantize_float<DType::BF16>(row, n, out);
        case DType::Q8_0:
            return dequantize_q8(row, n, out);
    }
}

void quantize_row_impl(DType type, const float* x, int64_t n, void* out) {
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    int64_t i = 0;
    if (type == DType::F16) {
        // F16C rounds to nearest even like f32_to_f16 (NaN payloads may differ).
        const hn::Rebind<hwy::float16_t, DF> dh;
        hwy::float16_t* p = static_cast<hwy::float16_t*>(out);
        for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, x + i)), dh, p + i);
        scalar::quantize_row(type, x + i, n - i, p + i);
        return;
    }
    if (type == DType::BF16) {
        // Round to nearest even on the bits, as f32_to_bf16; NaN stays a quiet NaN.
        const hn::RebindToUnsigned<DF> du;
        const hn::RebindToSigned<DF> di;
        const hn::Rebind<uint16_t, DF> d16;
        uint16_t* p = static_cast<uint16_t*>(out);
        for (; i + N <= n; i += N) {
            const VF v = hn::LoadU(df, x + i);
            const auto bits = hn::BitCast(du, v);
            const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
            const auto rounded = hn::Add(bits, hn::Add(hn::Set(du, 0x7fffu), lsb));
            const auto quiet = hn::Or(bits, hn::Set(du, 0x00400000u));
            const auto r = hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), quiet, rounded);
            hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(r))), d16, p + i);
        }
        scalar::quantize_row(type, x + i, n - i, p + i);
        return;
    }
#endif
    scalar::quantize_row(type, x, n, out);
}

float dot_impl(const float* a, const float* b, int64_t n) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    VF s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
        s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
        s1 = hn::MulAdd(hn::LoadU(df, a + i + N), hn::LoadU(df, b + i + N), s1);
        s2 = hn::MulAdd(hn::LoadU(df, a + i + 2 * N), hn::LoadU(df, b + i + 2 * N), s2);
        s3 = hn::MulAdd(hn::LoadU(df, a + i + 3 * N), hn::LoadU(df, b + i + 3 * N), s3);
    }
    for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
    float s = reduce_sum(df, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpy_impl(float alpha, const float* x, float* y, int64_t n) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const VF va = hn::Set(df, alpha);
    int64_t i = 0;
    for (; i + N <= n; i += N) {
        hn::StoreU(hn::MulAdd(va, hn::LoadU(df, x + i), hn::LoadU(df, y + i)), df, y + i);
    }
    for (; i < n; ++i) y[i] += alpha * x[i];
}

void rmsnorm_impl(const float* x, const float* weight, int64_t n, float eps, float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    // Four partial sums: short sums in f32 stay within ~1e-7 of the double sum.
    VF s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
        const VF a = hn::LoadU(df, x + i), b = hn::LoadU(df, x + i + N);
        const VF c = hn::LoadU(df, x + i + 2 * N), d = hn::LoadU(df, x + i + 3 * N);
        s0 = hn::MulAdd(a, a, s0);
        s1 = hn::MulAdd(b, b, s1);
        s2 = hn::MulAdd(c, c, s2);
        s3 = hn::MulAdd(d, d, s3);
    }
    for (; i + N <= n; i += N) {
        const VF a = hn::LoadU(df, x + i);
        s0 = hn::MulAdd(a, a, s0);
    }
    double ss = reduce_sum(df, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)));
    for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
    const VF vinv = hn::Set(df, inv);
    i = 0;
    for (; i + N <= n; i += N) {
        hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), vinv), hn::LoadU(df, weight + i)), df,
                   out + i);
    }
    for (; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

// Rotates pairs (x[i], x[i + half]) of every head by the angles whose cosines
// and sines are given. Mul then Sub (no FMA), as the scalar definition.
void rope_rotate(float* x, int64_t n_heads, int64_t head_dim, const float* cos_t,
                 const float* sin_t) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* lo = x + h * head_dim;
        float* hi = lo + half;
        int64_t i = 0;
        for (; i + N <= half; i += N) {
            const VF c = hn::LoadU(df, cos_t + i), s = hn::LoadU(df, sin_t + i);
            const VF a = hn::LoadU(df, lo + i), b = hn::LoadU(df, hi + i);
            hn::StoreU(hn::Sub(hn::Mul(a, c), hn::Mul(b, s)), df, lo + i);
            hn::StoreU(hn::Add(hn::Mul(b, c), hn::Mul(a, s)), df, hi + i);
        }
        for (; i < half; ++i) {
            const float a = lo[i], b = hi[i];
            lo[i] = a * cos_t[i] - b * sin_t[i];
            hi[i] = b * cos_t[i] + a * sin_t[i];
        }
    }
}

void silu_mul_impl(const float* gate, const float* up, int64_t n, float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const VF one = hn::Set(df, 1.0f);
    int64_t i = 0;
    for (; i + N <= n; i += N) {
        const VF g = hn::LoadU(df, gate + i);
        // silu(g) = g * sigmoid(g) with e = exp(-|g|) <= 1, so nothing overflows:
        // sigmoid = 1 / (1 + e) for g >= 0 and e / (1 + e) otherwise.
        const VF e = hn::Exp(df, hn::Neg(hn::Abs(g)));
        const VF num = hn::IfThenElse(hn::Lt(g, hn::Zero(df)), e, one);
        const VF silu = hn::Div(hn::Mul(g, num), hn::Add(one, e));
        hn::StoreU(hn::Mul(silu, hn::LoadU(df, up + i)), df, out + i);
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void softmax_impl(float* x, int64_t n) {
    if (n <= 0) return;
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    float m = -std::numeric_limits<float>::infinity();
    int64_t i = 0;
    if (n >= N) {
        VF vm = hn::LoadU(df, x);
        for (i = N; i + N <= n; i += N) vm = hn::Max(vm, hn::LoadU(df, x + i));
        m = hn::GetLane(hn::MaxOfLanes(df, vm));
    }
    for (; i < n; ++i) m = std::max(m, x[i]);
    const VF vm = hn::Set(df, m);
    VF vs = hn::Zero(df);
    i = 0;
    for (; i + N <= n; i += N) {
        const VF e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vm));
        hn::StoreU(e, df, x + i);
        vs = hn::Add(vs, e);
    }
    double sum = reduce_sum(df, vs);
    for (; i < n; ++i) {
        x[i] = std::exp(x[i] - m);
        sum += x[i];
    }
    const VF inv = hn::Set(df, static_cast<float>(1.0 / sum));
    i = 0;
    for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), inv), df, x + i);
    for (; i < n; ++i) x[i] *= static_cast<float>(1.0 / sum);
}

// ---------------------------------------------------------------- attention
//
// Slots are taken in blocks of kSlotBlock so that a block of keys (values)
// stays in L1 while every query head of the group, and every chunk of the
// head dimension, passes over it: each key and value is read from memory once.

inline constexpr int64_t kSlotBlock = 64;
// Query heads per pass over a block (G heads x 4 slots of accumulators).
inline constexpr int kGroupTile = kVectorRegs >= 32 ? 4 : 2;
// Vectors of the head dimension accumulated per pass in the value phase.
inline constexpr int kValueVecs = kVectorRegs >= 32 ? 4 : 2;

// Software prefetch distance in slots. One thread alone does not keep enough
// cache-line fills in flight over a sequential 16-bit cache for the hardware
// prefetcher to reach the memory bandwidth; asking kPrefetchSlots rows ahead does.
inline constexpr int64_t kPrefetchSlots = 32;

// Prefetches rows [s, s + count) of a [n_slots, stride] array (those that exist).
HWY_INLINE void prefetch_rows(const uint8_t* base, uint64_t stride, int64_t s, int64_t count,
                              int64_t n_slots) {
    const int64_t end = std::min(n_slots, s + count);
    for (int64_t r = s; r < end; ++r) {
        const uint8_t* row = base + r * stride;
        for (uint64_t b = 0; b < stride; b += 64) hwy::Prefetch(row + b);
    }
}

// scores[g][s] = scale * q_g . k_s for G query heads and S slots from s on:
// S keys are converted once and used by every head; the G x S dot products
// are reduced four at a time.
template <DType T, int G, int S>
HWY_INLINE void scores_tile(const float* q, const uint8_t* keys, uint64_t stride, int64_t head_dim,
                            float scale, int64_t s, float* scores, int64_t n_slots) {
    static_assert(S == 1 || S == 4, "slots per tile");
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const void* k[S];
    for (int j = 0; j < S; ++j) k[j] = keys + (s + j) * stride;
    VF acc[G][S];
    for (int g = 0; g < G; ++g)
        for (int j = 0; j < S; ++j) acc[g][j] = hn::Zero(df);
    int64_t d = 0;
    for (; d + N <= head_dim; d += N) {
        VF kv[S];
        for (int j = 0; j < S; ++j) kv[j] = in_register(load_f32<T>(df, k[j], d));
        for (int g = 0; g < G; ++g) {
            const VF qv = in_register(hn::LoadU(df, q + g * head_dim + d));
            for (int j = 0; j < S; ++j) acc[g][j] = hn::MulAdd(qv, kv[j], acc[g][j]);
        }
    }
    for (int g = 0; g < G; ++g) {
        float sum[S];
        if constexpr (S == 4) {
            reduce_sum4(df, acc[g][0], acc[g][1], acc[g][2], acc[g][3], sum);
        } else {
            sum[0] = reduce_sum(df, acc[g][0]);
        }
        for (int j = 0; j < S; ++j) {
            for (int64_t dd = d; dd < head_dim; ++dd) {
                sum[j] += q[g * head_dim + dd] * load_scalar<T>(k[j], dd);
            }
            scores[g * n_slots + s + j] = scale * sum[j];
        }
    }
}

template <DType T, int G>
HWY_INLINE void scores_block(const float* q, const uint8_t* keys, uint64_t stride, int64_t head_dim,
                             float scale, int64_t s0, int64_t s1, float* scores, int64_t n_slots) {
    int64_t s = s0;
    for (; s + 4 <= s1; s += 4) {
        prefetch_rows(keys, stride, s + kPrefetchSlots, 4, n_slots);
        scores_tile<T, G, 4>(q, keys, stride, head_dim, scale, s, scores, n_slots);
    }
    for (; s < s1; ++s) scores_tile<T, G, 1>(q, keys, stride, head_dim, scale, s, scores, n_slots);
}

// out[g][d0 .. d0 + V*N) += sum_s p[g][s] * v_s[same range], s in [s0, s1).
template <DType T, int G, int V>
HWY_INLINE void values_tile(const float* p, int64_t n_slots, const uint8_t* values, uint64_t stride,
                            int64_t head_dim, int64_t d0, int64_t s0, int64_t s1, float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    VF acc[G][V];
    for (int g = 0; g < G; ++g)
        for (int j = 0; j < V; ++j) acc[g][j] = hn::LoadU(df, out + g * head_dim + d0 + j * N);
    for (int64_t s = s0; s < s1; ++s) {
        if (d0 == 0) prefetch_rows(values, stride, s + kPrefetchSlots, 1, n_slots);
        const void* v = values + s * stride;
        VF vv[V];
        for (int j = 0; j < V; ++j) vv[j] = load_f32<T>(df, v, d0 + j * N);
        for (int g = 0; g < G; ++g) {
            const VF pg = hn::Set(df, p[g * n_slots + s]);
            for (int j = 0; j < V; ++j) acc[g][j] = hn::MulAdd(pg, vv[j], acc[g][j]);
        }
    }
    for (int g = 0; g < G; ++g)
        for (int j = 0; j < V; ++j) hn::StoreU(acc[g][j], df, out + g * head_dim + d0 + j * N);
}

template <DType T, int G>
HWY_INLINE void values_block(const float* p, int64_t n_slots, const uint8_t* values,
                             uint64_t stride, int64_t head_dim, int64_t s0, int64_t s1,
                             float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    int64_t d = 0;
    for (; d + kValueVecs * N <= head_dim; d += kValueVecs * N) {
        values_tile<T, G, kValueVecs>(p, n_slots, values, stride, head_dim, d, s0, s1, out);
    }
    for (; d + N <= head_dim; d += N) {
        values_tile<T, G, 1>(p, n_slots, values, stride, head_dim, d, s0, s1, out);
    }
    for (; d < head_dim; ++d) {
        for (int g = 0; g < G; ++g) {
            float acc = out[g * head_dim + d];
            for (int64_t s = s0; s < s1; ++s) {
                acc += p[g * n_slots + s] * load_scalar<T>(values + s * stride, d);
            }
            out[g * head_dim + d] = acc;
        }
    }
}

// Calls fn.template operator()<G>(g0) for query-head tiles of up to kGroupTile heads.
template <typename Fn>
HWY_INLINE void for_group_tiles(int64_t group, const Fn& fn) {
    int64_t g = 0;
    for (; g + kGroupTile <= group; g += kGroupTile) fn.template operator()<kGroupTile>(g);
    switch (group - g) {
        case 1:
            fn.template operator()<1>(g);
            break;
        case 2:
            fn.template operator()<2>(g);
            break;
        case 3:
            fn.template operator()<3>(g);
            break;
        default:
            break;
    }
}

template <DType T>
HWY_INLINE void attend_group_t(const float* q, int64_t group, const void* keys, const void* values,
                               int64_t n_slots, int64_t head_dim, float scale, float* scores,
                               float* out) {
    const uint64_t stride = dtype_row_bytes(T, static_cast<uint64_t>(head_dim));
    const uint8_t* k = static_cast<const uint8_t*>(keys);
    const uint8_t* v = static_cast<const uint8_t*>(values);
    for (int64_t s0 = 0; s0 < n_slots; s0 += kSlotBlock) {
        const int64_t s1 = std::min(n_slots, s0 + kSlotBlock);
        for_group_tiles(group, [&]<int G>(int64_t g0) {
            scores_block<T, G>(q + g0 * head_dim, k, stride, head_dim, scale, s0, s1,
                               scores + g0 * n_slots, n_slots);
        });
    }
    for (int64_t g = 0; g < group; ++g) softmax_impl(scores + g * n_slots, n_slots);
    std::fill(out, out + group * head_dim, 0.0f);
    for (int64_t s0 = 0; s0 < n_slots; s0 += kSlotBlock) {
        const int64_t s1 = std::min(n_slots, s0 + kSlotBlock);
        for_group_tiles(group, [&]<int G>(int64_t g0) {
            values_block<T, G>(scores + g0 * n_slots, n_slots, v, stride, head_dim, s0, s1,
                               out + g0 * head_dim);
        });
    }
}

void attend_group_impl(const float* q, int64_t group, const void* keys, const void* values,
                       DType kv_type, int64_t n_slots, int64_t head_dim, float scale, float* scores,
                       float* out) {
    switch (kv_type) {
        case DType::F32:
            return attend_group_t<DType::F32>(q, group, keys, values, n_slots, head_dim, scale,
                                              scores, out);
        case DType::F16:
            return attend_group_t<DType::F16>(q, group, keys, values, n_slots, head_dim, scale,
                                              scores, out);
        case DType::BF16:
            return attend_group_t<DType::BF16>(q, group, keys, values, n_slots, head_dim, scale,
                                               scores, out);
        case DType::Q8_0:
            assert(false && "attend: Q8_0 KV caches are not supported");
            return;
    }
}

}  // namespace HWY_NAMESPACE
}  // namespace vase
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace vase {

HWY_EXPORT(target_name);
HWY_EXPORT(dequantize_row_impl);
HWY_EXPORT(quantize_row_impl);
HWY_EXPORT(dot_impl);
HWY_EXPORT(axpy_impl);
HWY_EXPORT(rmsnorm_impl);
HWY_EXPORT(rope_rotate);
HWY_EXPORT(silu_mul_impl);
HWY_EXPORT(softmax_impl);
HWY_EXPORT(attend_group_impl);

std::vector<int64_t> simd_targets() {
    return hwy::SupportedAndGeneratedTargets();
}

const char* simd_target_name() {
    return HWY_DYNAMIC_DISPATCH(target_name)();
}

void force_simd_target(int64_t target) {
    hwy::SetSupportedTargetsForTest(target);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

void dequantize_row(DType type, const void* row, int64_t n, float* out) {
    HWY_DYNAMIC_DISPATCH(dequantize_row_impl)(type, row, n, out);
}

void quantize_row(DType type, const float* x, int64_t n, void* out) {
    HWY_DYNAMIC_DISPATCH(quantize_row_impl)(type, x, n, out);
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    HWY_DYNAMIC_DISPATCH(rmsnorm_impl)(x, weight, n, eps, out);
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq) {
    // The angles in double, as in the scalar definition, once for all heads;
    // the rotation is vectorised. Heads of up to 2 * kMaxHalf dimensions.
    constexpr int64_t kMaxHalf = 512;
    const int64_t half = head_dim / 2;
    assert(half <= kMaxHalf);
    float cos_t[kMaxHalf];
    float sin_t[kMaxHalf];
    for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(position) * inv_freq[i];
        cos_t[i] = static_cast<float>(std::cos(angle));
        sin_t[i] = static_cast<float>(std::sin(angle));
    }
    HWY_DYNAMIC_DISPATCH(rope_rotate)(x, n_heads, head_dim, cos_t, sin_t);
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
    HWY_DYNAMIC_DISPATCH(silu_mul_impl)(gate, up, n, out);
}

void softmax(float* x, int64_t n) {
    HWY_DYNAMIC_DISPATCH(softmax_impl)(x, n);
}

float dot(const float* a, const float* b, int64_t n) {
    return HWY_DYNAMIC_DISPATCH(dot_impl)(a, b, n);
}

void axpy(float a, const float* x, float* y, int64_t n) {
    HWY_DYNAMIC_DISPATCH(axpy_impl)(a, x, y, n);
}

void attend(const float* q, const void* keys, const void* values, DType kv_type, int64_t n_slots,
            int64_t head_dim, float scale, float* scores_scratch, float* out) {
    HWY_DYNAMIC_DISPATCH(attend_group_impl)
    (q, 1, keys, values, kv_type, n_slots, head_dim, scale, scores_scratch, out);
}

void attend_group(const float* q, int64_t group, const void* keys, const void* values,
                  DType kv_type, int64_t n_slots, int64_t head_dim, float scale,
                  float* scores_scratch, float* out) {
    HWY_DYNAMIC_DISPATCH(attend_group_impl)
    (q, group, keys, values, kv_type, n_slots, head_dim, scale, scores_scratch, out);
}

}  // namespace vase
#endif  // HWY_ONCE
