// Numeric kernels of the forward pass. Each has a scalar twin in
// vase::scalar (the readable definition the fast versions are tested against).
// Shapes are given in comments; all activations are f32, row-major. The fast
// versions are compiled for several SIMD targets (Highway: AVX-512, AVX2 and
// a portable fallback) and pick the best one the CPU has at run time.
// Pointers need only element alignment.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/dtype.h"
#include "ops/thread_pool.h"

namespace vase {

// out[0..n) = row as f32. `row` points at the start of a row of `type`.
void dequantize_row(DType type, const void* row, int64_t n, float* out);

// The inverse: out = x[0..n) stored as `type` (F16/BF16 round to nearest
// even; Q8_0 needs n % 32 == 0: per block scale = max|x| / 127 stored as f16,
// q = round(x / scale)). Used to fill KV caches and to build test weights.
void quantize_row(DType type, const float* x, int64_t n, void* out);

// y[b, r] = sum_c w[r, c] * x[b, c]
// w: [rows, cols] of `wtype` (row stride dtype_row_bytes(wtype, cols); cols a
// multiple of 32 for Q8_0), x: [n_batch, cols], y: [n_batch, rows], f32
// accumulation. Rows are split across the pool's threads; the weights are
// streamed once per 16 batch rows.
//
// Exception, for speed: BF16 and Q8_0 weights with n_batch >=
// kBf16GemmMinBatch on a CPU with AVX-512 BF16 (and the AVX-512 target in
// use) round x to bf16 (nearest even) and multiply with the bf16
// dot-product instruction (Q8_0 values are exact in bf16; the block scale is
// applied in f32), twice the f32 rate (prefill). Each product then carries
// up to 2^-8 relative error from x's rounding; accumulation stays f32.
// Decode (n_batch == 1), small batches and F32/F16 weights keep f32
// activations. scalar::matmul_bf16_activations is the twin of that path.
void matmul(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
            const float* x, int64_t n_batch, float* y);
inline constexpr int64_t kBf16GemmMinBatch = 8;
// Whether matmul takes that path now (CPU, target in use and switch), and
// the switch for tests and benchmarks (on by default; false = every type
// keeps f32 activations).
bool bf16_gemm_enabled();
void enable_bf16_gemm(bool on);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], i < n. out may alias x.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);

// Rotary embedding, "NeoX"/Hugging Face rotate_half layout, in place on
// x: [n_heads, head_dim]; inv_freq: [head_dim / 2].
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq);

// out[i] = silu(gate[i]) * up[i]
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// x[0..n) = softmax(x) in place (max-subtracted).
void softmax(float* x, int64_t n);

// dot product and y += a * x over n floats.
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);

// Attention of one query head over a slot cache:
//   scores[s] = scale * dot(q, keys[s]),  p = softmax(scores),
//   out = sum_s p[s] * values[s].
// q: [head_dim]; keys, values: [n_slots, head_dim] of kv_type (F32, F16 or
// BF16), rows contiguous; scores_scratch: [n_slots] (holds p on return);
// out: [head_dim]. With n_slots == 0, out is zero.
void attend(const float* q, const void* keys, const void* values, DType kv_type, int64_t n_slots,
            int64_t head_dim, float scale, float* scores_scratch, float* out);

// The same for the `group` query heads that share one KV head (GQA); reads
// each key and value once for the whole group.
// q: [group, head_dim]; scores_scratch: [group, n_slots]; out: [group, head_dim].
void attend_group(const float* q, int64_t group, const void* keys, const void* values,
                  DType kv_type, int64_t n_slots, int64_t head_dim, float scale,
                  float* scores_scratch, float* out);

// Run-time dispatch: the SIMD targets compiled into the kernels that this CPU
// supports (Highway target bits, best first), the name of the one in use, and
// a hook for tests and benchmarks to pin one (0 = back to the best).
std::vector<int64_t> simd_targets();
const char* simd_target_name();
void force_simd_target(int64_t target);

namespace scalar {
void dequantize_row(DType type, const void* row, int64_t n, float* out);
void quantize_row(DType type, const float* x, int64_t n, void* out);
void matmul(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, int64_t n_batch,
            float* y);
// matmul with x rounded to bf16 first (the batched AVX-512 BF16 path).
void matmul_bf16_activations(DType wtype, const void* w, int64_t rows, int64_t cols,
                             const float* x, int64_t n_batch, float* y);
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq);
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
void softmax(float* x, int64_t n);
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
void attend(const float* q, const void* keys, const void* values, DType kv_type, int64_t n_slots,
            int64_t head_dim, float scale, float* scores_scratch, float* out);
void attend_group(const float* q, int64_t group, const void* keys, const void* values,
                  DType kv_type, int64_t n_slots, int64_t head_dim, float scale,
                  float* scores_scratch, float* out);
}  // namespace scalar

}  // namespace vase
