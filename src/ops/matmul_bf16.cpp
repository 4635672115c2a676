// Batched matmul with BF16 or Q8_0 weights on CPUs with AVX-512 BF16 (Zen 4/5,
// Sapphire Rapids): the activations are rounded to bf16 once per call and
// every multiply-add goes through vdpbf16ps, which does two bf16 products
// per f32 lane, twice the f32 FMA rate. Highway 1.0.3 has no target for this
// instruction, so this file uses intrinsics in functions compiled for the
// extension (target attribute; nothing else in the file assumes it) and
// matmul() calls it only after checking the CPU at run time.
//
// Layout: the weights are used as stored ([rows, cols] bf16, so a 64-byte
// load holds 16 column pairs, the pairing vdpbf16ps wants); x is converted to
// bf16 rows padded with zeros to a multiple of 32 columns. A tile of kTileR
// weight rows x kTileB activation rows keeps 24 accumulators of 16 f32 lanes
// (lane i sums the products of columns 2i and 2i+1 of each 32-column step)
// and reduces them at the end. Threads claim chunks of weight rows; within a
// chunk, activation rows are taken in panels small enough to stay in L2
// while the chunk's rows pass over them.
//
// Q8_0: a tile's rows are unpacked to bf16 first (int8 values are exact in
// bf16), one 32-column step is one block, and each block's dot product is
// added times its scale (one more FMA per step: ~1.5x the BF16 cost, still
// ~1.4x faster than the f32 path with its per-weight int8 -> f32 widening).
// GCC 12's AVX-512 headers initialise _mm512_undefined_* from themselves,
// which -Wuninitialized reports in every intrinsic that uses one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ops/kernels.h"
#include "ops/matmul_bf16.h"

#define VASE_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

namespace vase {
namespace {

constexpr int kTileR = 4;  // weight rows per tile
constexpr int kTileB = 6;  // activation rows per tile (4 x 6 = 24 accumulators)
// Q8_0 tiles need a block product and a scale per row besides the
// accumulators: 4 x 4 tiles do not spill (~190-200 GFLOP per CPU second vs
// ~150-180 with 4 x 6).
constexpr int kTileBQ8 = 4;
constexpr int64_t kColStep = 32;            // bf16 columns per 512-bit vector
constexpr int64_t kPanelBytes = 192 << 10;  // bf16 activation rows per panel: ~192 KB
constexpr int64_t kColBlock = 1024;         // columns per pass (a multiple of kColStep)

// Rows of x as bf16, [n_batch, ld], ld = cols rounded up to 32, zero padded.
struct Bf16Rows {
    const uint16_t* data;
    int64_t ld;
};

// The four sums of a0..a3 (each over its 16 lanes) as one 4-float vector.
VASE_AVX512_BF16 inline __m128 sum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    // Per 128-bit block: t01 = [a0, a1, a0, a1] partial sums, t23 likewise.
    const __m512 t01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
    const __m512 t23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
    // Per 128-bit block: [a0, a1, a2, a3].
    const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(t01, t23, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// One 32-column step of a tile: acc[r][b] += pairwise products of w row r
// and x row b.
template <int R, int NB>
VASE_AVX512_BF16 inline void step(__m512 (&acc)[R][NB], const __m512i (&wv)[R], const uint16_t* x,
                                  int64_t ld, int64_t c) {
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) {
        const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + b * ld + c);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][b] = _mm512_dpbf16_ps(acc[r][b], (__m512bh)wv[r], xv);
    }
}

// A tile's weights: R rows of `cols` bf16 values, `stride` elements apart;
// for Q8_0 (unpacked to bf16 by unpack_q8) also the f32 scale of each 32-column
// block, scale_stride floats apart per row.
struct WTile {
    const uint16_t* w;
    int64_t stride;
    int64_t cols;
    const float* scales = nullptr;
    int64_t scale_stride = 0;
};

