// Vector kernels against their scalar twins and float64 references, for every
// SIMD target compiled in, sizes 0 .. past 2 x 4 vectors (all tail lengths
// and unroll remainders) and pointers that are not vector-aligned.
//
// Tolerances: a sum of n products computed in f32 in any order is within
// n * u * sum|a_i b_i| of the exact sum (u = 2^-24, the classical bound on
// recursive summation); sums are checked against that. Elementwise kernels
// that use exp are held to a few ulps of the scalar twin (relative 2e-6).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/kernels.h"
#include "simd_test_util.h"

namespace vase::test {
namespace {

// Sizes 0 .. 8 * 16 + 3: every tail length and unroll remainder on AVX-512.
std::vector<int64_t> sizes() {
    std::vector<int64_t> s;
    for (int64_t n = 0; n <= 131; ++n) s.push_back(n);
    s.push_back(1000);
    s.push_back(1024);
    return s;
}

class Kernels : public SimdTest {};
VASE_INSTANTIATE_SIMD_TEST(Kernels);

TEST(SimdTargets, ForcingATargetSwitchesDispatch) {
    std::vector<int64_t> targets = simd_targets();
    ASSERT_FALSE(targets.empty());
    std::vector<std::string> names;
    for (int64_t t : targets) {
        force_simd_target(t);
        names.push_back(simd_target_name());
    }
    force_simd_target(0);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
    EXPECT_FALSE(std::string(simd_target_name()).empty());
}

TEST_P(Kernels, Dot) {
    Rng rng(1);
    for (int64_t n : sizes()) {
        for (size_t off : {0, 1, 3}) {
            Buffer<float> a(n, off), b(n, off + 1);
            fill_normal(rng, a.data(), n);
            fill_normal(rng, b.data(), n);
            double exact = 0.0, abs_sum = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                exact += static_cast<double>(a[i]) * b[i];
                abs_sum += std::fabs(static_cast<double>(a[i]) * b[i]);
            }
            double bound = (n + 1) * kF32Eps * abs_sum;
            float got = dot(a.data(), b.data(), n);
            float twin = scalar::dot(a.data(), b.data(), n);
            ASSERT_LE(std::fabs(got - exact), bound) << "n=" << n;
            ASSERT_LE(std::fabs(twin - exact), bound) << "n=" << n;
            ASSERT_LE(std::fabs(got - twin), 2 * bound) << "n=" << n;
        }
    }
}

TEST_P(Kernels, Axpy) {
    Rng rng(2);
    const float fill = -7.0f;
    for (int64_t n : sizes()) {
        Buffer<float> x(n, 1), y(n, 3, fill), y_twin(n, 0);
        fill_normal(rng, x.data(), n);
        fill_normal(rng, y.data(), n);
        std::copy(y.data(), y.data() + n, y_twin.data());
        float alpha = static_cast<float>(rng.normal());
        axpy(alpha, x.data(), y.data(), n);
        scalar::axpy(alpha, x.data(), y_twin.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            // FMA rounds once, the twin twice: at most one ulp of each term apart.
            double tol = 2 * kF32Eps * (std::fabs(alpha * x[i]) + std::fabs(y_twin[i])) + 1e-30;
            ASSERT_NEAR(y[i], y_twin[i], tol) << "n=" << n << " i=" << i;
        }
        ASSERT_TRUE(y.guards_intact(fill)) << "n=" << n;
    }
}

TEST_P(Kernels, Rmsnorm) {
    Rng rng(3);
    const float fill = 5.0f;
    for (int64_t n : sizes()) {
        if (n == 0) continue;
        Buffer<float> x(n, 1), w(n, 2), out(n, 3, fill), twin(n, 0);
        fill_normal(rng, x.data(), n, 3.0);
        fill_normal(rng, w.data(), n);
        rmsnorm(x.data(), w.data(), n, 1e-6f, out.data());
        scalar::rmsnorm(x.data(), w.data(), n, 1e-6f, twin.data());
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(out[i], twin[i], 1e-6 * std::fabs(twin[i]) + 1e-30) << n << " " << i;
        }
        ASSERT_TRUE(out.guards_intact(fill));
        // In place (out aliases x) gives the same result.
        rmsnorm(x.data(), w.data(), n, 1e-6f, x.data());
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], out[i]);
    }
}

