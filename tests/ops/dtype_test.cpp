// f16 and bf16 conversions against independent references: exhaustive over
// all 2^16 encodings, every rounding tie, and random f32 bit patterns.
#include "ops/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "util/rng.h"

namespace vase {
namespace {

uint32_t bits_of(float f) {
    return std::bit_cast<uint32_t>(f);
}
float from_bits(uint32_t b) {
    return std::bit_cast<float>(b);
}

// The value of an f16 encoding from the IEEE 754 definition (exact in double).
double f16_reference(uint16_t h) {
    int sign = h >> 15;
    int exp = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    double mag;
    if (exp == 0) {
        mag = std::ldexp(mant, -24);
    } else if (exp == 31) {
        mag = mant == 0 ? std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::quiet_NaN();
    } else {
        mag = std::ldexp(1024 + mant, exp - 25);
    }
    return sign ? -mag : mag;
}

// Correct round-to-nearest-even of a finite f32 to an f16 value, computed in
// double: the f16 grid spacing at x's magnitude is 2^(max(e, -14) - 10).
double f16_round_reference(float x) {
    double v = x;
    double a = std::fabs(v);
    if (a == 0.0) return v;
    int e = std::ilogb(a);
    double ulp = std::ldexp(1.0, std::max(e, -14) - 10);
    double r = std::nearbyint(a / ulp) * ulp;  // default rounding: ties to even
    if (r > 65504.0) r = std::numeric_limits<double>::infinity();
    return std::copysign(r, v);
}

TEST(F16, ToF32MatchesDefinitionForAllEncodings) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float got = f16_to_f32(static_cast<uint16_t>(h));
        double want = f16_reference(static_cast<uint16_t>(h));
        if (std::isnan(want)) {
            ASSERT_TRUE(std::isnan(got)) << std::hex << h;
            EXPECT_EQ(bits_of(got) >> 31, h >> 15) << std::hex << h;
        } else {
            ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(want))) << std::hex << h;
        }
    }
}

TEST(F16, RoundTripOfEveryNonNanEncoding) {
    for (uint32_t h = 0; h < 65536; ++h) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0) continue;  // NaN
        ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
    }
}

TEST(F16, TiesRoundToEvenAndNeighboursRoundToNearest) {
    // Every pair of adjacent non-negative finite f16 values, including the
    // subnormals and the step from the largest finite value to infinity.
    for (uint32_t h = 0; h < 0x7c00u; ++h) {
        double lo = f16_reference(static_cast<uint16_t>(h));
        double hi = h + 1 == 0x7c00u ? 65536.0 : f16_reference(static_cast<uint16_t>(h + 1));
        float mid = static_cast<float>((lo + hi) / 2);  // 12 significant bits: exact in f32
        ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
        uint16_t even = (h & 1u) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
        for (uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
            float s = sign ? -1.0f : 1.0f;
            ASSERT_EQ(f32_to_f16(s * mid), sign | even) << std::hex << h;
            ASSERT_EQ(f32_to_f16(s * std::nextafter(mid, 0.0f)), sign | h) << std::hex << h;
            ASSERT_EQ(f32_to_f16(s * std::nextafter(mid, 1e30f)), sign | (h + 1)) << std::hex << h;
        }
    }
}

TEST(F16, SpecialValues) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(f32_to_f16(inf), 0x7c00);
    EXPECT_EQ(f32_to_f16(-inf), 0xfc00);
    EXPECT_EQ(f32_to_f16(1e30f), 0x7c00);
    EXPECT_EQ(f32_to_f16(-65520.0f), 0xfc00);  // tie above the largest finite: to even = inf
    EXPECT_EQ(f32_to_f16(65519.996f), 0x7bff);
    EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(1e-30f), 0x0000);
    EXPECT_EQ(f32_to_f16(-1e-30f), 0x8000);
    EXPECT_EQ(f32_to_f16(from_bits(0x00000001u)), 0x0000);  // f32 subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);   // smallest f16 subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);   // half of it: tie to even
    EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
    uint16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x3ff, 0);
    // A NaN whose payload lies only in the low bits must not become infinity.
    uint16_t low_nan = f32_to_f16(from_bits(0x7f800001u));
    EXPECT_EQ(low_nan & 0x7c00, 0x7c00);
    EXPECT_NE(low_nan & 0x3ff, 0);
    EXPECT_EQ(f32_to_f16(from_bits(0xff800001u)) & 0x8000, 0x8000);
}

TEST(F16, RandomF32MatchesRoundingReference) {
    Rng rng(7);
    for (int i = 0; i < 2'000'000; ++i) {
        uint32_t b = static_cast<uint32_t>(rng.next_u64());
        if (i % 2) {  // half of them with exponents around f16's range (2^-27 .. 2^18)
            uint32_t exp = 100 + static_cast<uint32_t>(rng.next_u64() % 46);
            b = (b & 0x807fffffu) | exp << 23;
        }
        float x = from_bits(b);
        if (std::isnan(x)) continue;
        double want = f16_round_reference(x);
        float got = f16_to_f32(f32_to_f16(x));
        ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(want))) << std::hex << b;
    }
}

TEST(BF16, ToF32IsTheUpperHalf) {
    for (uint32_t h = 0; h < 65536; ++h) {
        ASSERT_EQ(bits_of(bf16_to_f32(static_cast<uint16_t>(h))), h << 16);
    }
}

TEST(BF16, RoundTripAndTiesToEven) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float x = bf16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(x)) continue;
        ASSERT_EQ(f32_to_bf16(x), h) << std::hex << h;
        if ((h & 0x7f80u) == 0x7f80u) continue;  // infinity: no upper neighbour
        uint32_t tie = h << 16 | 0x8000u;        // halfway to the next encoding
        uint16_t even = (h & 1u) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
        ASSERT_EQ(f32_to_bf16(from_bits(tie)), even) << std::hex << h;
        ASSERT_EQ(f32_to_bf16(from_bits(tie - 1)), h) << std::hex << h;
        ASSERT_EQ(f32_to_bf16(from_bits(tie + 1)), h + 1) << std::hex << h;
    }
}

TEST(BF16, NanStaysNan) {
    for (uint32_t b : {0x7f800001u, 0x7fc00000u, 0xff800001u, 0x7fffffffu}) {
        uint16_t h = f32_to_bf16(from_bits(b));
        EXPECT_TRUE(std::isnan(bf16_to_f32(h))) << std::hex << b;
        EXPECT_EQ(h >> 15, b >> 31);
    }
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
}

TEST(DType, NamesAndRowBytes) {
    EXPECT_EQ(dtype_name(DType::BF16), "BF16");
    EXPECT_EQ(dtype_row_bytes(DType::F32, 10), 40u);
    EXPECT_EQ(dtype_row_bytes(DType::F16, 10), 20u);
    EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 64), 68u);
}

}  // namespace
}  // namespace vase
