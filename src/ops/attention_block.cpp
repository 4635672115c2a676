// Tiled causal attention of a block of query rows (see attention_block.h),
// compiled for several SIMD targets and dispatched at run time (Highway).
//
// Per tile of kAttendTile slots: the keys are converted to f32 and transposed
// to [head_dim, tile] so that the scores of a few queries against the whole
// tile are outer-product FMAs (a broadcast query element times a vector of
// slots, no horizontal sums); the values are converted to [tile, head_dim] and
// added to the output rows of a few queries at a time, which are rescaled in
// the same pass when their running maximum grew.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/attention_block.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "ops/simd_inl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/attention_block.h"
#include "ops/kernels.h"

// Not per target: compiled on the first inclusion only.
#ifndef VASE_OPS_ATTENTION_BLOCK_SCRATCH_
#define VASE_OPS_ATTENTION_BLOCK_SCRATCH_
namespace vase {
namespace {

// Floats reserved for an array of n floats in the scratch: whole 64-byte lines.
constexpr int64_t lines(int64_t n) {
    return (n + 15) / 16 * 16;
}

// The scratch, carved into 64-byte-aligned arrays.
struct BlockScratch {
    float* kt;       // [head_dim, kAttendTile] key tile, transposed
    float* vt;       // [kAttendTile, head_dim] value tile
    float* p;        // [n_queries, kAttendTile] scores, then probabilities
    float* run_max;  // [n_queries] running maximum score
    float* run_sum;  // [n_queries] running sum of exp(score - run_max)
    float* corr;     // [n_queries] factor rescaling the output for this tile

    BlockScratch(float* scratch, int64_t n_queries, int64_t head_dim) {
        const auto addr = reinterpret_cast<uintptr_t>(scratch);
        float* base = scratch + (64 - addr % 64) % 64 / sizeof(float);
        kt = base;
        vt = kt + lines(head_dim * kAttendTile);
        p = vt + lines(head_dim * kAttendTile);
        run_max = p + lines(n_queries * kAttendTile);
        run_sum = run_max + lines(n_queries);
        corr = run_sum + lines(n_queries);
    }
    static int64_t floats(int64_t n_queries, int64_t head_dim) {
        // 15 floats of slack for the alignment (scratch is element-aligned).
        return 2 * lines(head_dim * kAttendTile) + lines(n_queries * kAttendTile) +
               3 * lines(n_queries) + 15;
    }
};

}  // namespace
}  // namespace vase
#endif  // VASE_OPS_ATTENTION_BLOCK_SCRATCH_

HWY_BEFORE_NAMESPACE();
namespace vase {
namespace HWY_NAMESPACE {

// Queries per register tile; slot vectors per score tile; head_dim vectors
// per value tile. AVX-512 (32 registers) holds 4 x 4 accumulators, the
// 16-register targets 4 x 2.
inline constexpr int kQueryTile = 4;
inline constexpr int kSlotVecs = kVectorRegs >= 32 ? 4 : 2;
inline constexpr int kDimVecs = kVectorRegs >= 32 ? 4 : 2;

// p[qi][col .. col + V*N) = scale * q[qi] . keys of those slots, qi < Q.
template <int Q, int V>
HWY_INLINE void score_tile(const float* const* q, const float* kt, int64_t head_dim, float scale,
                           int64_t col, float* p) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    VF acc[Q][V];
    for (int qi = 0; qi < Q; ++qi)
        for (int j = 0; j < V; ++j) acc[qi][j] = hn::Zero(df);
    for (int64_t d = 0; d < head_dim; ++d) {
        const float* krow = kt + d * kAttendTile + col;
        VF kv[V];
        for (int j = 0; j < V; ++j) kv[j] = in_register(hn::Load(df, krow + j * N));
        for (int qi = 0; qi < Q; ++qi) {
            const VF b = hn::Set(df, q[qi][d]);
            for (int j = 0; j < V; ++j) acc[qi][j] = hn::MulAdd(b, kv[j], acc[qi][j]);
        }
    }
    const VF vs = hn::Set(df, scale);
    for (int qi = 0; qi < Q; ++qi)
        for (int j = 0; j < V; ++j)
            hn::Store(hn::Mul(acc[qi][j], vs), df, p + qi * kAttendTile + col + j * N);
}

// o[qi][d0 .. d0 + V*N) = corr[qi] * o[qi][same] + sum_{t < n_t} p[qi][t] * vt[t][same].
template <int Q, int V>
HWY_INLINE void value_tile(float* const* o, const float* p, const float* corr, const float* vt,
                           int64_t head_dim, int64_t d0, int64_t n_t) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    VF acc[Q][V];
    for (int qi = 0; qi < Q; ++qi) {
        const VF c = hn::Set(df, corr[qi]);
        for (int j = 0; j < V; ++j) acc[qi][j] = hn::Mul(c, hn::LoadU(df, o[qi] + d0 + j * N));
    }
    for (int64_t t = 0; t < n_t; ++t) {
        const float* vrow = vt + t * head_dim + d0;
        VF vv[V];
        for (int j = 0; j < V; ++j) vv[j] = in_register(hn::LoadU(df, vrow + j * N));
        for (int qi = 0; qi < Q; ++qi) {
            const VF b = hn::Set(df, p[qi * kAttendTile + t]);
            for (int j = 0; j < V; ++j) acc[qi][j] = hn::MulAdd(b, vv[j], acc[qi][j]);
        }
    }
    for (int qi = 0; qi < Q; ++qi)
        for (int j = 0; j < V; ++j) hn::StoreU(acc[qi][j], df, o[qi] + d0 + j * N);
}

