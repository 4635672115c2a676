// Element types of weights and caches, and conversions to and from f32.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace vase {

enum class DType : uint8_t { F32, F16, BF16, Q8_0 };

// Q8_0 (as in GGUF): blocks of 32 values, one f16 scale then 32 int8.
inline constexpr int kQ8BlockSize = 32;
struct BlockQ8_0 {
    uint16_t scale;  // f16 bits
    int8_t q[kQ8BlockSize];
};
static_assert(sizeof(BlockQ8_0) == 34);

std::string_view dtype_name(DType type);

// Bytes of a row of n elements (n must be a multiple of 32 for Q8_0).
inline uint64_t dtype_row_bytes(DType type, uint64_t n) {
    switch (type) {
        case DType::F32:
            return n * 4;
        case DType::F16:
        case DType::BF16:
            return n * 2;
        case DType::Q8_0:
            return n / kQ8BlockSize * sizeof(BlockQ8_0);
    }
    return 0;
}

inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Round to nearest even, as PyTorch and ggml do; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace vase
