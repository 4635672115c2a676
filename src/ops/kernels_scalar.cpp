// Scalar definitions of the kernels: the reference the SIMD versions are
// tested against, and the fallback on CPUs without a faster target.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/kernels.h"

namespace vase {

namespace scalar {

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
            // Blocks are 34 bytes and rows may start anywhere: copy the scale bytewise.
            const uint8_t* b = static_cast<const uint8_t*>(row);
            for (int64_t i0 = 0; i0 < n; i0 += kQ8BlockSize) {
                BlockQ8_0 blk;
                std::memcpy(&blk, b + i0 / kQ8BlockSize * sizeof(BlockQ8_0), sizeof(blk));
                float d = f16_to_f32(blk.scale);
                for (int64_t j = 0; j < kQ8BlockSize && i0 + j < n; ++j) {
                    out[i0 + j] = d * static_cast<float>(blk.q[j]);
                }
            }
            return;
        }
    }
}

void quantize_row(DType type, const float* x, int64_t n, void* out) {
    switch (type) {
        case DType::F32: {
            float* p = static_cast<float*>(out);
            for (int64_t i = 0; i < n; ++i) p[i] = x[i];
            return;
        }
        case DType::F16: {
            uint16_t* p = static_cast<uint16_t*>(out);
            for (int64_t i = 0; i < n; ++i) p[i] = f32_to_f16(x[i]);
            return;
        }
        case DType::BF16: {
            uint16_t* p = static_cast<uint16_t*>(out);
            for (int64_t i = 0; i < n; ++i) p[i] = f32_to_bf16(x[i]);
            return;
        }
        case DType::Q8_0: {
            assert(n % kQ8BlockSize == 0);
            uint8_t* b = static_cast<uint8_t*>(out);
            for (int64_t i0 = 0; i0 < n; i0 += kQ8BlockSize) {
                float amax = 0.0f;
                for (int j = 0; j < kQ8BlockSize; ++j) amax = std::max(amax, std::fabs(x[i0 + j]));
                float d = amax / 127.0f;
                float inv = d > 0.0f ? 1.0f / d : 0.0f;
                BlockQ8_0 blk;
                blk.scale = f32_to_f16(d);
                for (int j = 0; j < kQ8BlockSize; ++j) {
                    blk.q[j] = static_cast<int8_t>(std::lround(x[i0 + j] * inv));
                }
                std::memcpy(b + i0 / kQ8BlockSize * sizeof(BlockQ8_0), &blk, sizeof(blk));
            }
            return;
        }
    }
}

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
            scalar::dequantize_row(wtype, base + r * stride + dtype_row_bytes(wtype, c0), len, row);
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

void attend_group(const float* q, int64_t group, const void* keys, const void* values,
                  DType kv_type, int64_t n_slots, int64_t head_dim, float scale,
                  float* scores_scratch, float* out) {
    assert(kv_type != DType::Q8_0);
    uint64_t stride = dtype_row_bytes(kv_type, static_cast<uint64_t>(head_dim));
    const uint8_t* k = static_cast<const uint8_t*>(keys);
    const uint8_t* v = static_cast<const uint8_t*>(values);
    std::vector<float> row(static_cast<size_t>(head_dim));
    for (int64_t g = 0; g < group; ++g) {
        const float* qg = q + g * head_dim;
        float* p = scores_scratch + g * n_slots;
        for (int64_t s = 0; s < n_slots; ++s) {
            scalar::dequantize_row(kv_type, k + s * stride, head_dim, row.data());
            p[s] = scale * dot(qg, row.data(), head_dim);
        }
        softmax(p, n_slots);
        float* o = out + g * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
        for (int64_t s = 0; s < n_slots; ++s) {
            scalar::dequantize_row(kv_type, v + s * stride, head_dim, row.data());
            axpy(p[s], row.data(), o, head_dim);
        }
    }
}

void attend(const float* q, const void* keys, const void* values, DType kv_type, int64_t n_slots,
            int64_t head_dim, float scale, float* scores_scratch, float* out) {
    scalar::attend_group(q, 1, keys, values, kv_type, n_slots, head_dim, scale, scores_scratch,
                         out);
}

}  // namespace scalar
}  // namespace vase