TEST_P(Kernels, RopeMatchesScalarAndPreciseAngles) {
    Rng rng(4);
    for (double theta : {1e4, 1e6}) {
        for (int64_t head_dim : {2, 4, 6, 8, 14, 16, 30, 32, 34, 64, 66, 128, 256}) {
            int64_t half = head_dim / 2;
            std::vector<float> inv_freq(half);
            for (int64_t i = 0; i < half; ++i) {
                inv_freq[i] = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / head_dim));
            }
            for (int64_t position : {0, 1, 7, 1000, 32767, 40000}) {
                for (int64_t n_heads : {1, 3}) {
                    int64_t n = n_heads * head_dim;
                    Buffer<float> x(n, 1), twin(n, 0);
                    fill_normal(rng, x.data(), n);
                    std::vector<float> orig(x.data(), x.data() + n);
                    std::copy(orig.begin(), orig.end(), twin.data());
                    rope(x.data(), n_heads, head_dim, position, inv_freq.data());
                    scalar::rope(twin.data(), n_heads, head_dim, position, inv_freq.data());
                    for (int64_t h = 0; h < n_heads; ++h) {
                        for (int64_t i = 0; i < half; ++i) {
                            int64_t lo = h * head_dim + i, hi = lo + half;
                            double a = orig[lo], b = orig[hi];
                            double scale = std::fabs(a) + std::fabs(b);
                            // vs the scalar twin: 1e-6 of the pair's magnitude.
                            ASSERT_NEAR(x[lo], twin[lo], 1e-6 * scale);
                            ASSERT_NEAR(x[hi], twin[hi], 1e-6 * scale);
                            // vs the rotation with the angle in long double: the
                            // f32 result of a precise angle (not a float angle,
                            // which is off by ~4e-3 rad at position 40000).
                            long double angle = static_cast<long double>(position) * inv_freq[i];
                            double c = static_cast<double>(std::cos(angle));
                            double s = static_cast<double>(std::sin(angle));
                            ASSERT_NEAR(x[lo], a * c - b * s, 1e-5 * scale) << position;
                            ASSERT_NEAR(x[hi], b * c + a * s, 1e-5 * scale) << position;
                        }
                    }
                }
            }
        }
    }
}

TEST_P(Kernels, SiluMul) {
    Rng rng(5);
    for (int64_t n : sizes()) {
        Buffer<float> gate(n, 1), up(n, 2), out(n, 3, 9.0f), twin(n, 0);
        fill_normal(rng, gate.data(), n, 6.0);
        fill_normal(rng, up.data(), n);
        // Extremes: exp overflows in the naive formula, and zero.
        const float extremes[] = {-100.0f, 100.0f, -88.5f, 88.5f, 0.0f, -20.0f, 30.0f};
        for (int64_t i = 0; i < n && i < 7; ++i) gate[3 * i % n] = extremes[i];
        silu_mul(gate.data(), up.data(), n, out.data());
        scalar::silu_mul(gate.data(), up.data(), n, twin.data());
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(out[i], twin[i], 2e-6 * std::fabs(twin[i]) + 1e-30)
                << "n=" << n << " gate=" << gate[i];
        }
        ASSERT_TRUE(out.guards_intact(9.0f));
    }
}

TEST_P(Kernels, Softmax) {
    Rng rng(6);
    const float neg_inf = -std::numeric_limits<float>::infinity();
    for (int64_t n : sizes()) {
        if (n == 0) continue;
        Buffer<float> x(n, 1, 3.0f), twin(n, 0);
        fill_normal(rng, x.data(), n, 5.0);
        if (n > 2) x[n / 2] = neg_inf;  // a masked entry
        std::copy(x.data(), x.data() + n, twin.data());
        softmax(x.data(), n);
        scalar::softmax(twin.data(), n);
        double total = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(x[i], twin[i], 4e-6 * twin[i] + 1e-30) << "n=" << n << " i=" << i;
            total += x[i];
        }
        ASSERT_NEAR(total, 1.0, 1e-5);
        if (n > 2) {
            ASSERT_EQ(x[n / 2], 0.0f);
        }
        ASSERT_TRUE(x.guards_intact(3.0f));
    }
}

// ---------------------------------------------------------------- attention

struct AttnCase {
    int64_t group, n_slots, head_dim;
};

// out[g] in float64 from the dequantized cache, and the probabilities.
void attend_reference(const std::vector<float>& q, int64_t group, const std::vector<float>& k,
                      const std::vector<float>& v, int64_t n_slots, int64_t head_dim, float scale,
                      std::vector<double>& p, std::vector<double>& out) {
    p.assign(group * n_slots, 0.0);
    out.assign(group * head_dim, 0.0);
    for (int64_t g = 0; g < group; ++g) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t s = 0; s < n_slots; ++s) {
            double acc = 0.0;
            for (int64_t d = 0; d < head_dim; ++d) {
                acc += static_cast<double>(q[g * head_dim + d]) * k[s * head_dim + d];
            }
            p[g * n_slots + s] = scale * acc;
            m = std::max(m, scale * acc);
        }
        double sum = 0.0;
        for (int64_t s = 0; s < n_slots; ++s)
            sum += (p[g * n_slots + s] = std::exp(p[g * n_slots + s] - m));
        for (int64_t s = 0; s < n_slots; ++s) p[g * n_slots + s] /= sum;
        for (int64_t s = 0; s < n_slots; ++s) {
            for (int64_t d = 0; d < head_dim; ++d) {
                out[g * head_dim + d] += p[g * n_slots + s] * v[s * head_dim + d];
            }
        }
    }
}

