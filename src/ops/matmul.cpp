// matmul: y[b, r] = sum_c w[r, c] * x[b, c] with f32, f16, bf16 or Q8_0
// weights, f32 activations and f32 accumulation, compiled for several SIMD
// targets and dispatched at run time (Highway).
//
// The weights are streamed once per call (for up to kBatchChunk activation
// rows): threads claim chunks of rows and walk them in tiles of 4 (or 6)
// rows x up to kTileBatch activation rows. A tile converts each
// weight vector to f32 once and uses it for every activation row of the
// tile, with one accumulator register per (row, activation) pair; the rows of
// a tile stay in L1 while the other activation rows of the chunk pass by.
// With one activation row (decode) nothing is reused across rows, so a tile
// is one row, read front to back: a thread's reads are then one sequential
// stream, which the hardware prefetchers follow best (on a Zen 4 host, 4-row
// tiles that read four rows side by side reached only ~0.65x the bandwidth).
// The row keeps several accumulators so that the loop is limited by memory,
// not by FMA latency. On AVX-512 a BF16 row is read in whole cache lines
// whatever its alignment (row_bf16_vec_by_lines).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>

#include "ops/kernels.h"
#include "ops/matmul_bf16.h"
#include "ops/simd_inl.h"

#ifndef VASE_OPS_MATMUL_JOB_
#define VASE_OPS_MATMUL_JOB_
namespace vase {
// One matmul call, shared by the pool's threads: they claim chunks of
// chunk_rows rows through `next` until n_chunks are taken.
struct MatmulJob {
    DType wtype;
    const uint8_t* w;
    int64_t rows, cols;
    const float* x;
    int64_t n_batch;
    float* y;
    int64_t chunk_rows, n_chunks;
    std::atomic<int64_t>* next;
};
}  // namespace vase
#endif

HWY_BEFORE_NAMESPACE();
namespace vase {
namespace HWY_NAMESPACE {

inline constexpr int kTileRows = 4;
// Rows per tile against one activation row (see the top of the file).
inline constexpr int kVecTileRows = 1;
inline constexpr int kTileBatch = kVectorRegs >= 32 ? 4 : 2;
// With several activation rows, f16/bf16 weights use 6-row tiles on AVX-512
// (24 accumulators + 4 activation vectors + 1 weight vector registers):
// fewer loads per FMA, ~10% faster. Not for f32 (six f32 rows and the
// activation tile overflow L1: 25% slower) nor Q8_0 (per-row scales).
template <DType T>
inline constexpr int kBatchTileRows = kVectorRegs >= 32 && (T == DType::F16 || T == DType::BF16)
                                          ? 6
                                          : kTileRows;
// Activation rows per pass over the weights. 16 activation rows of up to a
// few thousand columns stay in L2, so x is not re-read from memory per tile.
inline constexpr int64_t kBatchChunk = 16;

// Where a tile reads and writes. x and y are offset to the tile's first
// activation row; w is the row block's first row.
struct TileArgs {
    const uint8_t* w;
    uint64_t w_stride;  // bytes between weight rows
    int64_t cols;
    const float* x;  // [nb, cols]
    float* y;        // [nb, rows], row r of the tile at y[b * rows + r]
    int64_t rows;
    // BF16 matvec only, else null: x regrouped per 2N columns into the even
    // then the odd columns (see tile_bf16_vec).
    const float* x_pairs = nullptr;
};

// Float weights (F32/F16/BF16): R rows x NB activation rows, U vectors per step.
template <DType T, int R, int NB, int U>
HWY_INLINE void tile_float(const TileArgs& a) {
    const DF df;
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));
    const void* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = a.w + r * a.w_stride;
    VF acc[U][R][NB];
    for (int u = 0; u < U; ++u)
        for (int r = 0; r < R; ++r)
            for (int b = 0; b < NB; ++b) acc[u][r][b] = hn::Zero(df);

