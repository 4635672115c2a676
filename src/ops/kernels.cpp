// Threaded entry points. SIMD versions with run-time dispatch replace the
// scalar bodies here (performance issue); the API stays.
#include "ops/kernels.h"

namespace vase {

void matmul(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
            const float* x, int64_t n_batch, float* y) {
    const uint8_t* base = static_cast<const uint8_t*>(w);
    uint64_t stride = dtype_row_bytes(wtype, static_cast<uint64_t>(cols));
    // Each thread takes a block of rows; results are written in place per batch row.
    pool.parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
        int64_t n = r1 - r0;
        for (int64_t b = 0; b < n_batch; ++b) {
            // scalar::matmul writes y[b' * n + r] for its own rows; call per batch row
            // so outputs land at the right stride.
            scalar::matmul(wtype, base + r0 * stride, n, cols, x + b * cols, 1, y + b * rows + r0);
        }
    });
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    scalar::rmsnorm(x, weight, n, eps, out);
}
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq) {
    scalar::rope(x, n_heads, head_dim, position, inv_freq);
}
void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
    scalar::silu_mul(gate, up, n, out);
}
void softmax(float* x, int64_t n) { scalar::softmax(x, n); }
float dot(const float* a, const float* b, int64_t n) { return scalar::dot(a, b, n); }
void axpy(float a, const float* x, float* y, int64_t n) { scalar::axpy(a, x, y, n); }

}  // namespace vase