TEST_P(Kernels, AttendGroupAllKvTypes) {
    Rng rng(7);
    std::vector<AttnCase> cases;
    for (int64_t hd = 1; hd <= 35; hd += 2) cases.push_back({2, 9, hd});
    for (int64_t hd : {16, 32, 64, 128}) {
        for (int64_t slots : {0, 1, 5, 63, 64, 65, 200}) {
            for (int64_t group : {1, 2, 3, 4, 5, 8}) cases.push_back({group, slots, hd});
        }
    }
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        for (const AttnCase& c : cases) {
            const int64_t elems = c.n_slots * c.head_dim;
            const uint64_t bytes = dtype_row_bytes(type, elems);
            std::vector<float> q(c.group * c.head_dim), k(elems), v(elems);
            fill_normal(rng, q.data(), q.size());
            fill_normal(rng, k.data(), k.size());
            fill_normal(rng, v.data(), v.size());
            // The cache in `type`, element-aligned but not vector-aligned; k and v
            // become its exact values.
            Buffer<uint8_t> kc(bytes, 4), vc(bytes, 12);
            quantize_row(type, k.data(), elems, kc.data());
            quantize_row(type, v.data(), elems, vc.data());
            scalar::dequantize_row(type, kc.data(), elems, k.data());
            scalar::dequantize_row(type, vc.data(), elems, v.data());
            const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
            std::vector<double> p_ref, out_ref;
            attend_reference(q, c.group, k, v, c.n_slots, c.head_dim, scale, p_ref, out_ref);

            Buffer<float> scores(c.group * c.n_slots, 1), out(c.group * c.head_dim, 3, 4.0f);
            Buffer<float> scores_twin(c.group * c.n_slots, 0), twin(c.group * c.head_dim, 0);
            attend_group(q.data(), c.group, kc.data(), vc.data(), type, c.n_slots, c.head_dim,
                         scale, scores.data(), out.data());
            scalar::attend_group(q.data(), c.group, kc.data(), vc.data(), type, c.n_slots,
                                 c.head_dim, scale, scores_twin.data(), twin.data());
            // Scores: |error| <= scale * hd * u * sum|q k| ~ 1e-5 for these
            // sizes, which moves each probability by that relative amount.
            for (int64_t i = 0; i < c.group * c.n_slots; ++i) {
                ASSERT_NEAR(scores[i], p_ref[i], 2e-5 * p_ref[i] + 1e-7);
                ASSERT_NEAR(scores_twin[i], p_ref[i], 2e-5 * p_ref[i] + 1e-7);
            }
            for (int64_t i = 0; i < c.group * c.head_dim; ++i) {
                ASSERT_NEAR(out[i], out_ref[i], 2e-5)
                    << dtype_name(type) << " g=" << c.group << " slots=" << c.n_slots
                    << " hd=" << c.head_dim << " i=" << i;
                ASSERT_NEAR(twin[i], out_ref[i], 2e-5);
            }
            ASSERT_TRUE(out.guards_intact(4.0f));

            // attend() is attend_group() with one head.
            if (c.group == 1) {
                Buffer<float> out1(c.head_dim, 1);
                std::vector<float> scores1(c.n_slots);
                attend(q.data(), kc.data(), vc.data(), type, c.n_slots, c.head_dim, scale,
                       scores1.data(), out1.data());
                for (int64_t i = 0; i < c.head_dim; ++i) ASSERT_EQ(out1[i], out[i]);
                scalar::attend(q.data(), kc.data(), vc.data(), type, c.n_slots, c.head_dim, scale,
                               scores1.data(), out1.data());
                for (int64_t i = 0; i < c.head_dim; ++i) ASSERT_EQ(out1[i], twin[i]);
            }
        }
    }
}

// Bitwise equality, except that any NaN matches any NaN.
bool same_float(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return std::memcmp(&a, &b, sizeof(float)) == 0;
}