    int64_t c = 0;
    for (; c + U * n <= a.cols; c += U * n) {
        for (int u = 0; u < U; ++u) {
            VF xv[NB];
            for (int b = 0; b < NB; ++b) {
                xv[b] = in_register(hn::LoadU(df, a.x + b * a.cols + c + u * n));
            }
            for (int r = 0; r < R; ++r) {
                const VF wv = in_register(load_f32<T>(df, wr[r], c + u * n));
                for (int b = 0; b < NB; ++b) acc[u][r][b] = hn::MulAdd(wv, xv[b], acc[u][r][b]);
            }
        }
    }
    for (; c + n <= a.cols; c += n) {  // U > 1: whole vectors left over
        VF xv[NB];
        for (int b = 0; b < NB; ++b) xv[b] = hn::LoadU(df, a.x + b * a.cols + c);
        for (int r = 0; r < R; ++r) {
            const VF wv = load_f32<T>(df, wr[r], c);
            for (int b = 0; b < NB; ++b) acc[0][r][b] = hn::MulAdd(wv, xv[b], acc[0][r][b]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int b = 0; b < NB; ++b) {
            VF sum = acc[0][r][b];
            for (int u = 1; u < U; ++u) sum = hn::Add(sum, acc[u][r][b]);
            float s = reduce_sum(df, sum);
            for (int64_t cc = c; cc < a.cols; ++cc) {
                s += load_scalar<T>(wr[r], cc) * a.x[b * a.cols + cc];
            }
            a.y[b * a.rows + r] = s;
        }
    }
}

// Q8_0 weights: each int8 vector is widened to f32 and scaled once per tile.
// At most 16 lanes so that a vector never straddles a 32-value block.
template <int R, int NB>
HWY_INLINE void tile_q8(const TileArgs& a) {
    const hn::CappedTag<float, 16> df;
    const hn::Rebind<int32_t, decltype(df)> di;
    const hn::Rebind<int8_t, decltype(df)> d8;
    using V = hn::Vec<decltype(df)>;
    constexpr int64_t kB = kQ8BlockSize;
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));
    constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
    constexpr int64_t kQOffset = offsetof(BlockQ8_0, q);
    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = a.w + r * a.w_stride;
    V acc[R][NB];
    for (int r = 0; r < R; ++r)
        for (int b = 0; b < NB; ++b) acc[r][b] = hn::Zero(df);

    const int64_t n_blocks = a.cols / kB;
    for (int64_t k = 0; k < n_blocks; ++k) {
        V scale[R];
        for (int r = 0; r < R; ++r) scale[r] = q8_scale(df, wr[r] + k * kBlockBytes);
        for (int64_t j = 0; j < kB; j += n) {
            V xv[NB];
            for (int b = 0; b < NB; ++b) xv[b] = hn::LoadU(df, a.x + b * a.cols + k * kB + j);
            for (int r = 0; r < R; ++r) {
                const int8_t* qs =
                    reinterpret_cast<const int8_t*>(wr[r] + k * kBlockBytes + kQOffset) + j;
                const V q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, qs)));
                const V wv = hn::Mul(q, scale[r]);
                for (int b = 0; b < NB; ++b) acc[r][b] = hn::MulAdd(wv, xv[b], acc[r][b]);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int b = 0; b < NB; ++b)
            a.y[b * a.rows + r] = hn::GetLane(hn::SumOfLanes(df, acc[r][b]));
    }
}