// Scores of Q queries against the whole tile (kAttendTile slots).
template <int Q>
HWY_INLINE void score_queries(const float* const* q, const float* kt, int64_t head_dim, float scale,
                              float* p) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    assert(kAttendTile % N == 0);
    int64_t col = 0;
    for (; col + kSlotVecs * N <= kAttendTile; col += kSlotVecs * N) {
        score_tile<Q, kSlotVecs>(q, kt, head_dim, scale, col, p);
    }
    for (; col < kAttendTile; col += N) score_tile<Q, 1>(q, kt, head_dim, scale, col, p);
}

// Output update of Q queries from the first n_t slots of the tile.
template <int Q>
HWY_INLINE void value_queries(float* const* o, const float* p, const float* corr, const float* vt,
                              int64_t head_dim, int64_t n_t) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    int64_t d = 0;
    for (; d + kDimVecs * N <= head_dim; d += kDimVecs * N) {
        value_tile<Q, kDimVecs>(o, p, corr, vt, head_dim, d, n_t);
    }
    for (; d + N <= head_dim; d += N) value_tile<Q, 1>(o, p, corr, vt, head_dim, d, n_t);
    for (; d < head_dim; ++d) {
        for (int qi = 0; qi < Q; ++qi) {
            float acc = corr[qi] * o[qi][d];
            for (int64_t t = 0; t < n_t; ++t) acc += p[qi * kAttendTile + t] * vt[t * head_dim + d];
            o[qi][d] = acc;
        }
    }
}

// Calls fn.template operator()<Q>(m) for query tiles of up to kQueryTile
// queries covering [m0, m1).
template <typename Fn>
HWY_INLINE void for_query_tiles(int64_t m0, int64_t m1, const Fn& fn) {
    int64_t m = m0;
    for (; m + kQueryTile <= m1; m += kQueryTile) fn.template operator()<kQueryTile>(m);
    switch (m1 - m) {
        case 1:
            fn.template operator()<1>(m);
            break;
        case 2:
            fn.template operator()<2>(m);
            break;
        case 3:
            fn.template operator()<3>(m);
            break;
        default:
            break;
    }
}

// Slots [s0, s0 + n_t) of a row-contiguous cache as f32 rows: out [n_t, head_dim].
template <DType T>
HWY_INLINE void convert_rows(const uint8_t* rows, uint64_t stride, int64_t s0, int64_t n_t,
                             int64_t head_dim, float* out) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    for (int64_t t = 0; t < n_t; ++t) {
        const void* row = rows + (s0 + t) * stride;
        float* o = out + t * head_dim;
        int64_t d = 0;
        for (; d + N <= head_dim; d += N) hn::StoreU(load_f32<T>(df, row, d), df, o + d);
        for (; d < head_dim; ++d) o[d] = load_scalar<T>(row, d);
    }
}