// y[b * y_stride + r] (+)= sum of acc[r][b]'s lanes.
template <int R, int NB>
VASE_AVX512_BF16 inline void store(const __m512 (&acc)[R][NB], float* y, int64_t y_stride,
                                   bool accumulate) {
    if constexpr (R == 4) {
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) {
            __m128 sum = sum4(acc[0][b], acc[1][b], acc[2][b], acc[3][b]);
            if (accumulate) sum = _mm_add_ps(sum, _mm_loadu_ps(y + b * y_stride));
            _mm_storeu_ps(y + b * y_stride, sum);
        }
    } else {
        for (int r = 0; r < R; ++r) {
            for (int b = 0; b < NB; ++b) {
                const float sum = _mm512_reduce_add_ps(acc[r][b]);
                y[b * y_stride + r] = accumulate ? y[b * y_stride + r] + sum : sum;
            }
        }
    }
}

// y[b * y_stride + r] (+)= dot(w row r, x row b) for r < R, b < NB.
// x: NB rows of bf16, ld apart.
template <int R, int NB>
VASE_AVX512_BF16 inline void tile(const WTile& t, const uint16_t* x, int64_t ld, float* y,
                                  int64_t y_stride, bool accumulate) {
    __m512 acc[R][NB];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_setzero_ps();
    const int64_t whole = t.cols / kColStep * kColStep;
    int64_t c = 0;
    for (; c < whole; c += kColStep) {
        __m512i wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(t.w + r * t.stride + c);
        step<R, NB>(acc, wv, x, ld, c);
    }
    if (c < t.cols) {  // last partial step: the weights masked (x is zero padded)
        const __mmask32 m = _cvtu32_mask32((uint32_t{1} << (t.cols - c)) - 1u);
        __m512i wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_epi16(m, t.w + r * t.stride + c);
        step<R, NB>(acc, wv, x, ld, c);
    }
    store<R, NB>(acc, y, y_stride, accumulate);
}

// The same for Q8_0 weights: a 32-column step is one block, its products
// summed apart and added times the block's scale.
template <int R, int NB>
VASE_AVX512_BF16 inline void tile_q8(const WTile& t, const uint16_t* x, int64_t ld, float* y,
                                     int64_t y_stride, bool accumulate) {
    __m512 acc[R][NB];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_setzero_ps();
    for (int64_t k = 0; k * kColStep < t.cols; ++k) {
        const int64_t c = k * kColStep;
        __m512i wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(t.w + r * t.stride + c);
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) {
            const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + b * ld + c);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const __m512 dot = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)wv[r], xv);
                const __m512 scale = _mm512_set1_ps(t.scales[r * t.scale_stride + k]);
                acc[r][b] = _mm512_fmadd_ps(dot, scale, acc[r][b]);
            }
        }
    }
    store<R, NB>(acc, y, y_stride, accumulate);
}

template <bool Q8, int R, int NB>
VASE_AVX512_BF16 inline void any_tile(const WTile& t, const uint16_t* x, int64_t ld, float* y,
                                      int64_t y_stride, bool accumulate) {
    if constexpr (Q8) {
        tile_q8<R, NB>(t, x, ld, y, y_stride, accumulate);
    } else {
        tile<R, NB>(t, x, ld, y, y_stride, accumulate);
    }
}

// R weight rows against activation rows [b0, b1).
template <bool Q8, int R>
VASE_AVX512_BF16 void row_tile(const WTile& t, Bf16Rows x, int64_t b0, int64_t b1, float* y,
                               int64_t rows, bool accumulate) {
    int64_t b = b0;
    constexpr int kB = Q8 ? kTileBQ8 : kTileB;
    for (; b + kB <= b1; b += kB) {
        any_tile<Q8, R, kB>(t, x.data + b * x.ld, x.ld, y + b * rows, rows, accumulate);
    }
    const uint16_t* xb = x.data + b * x.ld;
    float* yb = y + b * rows;
    switch (b1 - b) {
        case 0:
            break;
        case 1:
            any_tile<Q8, R, 1>(t, xb, x.ld, yb, rows, accumulate);
            break;
        case 2:
            any_tile<Q8, R, 2>(t, xb, x.ld, yb, rows, accumulate);
            break;
        case 3:
            any_tile<Q8, R, 3>(t, xb, x.ld, yb, rows, accumulate);
            break;
        case 4:
            any_tile<Q8, R, 4>(t, xb, x.ld, yb, rows, accumulate);
            break;
        default:
            any_tile<Q8, R, 5>(t, xb, x.ld, yb, rows, accumulate);
            break;
    }
}