TEST_P(Kernels, DequantizeRowMatchesScalarExactly) {
    Rng rng(9);
    // Every f16/bf16 encoding (subnormals, infinities, NaNs) in one row.
    std::vector<uint16_t> all(65536 + 37);
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);
    for (DType type : {DType::F16, DType::BF16}) {
        for (size_t off : {0, 1}) {
            const int64_t n = static_cast<int64_t>(all.size() - off);
            std::vector<float> got(n), want(n);
            dequantize_row(type, all.data() + off, n, got.data());
            scalar::dequantize_row(type, all.data() + off, n, want.data());
            for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_float(got[i], want[i])) << i;
        }
    }
    for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
        for (int64_t n : sizes()) {
            std::vector<float> x(n + 32);
            fill_normal(rng, x.data(), x.size());
            // Q8_0 rows may end in a partial block; quantize whole blocks.
            const int64_t padded = type == DType::Q8_0 ? (n + 31) / 32 * 32 : n;
            Buffer<uint8_t> row(dtype_row_bytes(type, padded), type == DType::F32 ? 4 : 2);
            scalar::quantize_row(type, x.data(), padded, row.data());
            Buffer<float> got(n, 1, 8.0f), want(n, 0);
            dequantize_row(type, row.data(), n, got.data());
            scalar::dequantize_row(type, row.data(), n, want.data());
            for (int64_t i = 0; i < n; ++i)
                ASSERT_TRUE(same_float(got[i], want[i])) << n << " " << i;
            ASSERT_TRUE(got.guards_intact(8.0f));
        }
    }
}

TEST_P(Kernels, QuantizeRowMatchesScalarExactly) {
    Rng rng(10);
    std::vector<float> x;
    for (uint32_t h = 0; h < 65536; ++h) {  // every f16 and bf16 value and the ties between them
        x.push_back(f16_to_f32(static_cast<uint16_t>(h)));
        x.push_back(bf16_to_f32(static_cast<uint16_t>(h)));
        uint32_t tie = h << 16 | 0x8000u;
        float f;
        std::memcpy(&f, &tie, 4);
        x.push_back(f);
    }
    for (int i = 0; i < 100000; ++i) {
        uint32_t bits = static_cast<uint32_t>(rng.next_u64());
        float f;
        std::memcpy(&f, &bits, 4);
        x.push_back(f);
    }
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        for (size_t off : {0, 1, 3}) {
            const int64_t n = static_cast<int64_t>(x.size() - off);
            std::vector<uint16_t> got(2 * n), want(2 * n);
            quantize_row(type, x.data() + off, n, got.data());
            scalar::quantize_row(type, x.data() + off, n, want.data());
            std::vector<float> got_f(n), want_f(n);
            scalar::dequantize_row(type, got.data(), n, got_f.data());
            scalar::dequantize_row(type, want.data(), n, want_f.data());
            for (int64_t i = 0; i < n; ++i) {
                ASSERT_TRUE(same_float(got_f[i], want_f[i])) << dtype_name(type) << " " << i;
            }
        }
    }
    std::vector<float> q(64);
    fill_normal(rng, q.data(), 64);
    std::vector<uint8_t> a(dtype_row_bytes(DType::Q8_0, 64)), b(a.size());
    quantize_row(DType::Q8_0, q.data(), 64, a.data());
    scalar::quantize_row(DType::Q8_0, q.data(), 64, b.data());
    EXPECT_EQ(a, b);
}

TEST(QuantizeRow, Q8RoundTripWithinHalfAStep) {
    Rng rng(8);
    const int64_t n = 32 * 40;
    std::vector<float> x(n), back(n);
    fill_normal(rng, x.data(), n);
    for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block
    std::vector<uint8_t> q(dtype_row_bytes(DType::Q8_0, n));
    quantize_row(DType::Q8_0, x.data(), n, q.data());
    dequantize_row(DType::Q8_0, q.data(), n, back.data());
    for (int64_t b = 0; b < n / 32; ++b) {
        float amax = 0.0f;
        for (int64_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        BlockQ8_0 blk;
        std::memcpy(&blk, q.data() + b * sizeof(BlockQ8_0), sizeof(blk));
        float d = f16_to_f32(blk.scale);
        EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3);  // f16 scale: 11 bits
        for (int64_t j = 0; j < 32; ++j) {
            // Half a step from rounding, plus the f16 rounding of the scale.
            ASSERT_LE(std::fabs(back[b * 32 + j] - x[b * 32 + j]), 0.5f * d + 1e-3f * amax);
        }
    }
}

TEST(QuantizeRow, FloatTypesRoundToNearest) {
    const float x[] = {1.0f, -2.5f, 1.0f + 1.0f / 4096, 65519.0f, 1e-8f};
    std::vector<uint16_t> h(5), b(5);
    quantize_row(DType::F16, x, 5, h.data());
    quantize_row(DType::BF16, x, 5, b.data());
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(h[i], f32_to_f16(x[i]));
        EXPECT_EQ(b[i], f32_to_bf16(x[i]));
    }
}

}  // namespace
}  // namespace vase::test