// Q8_0 against one activation row: the block's dot product in f32 first,
// then one multiply-add by the block scale (rather than scaling each weight).
template <int R>
HWY_INLINE void tile_q8_vec(const TileArgs& a) {
    const hn::CappedTag<float, 16> df;
    const hn::Rebind<int32_t, decltype(df)> di;
    const hn::Rebind<int8_t, decltype(df)> d8;
    using V = hn::Vec<decltype(df)>;
    constexpr int64_t kB = kQ8BlockSize;
    constexpr int64_t kVecs = kB / hn::MaxLanes(df);
    constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
    constexpr int64_t kQOffset = offsetof(BlockQ8_0, q);
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));
    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = a.w + r * a.w_stride;
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = hn::Zero(df);

    const int64_t n_blocks = a.cols / kB;
    for (int64_t k = 0; k < n_blocks; ++k) {
        V xv[kVecs];
        for (int64_t j = 0; j < kVecs; ++j)
            xv[j] = in_register(hn::LoadU(df, a.x + k * kB + j * n));
        for (int r = 0; r < R; ++r) {
            const uint8_t* block = wr[r] + k * kBlockBytes;
            // Two tiles ahead: Q8_0 rows are short (1 KB at 1024 columns).
            // Unlike for BF16, this measured faster than none (~15%).
            hwy::Prefetch(block + 2 * R * a.w_stride);
            const int8_t* qs = reinterpret_cast<const int8_t*>(block + kQOffset);
            V dot = hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, qs))), xv[0]);
            for (int64_t j = 1; j < kVecs; ++j) {
                const V q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, qs + j * n)));
                dot = hn::MulAdd(q, xv[j], dot);
            }
            acc[r] = hn::MulAdd(dot, q8_scale(df, block), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) a.y[r] = hn::GetLane(hn::SumOfLanes(df, acc[r]));
}

#if HWY_TARGET != HWY_SCALAR
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// One BF16 row (tile_bf16_vec<1>) read as whole 64-byte cache lines. Its
// start may lie `off` bytes past a line (any multiple of 4; every tensor of a
// GGUF file with the default 32-byte alignment sits 32 bytes off a line),
// where an unaligned 64-byte load would span two lines: on a Zen 5 host the
// decode step then read ~20% slower than the same weights aligned. Every
// vector but the row's first and last is built from the two aligned lines it
// spans by one two-table permute, equal to the unaligned load to the bit, so
// the sums (and the logits) do not depend on where the file put the tensor.
// The first and last vectors are loaded unaligned: an aligned load there
// would read bytes outside the row. Each line is loaded one step before its
// products; with off = 0 this loop also measured a little faster than plain
// aligned loads (4 alternated runs of BM_decode_matmuls, 1-17%). Needs at
// least three whole vectors.
HWY_INLINE void row_bf16_vec_by_lines(const TileArgs& a, uint64_t off) {
    const DF df;
    const hn::RebindToUnsigned<DF> du;
    using VU = hn::Vec<decltype(du)>;
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));  // 16
    const auto high = hn::Set(du, 0xffff0000u);
    const int64_t n_vecs = a.cols / (2 * n);  // whole 64-byte vectors
    const uint8_t* w = a.w;
    const uint32_t* base = reinterpret_cast<const uint32_t*>(w - off);  // line-aligned
    // Lane i of a vector is lane i + shift of the line it starts in, or lane
    // i + shift - 16 of the next line (index bit 4 picks the second table).
    const __m512i idx =
        _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(off / 4)));
    VF even[2], odd[2];
    even[0] = odd[0] = even[1] = odd[1] = hn::Zero(df);
    // The vector of columns [2nk, 2nk + 2n) into accumulator set u.
    auto fma = [&](int u, VU bits, int64_t k) HWY_ATTR {
        const VF xe = hn::LoadU(df, a.x_pairs + 2 * n * k);
        const VF xo = hn::LoadU(df, a.x_pairs + 2 * n * k + n);
        even[u] = hn::MulAdd(hn::BitCast(df, hn::ShiftLeft<16>(bits)), xe, even[u]);
        odd[u] = hn::MulAdd(hn::BitCast(df, hn::And(bits, high)), xo, odd[u]);
    };
    auto line = [&](int64_t j) HWY_ATTR { return hn::Load(du, base + 16 * j); };
    auto join = [&](VU lo, VU hi) HWY_ATTR {
        const __m512i v = _mm512_permutex2var_epi32(lo.raw, idx, hi.raw);
        return VU{v};
    };
    fma(0, hn::LoadU(du, reinterpret_cast<const uint32_t*>(w)), 0);
    VU prev = line(1);
    int64_t k = 1;  // vectors 1 .. n_vecs - 2 from lines k and k + 1
    for (; k + 2 < n_vecs; k += 2) {
        const VU next = line(k + 1), after = line(k + 2);
        fma(1, join(prev, next), k);
        fma(0, join(next, after), k + 1);
        prev = after;
    }
    if (k + 1 < n_vecs) {
        fma(1, join(prev, line(k + 1)), k);
        ++k;
    }
    const VU last = hn::LoadU(du, reinterpret_cast<const uint32_t*>(w + 4 * n * k));
    if (k & 1) {
        fma(1, last, k);
    } else {
        fma(0, last, k);
    }
    float s = reduce_sum(df, hn::Add(hn::Add(even[0], odd[0]), hn::Add(even[1], odd[1])));
    for (int64_t cc = 2 * n * n_vecs; cc < a.cols; ++cc) {
        s += load_scalar<DType::BF16>(w, cc) * a.x[cc];
    }
    a.y[0] = s;
}
#endif