// Q8_0 rows [r, r + n_rows), blocks [k0, k0 + n_blocks) as bf16 values
// (exact: |q| <= 127) in wq ([n_rows, kColBlock]) and f32 scales in
// scales ([n_rows, kColBlock / 32]).
VASE_AVX512_BF16 void unpack_q8(const uint8_t* w, uint64_t w_stride, int64_t n_rows, int64_t k0,
                                int64_t n_blocks, uint16_t* wq, float* scales) {
    for (int64_t r = 0; r < n_rows; ++r) {
        // A row of 34-byte blocks may start at an odd address: bytes, not BlockQ8_0 lvalues.
        const uint8_t* row = w + r * w_stride + k0 * sizeof(BlockQ8_0);
        for (int64_t k = 0; k < n_blocks; ++k) {
            const uint8_t* block = row + k * sizeof(BlockQ8_0);
            uint16_t scale_bits;
            std::memcpy(&scale_bits, block + offsetof(BlockQ8_0, scale), sizeof scale_bits);
            scales[r * (kColBlock / kColStep) + k] = f16_to_f32(scale_bits);
            const uint8_t* q = block + offsetof(BlockQ8_0, q);
            const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
            const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16));
            const __m512 flo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo));
            const __m512 fhi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi));
            _mm512_storeu_si512(wq + r * kColBlock + k * kColStep,
                                (__m512i)_mm512_cvtne2ps_pbh(fhi, flo));
        }
    }
}

// Weight rows [r0, r1) against every activation row, panel by panel, and
// within a panel in blocks of kColBlock columns (so that a tile's weight rows
// stay in L1 however long the rows are); blocks after the first add to y.
// Q8_0 rows are unpacked to bf16 a tile at a time.
template <bool Q8>
VASE_AVX512_BF16 void gemm_rows(const uint8_t* w, int64_t rows, int64_t cols, Bf16Rows x,
                                int64_t n_batch, float* y, int64_t r0, int64_t r1) {
    const uint64_t w_stride = dtype_row_bytes(Q8 ? DType::Q8_0 : DType::BF16, cols);
    alignas(64) uint16_t wq[Q8 ? kTileR * kColBlock : 1];
    float scales[Q8 ? kTileR * kColBlock / kColStep : 1];
    const int64_t panel =
        std::max<int64_t>(kTileB, kPanelBytes / (2 * std::min(x.ld, kColBlock)) / kTileB * kTileB);
    for (int64_t p0 = 0; p0 < n_batch; p0 += panel) {
        const int64_t p1 = std::min(n_batch, p0 + panel);
        for (int64_t k0 = 0; k0 == 0 || k0 < cols; k0 += kColBlock) {
            const int64_t kc = std::min(kColBlock, cols - k0);
            const Bf16Rows xk{x.data + k0, x.ld};
            const bool acc = k0 > 0;
            auto rows_at = [&](int64_t r, int64_t n_rows) {
                const uint8_t* wr = w + r * w_stride;
                if constexpr (Q8) {
                    unpack_q8(wr, w_stride, n_rows, k0 / kColStep, kc / kColStep, wq, scales);
                    return WTile{wq, kColBlock, kc, scales, kColBlock / kColStep};
                } else {
                    return WTile{reinterpret_cast<const uint16_t*>(wr) + k0, cols, kc};
                }
            };
            int64_t r = r0;
            for (; r + kTileR <= r1; r += kTileR) {
                row_tile<Q8, kTileR>(rows_at(r, kTileR), xk, p0, p1, y + r, rows, acc);
            }
            for (; r < r1; ++r) row_tile<Q8, 1>(rows_at(r, 1), xk, p0, p1, y + r, rows, acc);
        }
    }
}