// Online softmax step of one query over the first `count` scores of its tile
// row p (count >= 1; slots [count, n_t) are masked to probability 0).
HWY_INLINE void online_softmax(float* p, int64_t count, int64_t n_t, float& run_max, float& run_sum,
                               float& corr) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    float m = -std::numeric_limits<float>::infinity();
    int64_t t = 0;
    if (count >= N) {
        VF vm = hn::Load(df, p);
        for (t = N; t + N <= count; t += N) vm = hn::Max(vm, hn::Load(df, p + t));
        m = hn::GetLane(hn::MaxOfLanes(df, vm));
    }
    for (; t < count; ++t) m = std::max(m, p[t]);
    const float new_max = std::max(run_max, m);
    // exp(-inf) = 0 on the first tile, when run_sum and the output are 0 too.
    corr = std::exp(run_max - new_max);
    const VF vm = hn::Set(df, new_max);
    VF vs = hn::Zero(df);
    t = 0;
    for (; t + N <= count; t += N) {
        const VF e = hn::Exp(df, hn::Sub(hn::Load(df, p + t), vm));
        hn::Store(e, df, p + t);
        vs = hn::Add(vs, e);
    }
    float sum = reduce_sum(df, vs);
    for (; t < count; ++t) {
        p[t] = std::exp(p[t] - new_max);
        sum += p[t];
    }
    for (; t < n_t; ++t) p[t] = 0.0f;
    run_sum = run_sum * corr + sum;
    run_max = new_max;
}

template <DType T>
void attend_causal_block_t(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                           const void* keys, const void* values, int64_t n_past, int64_t head_dim,
                           float scale, float* scratch, float* out, int64_t out_stride) {
    const int64_t n_queries = n_rows * group;
    const uint64_t stride = dtype_row_bytes(T, static_cast<uint64_t>(head_dim));
    const uint8_t* k = static_cast<const uint8_t*>(keys);
    const uint8_t* v = static_cast<const uint8_t*>(values);
    BlockScratch s(scratch, n_queries, head_dim);
    // Query m is head m % group of row m / group.
    auto q_of = [&](int64_t m) { return q + (m / group) * q_stride + (m % group) * head_dim; };
    auto out_of = [&](int64_t m) {
        return out + (m / group) * out_stride + (m % group) * head_dim;
    };
    for (int64_t m = 0; m < n_queries; ++m) {
        s.run_max[m] = -std::numeric_limits<float>::infinity();
        s.run_sum[m] = 0.0f;
        float* o = out_of(m);
        std::fill(o, o + head_dim, 0.0f);
    }
    const int64_t n_slots = n_past + n_rows;
    for (int64_t s0 = 0; s0 < n_slots; s0 += kAttendTile) {
        const int64_t n_t = std::min(kAttendTile, n_slots - s0);
        // Rows before first_row see no slot of this tile.
        const int64_t first_row = std::max<int64_t>(0, s0 - n_past);
        const int64_t m0 = first_row * group;
        // Keys: convert (into vt for now), then transpose into kt; the
        // columns past n_t are zeroed so every score is finite.
        convert_rows<T>(k, stride, s0, n_t, head_dim, s.vt);
        for (int64_t t = 0; t < n_t; ++t) {
            const float* krow = s.vt + t * head_dim;
            for (int64_t d = 0; d < head_dim; ++d) s.kt[d * kAttendTile + t] = krow[d];
        }
        if (n_t < kAttendTile) {
            for (int64_t d = 0; d < head_dim; ++d) {
                std::fill(s.kt + d * kAttendTile + n_t, s.kt + (d + 1) * kAttendTile, 0.0f);
            }
        }
        convert_rows<T>(v, stride, s0, n_t, head_dim, s.vt);
        for_query_tiles(m0, n_queries, [&]<int Q>(int64_t m) {
            const float* qs[Q];
            float* os[Q];
            int64_t visible = 0;  // slots of the tile the tile's last query sees
            for (int qi = 0; qi < Q; ++qi) qs[qi] = q_of(m + qi);
            score_queries<Q>(qs, s.kt, head_dim, scale, s.p + m * kAttendTile);
            for (int qi = 0; qi < Q; ++qi) {
                const int64_t row = (m + qi) / group;
                const int64_t count = std::min(n_t, n_past + row + 1 - s0);
                online_softmax(s.p + (m + qi) * kAttendTile, count, n_t, s.run_max[m + qi],
                               s.run_sum[m + qi], s.corr[m + qi]);
                os[qi] = out_of(m + qi);
                visible = std::max(visible, count);
            }
            value_queries<Q>(os, s.p + m * kAttendTile, s.corr + m, s.vt, head_dim, visible);
        });
    }
    for (int64_t m = 0; m < n_queries; ++m) {
        const DF df;
        const int64_t N = static_cast<int64_t>(hn::Lanes(df));
        float* o = out_of(m);
        const float inv = 1.0f / s.run_sum[m];
        int64_t d = 0;
        for (; d + N <= head_dim; d += N) {
            hn::StoreU(hn::Mul(hn::LoadU(df, o + d), hn::Set(df, inv)), df, o + d);
        }
        for (; d < head_dim; ++d) o[d] *= inv;
    }
}