// BF16 against one activation row without widening shuffles: a u32 lane
// holds two bf16 weights, and `<< 16` and `& 0xffff0000` turn it into the
// even and the odd weight as f32. x_pairs holds x regrouped to match, so a
// vector of 2N weights costs one load, two bit operations and two FMAs.
// Two such vectors per step (four accumulators per row): with two, a single
// row was ~10% slower, bound by FMA latency rather than by memory. No
// software prefetch: rows are read in order, and prefetching the next row
// measured slower than the hardware prefetcher alone.
template <int R>
HWY_INLINE void tile_bf16_vec(const TileArgs& a) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    if constexpr (R == 1) {
        const uint64_t off = reinterpret_cast<uintptr_t>(a.w) % 64;
        if (off % 4 == 0 && a.cols >= 3 * 2 * 16) return row_bf16_vec_by_lines(a, off);
    }
#endif
    const DF df;
    const hn::RebindToUnsigned<DF> du;
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));
    const auto high = hn::Set(du, 0xffff0000u);
    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = a.w + r * a.w_stride;
    VF even[2][R], odd[2][R];
    for (int u = 0; u < 2; ++u)
        for (int r = 0; r < R; ++r) even[u][r] = odd[u][r] = hn::Zero(df);
    // One vector of 2N weights at column c into accumulator set u.
    auto step = [&](int u, int64_t c) HWY_ATTR {
        const VF xe = in_register(hn::LoadU(df, a.x_pairs + c));
        const VF xo = in_register(hn::LoadU(df, a.x_pairs + c + n));
        for (int r = 0; r < R; ++r) {
            const auto bits = hn::LoadU(du, reinterpret_cast<const uint32_t*>(wr[r] + c * 2));
            even[u][r] = hn::MulAdd(hn::BitCast(df, hn::ShiftLeft<16>(bits)), xe, even[u][r]);
            odd[u][r] = hn::MulAdd(hn::BitCast(df, hn::And(bits, high)), xo, odd[u][r]);
        }
    };
    int64_t c = 0;
    for (; c + 4 * n <= a.cols; c += 4 * n) {
        step(0, c);
        step(1, c + 2 * n);
    }
    for (; c + 2 * n <= a.cols; c += 2 * n) step(0, c);
    for (int r = 0; r < R; ++r) {
        float s = reduce_sum(df, hn::Add(hn::Add(even[0][r], odd[0][r]),
                                         hn::Add(even[1][r], odd[1][r])));
        for (int64_t cc = c; cc < a.cols; ++cc) s += load_scalar<DType::BF16>(wr[r], cc) * a.x[cc];
        a.y[r] = s;
    }
}

