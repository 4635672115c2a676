// Numeric kernels of the forward pass. Each has a scalar twin in
// vase::scalar (the readable definition the fast versions are tested against).
// Shapes are given in comments; all activations are f32, row-major.
#pragma once

#include <cstdint>

#include "ops/dtype.h"
#include "ops/thread_pool.h"

namespace vase {

// out[0..n) = row as f32. `row` points at the start of a row of `type`.
void dequantize_row(DType type, const void* row, int64_t n, float* out);

// y[b, r] = sum_c w[r, c] * x[b, c]
// w: [rows, cols] of `wtype` (row stride dtype_row_bytes(wtype, cols)),
// x: [n_batch, cols], y: [n_batch, rows]. Weights are read once for the batch.
void matmul(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
            const float* x, int64_t n_batch, float* y);

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

namespace scalar {
void matmul(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, int64_t n_batch,
            float* y);
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq);
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
void softmax(float* x, int64_t n);
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
}  // namespace scalar

}  // namespace vase