void attend_causal_block_impl(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                              const void* keys, const void* values, DType kv_type, int64_t n_past,
                              int64_t head_dim, float scale, float* scratch, float* out,
                              int64_t out_stride) {
    switch (kv_type) {
        case DType::F32:
            return attend_causal_block_t<DType::F32>(q, q_stride, n_rows, group, keys, values,
                                                     n_past, head_dim, scale, scratch, out,
                                                     out_stride);
        case DType::F16:
            return attend_causal_block_t<DType::F16>(q, q_stride, n_rows, group, keys, values,
                                                     n_past, head_dim, scale, scratch, out,
                                                     out_stride);
        case DType::BF16:
            return attend_causal_block_t<DType::BF16>(q, q_stride, n_rows, group, keys, values,
                                                      n_past, head_dim, scale, scratch, out,
                                                      out_stride);
        case DType::Q8_0:
            assert(false && "attend_causal_block: Q8_0 KV caches are not supported");
            return;
    }
}

}  // namespace HWY_NAMESPACE
}  // namespace vase
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace vase {

HWY_EXPORT(attend_causal_block_impl);

void attend_causal_block(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                         const void* keys, const void* values, DType kv_type, int64_t n_past,
                         int64_t head_dim, float scale, float* scratch, float* out,
                         int64_t out_stride) {
    if (n_rows <= 0 || group <= 0) return;
    HWY_DYNAMIC_DISPATCH(attend_causal_block_impl)
    (q, q_stride, n_rows, group, keys, values, kv_type, n_past, head_dim, scale, scratch, out,
     out_stride);
}

int64_t attend_causal_block_scratch(int64_t n_rows, int64_t group, int64_t head_dim) {
    return BlockScratch::floats(std::max<int64_t>(0, n_rows * group), head_dim);
}

namespace scalar {

void attend_causal_block(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                         const void* keys, const void* values, DType kv_type, int64_t n_past,
                         int64_t head_dim, float scale, float* scratch, float* out,
                         int64_t out_stride) {
    const uint64_t stride = dtype_row_bytes(kv_type, static_cast<uint64_t>(head_dim));
    const uint8_t* k = static_cast<const uint8_t*>(keys);
    const uint8_t* v = static_cast<const uint8_t*>(values);
    std::vector<float> row(static_cast<size_t>(head_dim));
    for (int64_t i = 0; i < n_rows; ++i) {
        const int64_t n = n_past + i + 1;  // causal: the earlier slots and its own
        for (int64_t g = 0; g < group; ++g) {
            const float* qg = q + i * q_stride + g * head_dim;
            float* o = out + i * out_stride + g * head_dim;
            for (int64_t t = 0; t < n; ++t) {
                scalar::dequantize_row(kv_type, k + t * stride, head_dim, row.data());
                float acc = 0.0f;
                for (int64_t d = 0; d < head_dim; ++d) acc += qg[d] * row[d];
                scratch[t] = scale * acc;
            }
            scalar::softmax(scratch, n);
            std::fill(o, o + head_dim, 0.0f);
            for (int64_t t = 0; t < n; ++t) {
                scalar::dequantize_row(kv_type, v + t * stride, head_dim, row.data());
                for (int64_t d = 0; d < head_dim; ++d) o[d] += scratch[t] * row[d];
            }
        }
    }
}

}  // namespace scalar
}  // namespace vase
#endif  // HWY_ONCE