// x_pairs for tile_bf16_vec: per 2N columns, the N even then the N odd ones.
HWY_INLINE void pair_columns(const float* x, int64_t cols, float* x_pairs) {
    const DF df;
    const int64_t n = static_cast<int64_t>(hn::Lanes(df));
    for (int64_t c = 0; c + 2 * n <= cols; c += 2 * n) {
        const VF lo = hn::LoadU(df, x + c), hi = hn::LoadU(df, x + c + n);
        hn::StoreU(hn::ConcatEven(df, hi, lo), df, x_pairs + c);
        hn::StoreU(hn::ConcatOdd(df, hi, lo), df, x_pairs + c + n);
    }
}
#endif

template <DType T, int R, int NB>
HWY_INLINE void tile(const TileArgs& a) {
#if HWY_TARGET != HWY_SCALAR
    if constexpr (T == DType::BF16 && NB == 1) {
        if (a.x_pairs != nullptr) return tile_bf16_vec<R>(a);
    }
#endif
    if constexpr (T == DType::Q8_0 && NB == 1) {
        tile_q8_vec<R>(a);
    } else if constexpr (T == DType::Q8_0) {
        tile_q8<R, NB>(a);
    } else {
        tile_float<T, R, NB, NB == 1 ? 2 : 1>(a);
    }
}

// A row block of R rows against nb <= kBatchChunk activation rows.
template <DType T, int R>
HWY_INLINE void row_block(TileArgs a, int64_t nb) {
    const float* x = a.x;
    float* y = a.y;
    int64_t b = 0;
    for (; b + kTileBatch <= nb; b += kTileBatch) {
        a.x = x + b * a.cols;
        a.y = y + b * a.rows;
        tile<T, R, kTileBatch>(a);
    }
    a.x = x + b * a.cols;
    a.y = y + b * a.rows;
    switch (nb - b) {
        case 0:
            break;
        case 1:
            tile<T, R, 1>(a);
            break;
        case 2:
            if constexpr (kTileBatch > 2) tile<T, R, 2>(a);
            break;
        default:
            if constexpr (kTileBatch > 3) tile<T, R, 3>(a);
            break;
    }
}

template <DType T, int R>
HWY_INLINE void matmul_rows_r(const uint8_t* w, int64_t rows, int64_t cols, const float* x,
                              int64_t n_batch, float* y, int64_t r_begin, int64_t r_end,
                              const float* x_pairs = nullptr) {
    const uint64_t stride = dtype_row_bytes(T, static_cast<uint64_t>(cols));
    for (int64_t b0 = 0; b0 < n_batch; b0 += kBatchChunk) {
        const int64_t nb = n_batch - b0 < kBatchChunk ? n_batch - b0 : kBatchChunk;
        TileArgs a{nullptr, stride, cols, x + b0 * cols, nullptr, rows, x_pairs};
        int64_t r = r_begin;
        for (; r + R <= r_end; r += R) {
            a.w = w + r * stride;
            a.y = y + b0 * rows + r;
            row_block<T, R>(a, nb);
        }
        for (; r < r_end; ++r) {
            a.w = w + r * stride;
            a.y = y + b0 * rows + r;
            row_block<T, 1>(a, nb);
        }
    }
}