// out[b * ld + c] = bf16(x[b * cols + c]) (round to nearest even, as
// vcvtne2ps2bf16 does), zero for cols <= c < ld; rows [b0, b1).
VASE_AVX512_BF16 void to_bf16_rows(const float* x, int64_t cols, int64_t b0, int64_t b1,
                                   uint16_t* out, int64_t ld) {
    for (int64_t b = b0; b < b1; ++b) {
        const float* xr = x + b * cols;
        uint16_t* o = out + b * ld;
        for (int64_t c = 0; c < ld; c += kColStep) {
            const int64_t left = std::min<int64_t>(cols - c, kColStep);
            const uint32_t lo_n = static_cast<uint32_t>(std::clamp<int64_t>(left, 0, 16));
            const uint32_t hi_n = static_cast<uint32_t>(std::clamp<int64_t>(left - 16, 0, 16));
            const __m512 lo = _mm512_maskz_loadu_ps(_cvtu32_mask16((1u << lo_n) - 1u), xr + c);
            const __m512 hi = _mm512_maskz_loadu_ps(_cvtu32_mask16((1u << hi_n) - 1u), xr + c + 16);
            _mm512_storeu_si512(o + c, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

// The caller's bf16 copy of x, kept between calls (decode and prefill call
// matmul hundreds of times per step; allocating each time costs page faults).
struct ScratchDeleter {
    void operator()(uint16_t* p) const { std::free(p); }
};
thread_local std::unique_ptr<uint16_t, ScratchDeleter> t_scratch;
thread_local int64_t t_scratch_elems = 0;

uint16_t* scratch(int64_t elems) {
    if (elems > t_scratch_elems) {
        const size_t bytes = static_cast<size_t>((elems * 2 + 63) / 64 * 64);
        t_scratch.reset(static_cast<uint16_t*>(std::aligned_alloc(64, bytes)));
        t_scratch_elems = elems;
    }
    return t_scratch.get();
}

}  // namespace

bool cpu_has_avx512_bf16() {
    static const bool has =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bf16");
    return has;
}

void matmul_bf16_gemm(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
                      const float* x, int64_t n_batch, float* y) {
    assert(wtype == DType::BF16 || wtype == DType::Q8_0);
    const int64_t ld = std::max<int64_t>(kColStep, (cols + kColStep - 1) / kColStep * kColStep);
    uint16_t* xdata = scratch(std::max<int64_t>(1, n_batch * ld));
    const Bf16Rows xb{xdata, ld};
    const auto* wb = static_cast<const uint8_t*>(w);
    auto gemm = [&](int64_t r0, int64_t r1) {
        if (wtype == DType::Q8_0) {
            gemm_rows<true>(wb, rows, cols, xb, n_batch, y, r0, r1);
        } else {
            gemm_rows<false>(wb, rows, cols, xb, n_batch, y, r0, r1);
        }
    };
    if (pool.size() == 1 || rows * cols * n_batch < (int64_t{1} << 16)) {
        to_bf16_rows(x, cols, 0, n_batch, xdata, ld);
        gemm(0, rows);
        return;
    }
    pool.parallel_for(n_batch, 1,
                      [&](int64_t b0, int64_t b1) { to_bf16_rows(x, cols, b0, b1, xdata, ld); });
    // Chunks of whole 48-row groups claimed as threads go, about four per
    // thread (as the Highway path does, so a delayed thread does not hold up
    // the call).
    constexpr int64_t kGrain = 48;
    const int64_t n_grains = (rows + kGrain - 1) / kGrain;
    const int64_t chunk = kGrain * std::max<int64_t>(1, n_grains / (4 * pool.size()));
    const int64_t n_chunks = (rows + chunk - 1) / chunk;
    std::atomic<int64_t> next{0};
    pool.run([&](int, int) {
        for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < n_chunks;) {
            const int64_t r0 = c * chunk;
            gemm(r0, std::min(rows, r0 + chunk));
        }
    });
}

namespace scalar {

void matmul_bf16_activations(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
                             int64_t n_batch, float* y) {
    std::vector<float> xr(static_cast<size_t>(n_batch * cols));
    for (size_t i = 0; i < xr.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(x[i]));
    scalar::matmul(wtype, w, rows, cols, xr.data(), n_batch, y);
}

}  // namespace scalar
}  // namespace vase
