// Scalar definitions of the kernels: the reference the SIMD versions are
// tested against, and the fallback on CPUs without a faster target.
#include <cmath>

#include "ops/kernels.h"

namespace vase {

void dequantize_row(DType type, const void* row, int64_t n, float* out) {
    switch (type) {
        case DType::F32: {
            const float* p = static_cast<const float*>(row);
            for (int64_t i = 0; i < n; ++i) out[i] = p[i];
            return;
        }
        case DType::F16: {
            const uint16_t* p = static_cast<const uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
            return;
        }
        case DType::BF16: {
            const uint16_t* p = static_cast<const uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
            return;
        }
        case DType::Q8_0: {
            const BlockQ8_0* b = static_cast<const BlockQ8_0*>(row);
            for (int64_t i = 0; i < n; ++i) {
                const BlockQ8_0& blk = b[i / kQ8BlockSize];
                out[i] = f16_to_f32(blk.scale) * static_cast<float>(blk.q[i % kQ8BlockSize]);
            }
            return;
        }
    }
}

namespace scalar {

void matmul(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, int64_t n_batch,
            float* y) {
    const uint8_t* base = static_cast<const uint8_t*>(w);
    uint64_t stride = dtype_row_bytes(wtype, static_cast<uint64_t>(cols));
    float row[16384];
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t b = 0; b < n_batch; ++b) y[b * rows + r] = 0.0f;
        for (int64_t c0 = 0; c0 < cols; c0 += 16384) {  // long rows in stack-sized chunks
            int64_t len = cols - c0 < 16384 ? cols - c0 : 16384;
            // c0 is a multiple of 32, so Q8_0 blocks stay whole.
            dequantize_row(wtype, base + r * stride + dtype_row_bytes(wtype, c0), len, row);
            for (int64_t b = 0; b < n_batch; ++b) {
                const float* xb = x + b * cols + c0;
                float acc = 0.0f;
                for (int64_t c = 0; c < len; ++c) acc += row[c] * xb[c];
                y[b * rows + r] += acc;
            }
        }
    }
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t position, const float* inv_freq) {
    int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
            // Angle in double then rounded, so long positions keep precision.
            double angle = static_cast<double>(position) * inv_freq[i];
            float c = static_cast<float>(std::cos(angle));
            float s = static_cast<float>(std::sin(angle));
            float a = v[i];
            float b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - m);
        sum += x[i];
    }
    float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float dot(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

void axpy(float a, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace scalar
}  // namespace vase