// One thread's part of a job: chunks of rows until none are left.
template <DType T>
HWY_INLINE void matmul_worker_t(const MatmulJob& job) {
    const uint8_t* w = job.w;
    const float* x = job.x;
    auto rows_of = [&](int64_t r0, int64_t r1, const float* x_pairs) {
        if (job.n_batch == 1) {
            matmul_rows_r<T, kVecTileRows>(w, job.rows, job.cols, x, 1, job.y, r0, r1, x_pairs);
        } else {
            matmul_rows_r<T, kBatchTileRows<T>>(w, job.rows, job.cols, x, job.n_batch, job.y, r0,
                                                r1);
        }
    };
    const float* x_pairs = nullptr;
#if HWY_TARGET != HWY_SCALAR
    // BF16 matvec: x regrouped once per thread and call. 64 KB of stack covers
    // rows of up to 16384 columns; longer ones take the general path.
    constexpr int64_t kMaxPairedCols = 16384;
    HWY_ALIGN float pairs[T == DType::BF16 ? kMaxPairedCols : 1];
    if (T == DType::BF16 && job.n_batch == 1 && job.cols <= kMaxPairedCols) {
        pair_columns(x, job.cols, pairs);
        x_pairs = pairs;
    }
#endif
    for (int64_t c; (c = job.next->fetch_add(1, std::memory_order_relaxed)) < job.n_chunks;) {
        const int64_t r0 = c * job.chunk_rows;
        rows_of(r0, std::min(job.rows, r0 + job.chunk_rows), x_pairs);
    }
}

void matmul_worker(const MatmulJob& job) {
    switch (job.wtype) {
        case DType::F32:
            return matmul_worker_t<DType::F32>(job);
        case DType::F16:
            return matmul_worker_t<DType::F16>(job);
        case DType::BF16:
            return matmul_worker_t<DType::BF16>(job);
        case DType::Q8_0:
            return matmul_worker_t<DType::Q8_0>(job);
    }
}

}  // namespace HWY_NAMESPACE
}  // namespace vase
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace vase {

HWY_EXPORT(matmul_worker);

namespace {
std::atomic<bool> g_bf16_gemm_switch{true};
}  // namespace

// The AVX-512 BF16 path runs where the CPU has it, unless switched off or
// a test pinned a Highway target below AVX-512.
bool bf16_gemm_enabled() {
    return g_bf16_gemm_switch.load(std::memory_order_relaxed) && cpu_has_avx512_bf16() &&
           (hwy::SupportedTargets() & (HWY_AVX3 | HWY_AVX3_DL)) != 0;
}

void enable_bf16_gemm(bool on) {
    g_bf16_gemm_switch.store(on, std::memory_order_relaxed);
}

void matmul(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
            const float* x, int64_t n_batch, float* y) {
    assert(wtype != DType::Q8_0 || cols % kQ8BlockSize == 0);
    if (rows <= 0 || n_batch <= 0) return;
    if ((wtype == DType::BF16 || wtype == DType::Q8_0) && n_batch >= kBf16GemmMinBatch &&
        bf16_gemm_enabled()) {
        matmul_bf16_gemm(pool, wtype, w, rows, cols, x, n_batch, y);
        return;
    }
    auto* worker = &HWY_DYNAMIC_DISPATCH(matmul_worker);
    std::atomic<int64_t> next{0};
    MatmulJob job{wtype, static_cast<const uint8_t*>(w), rows, cols, x, n_batch, y, rows, 1, &next};
    // Below ~64 K multiply-adds a dispatch to the pool costs more than it saves.
    if (pool.size() == 1 || rows * cols * n_batch < (int64_t{1} << 16)) {
        worker(job);
        return;
    }
    // Rows in chunks that threads claim as they go, about four per thread,
    // so that a thread the OS delays (a busy machine) leaves its share to
    // the others instead of holding up the step. Chunks of whole 48-row
    // groups: whole tiles (4 or 6 rows), and each thread's y writes in their
    // own cache lines.
    constexpr int64_t kGrain = 48;
    const int64_t n_grains = (rows + kGrain - 1) / kGrain;
    job.chunk_rows = kGrain * std::max<int64_t>(1, n_grains / (4 * pool.size()));
    job.n_chunks = (rows + job.chunk_rows - 1) / job.chunk_rows;
    pool.run([&](int, int) { worker(job); });
}

}  // namespace vase
#endif  // HWY_ONCE
