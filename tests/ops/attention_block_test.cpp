// attend_causal_block (tiled causal attention of a block of query rows) and
// its scalar twin against a float64 reference, for every SIMD target compiled
// in: rows 1..37, 0 .. past 2 tiles of earlier slots (tile edges and odd
// counts), GQA groups 1/2/4, head_dim 16/64/128, F32/F16/BF16 caches, query
// and output rows with a stride wider than the block's heads, and buffers
// that are not vector-aligned.
//
// Tolerance: the reference is computed from the cache's exact (rounded)
// values, so only f32 arithmetic differs. A score of hd products is within
// about sqrt(hd) * u * scale * |q| |k| of exact in practice (~1e-6 here) and
// moves each probability by that relative amount; an output, a convex
// combination of values of size ~1, is then off by a few 1e-6. 2e-5 (the
// bound kernels_test uses for attend_group) leaves a margin; the "sharp"
// cases, queries 4x larger, get 1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/attention_block.h"
#include "ops/kernels.h"
#include "simd_test_util.h"

namespace vase::test {
namespace {

struct BlockCase {
    int64_t n_rows, n_past, group, head_dim;
    double q_stddev = 1.0;
};

// out_ref[(i * group + g) * hd + d] in float64 from the dequantized cache k, v
// ([n_past + n_rows, hd]); q laid out with row stride q_stride.
std::vector<double> causal_reference(const std::vector<float>& q, int64_t q_stride,
                                     const BlockCase& c, const std::vector<float>& k,
                                     const std::vector<float>& v, double scale) {
    const int64_t hd = c.head_dim;
    std::vector<double> out(static_cast<size_t>(c.n_rows * c.group * hd), 0.0);
    std::vector<double> p;
    for (int64_t i = 0; i < c.n_rows; ++i) {
        const int64_t n = c.n_past + i + 1;
        for (int64_t g = 0; g < c.group; ++g) {
            const float* qg = &q[i * q_stride + g * hd];
            p.assign(n, 0.0);
            double m = -std::numeric_limits<double>::infinity();
            for (int64_t t = 0; t < n; ++t) {
                double acc = 0.0;
                for (int64_t d = 0; d < hd; ++d) acc += static_cast<double>(qg[d]) * k[t * hd + d];
                p[t] = scale * acc;
                m = std::max(m, p[t]);
            }
            double sum = 0.0;
            for (int64_t t = 0; t < n; ++t) sum += (p[t] = std::exp(p[t] - m));
            double* o = &out[(i * c.group + g) * hd];
            for (int64_t t = 0; t < n; ++t) {
                for (int64_t d = 0; d < hd; ++d) o[d] += p[t] / sum * v[t * hd + d];
            }
        }
    }
    return out;
}

std::vector<BlockCase> cases() {
    std::vector<BlockCase> c;
    for (int64_t rows = 1; rows <= 37; ++rows) {
        for (int64_t past : {0, 65}) c.push_back({rows, past, 2, 64});
    }
    for (int64_t hd : {16, 64, 128}) {
        for (int64_t group : {1, 2, 4}) {
            for (int64_t rows : {1, 2, 5, 17, 37}) {
                for (int64_t past : {0, 1, 63, 64, 127, 128, 129})
                    c.push_back({rows, past, group, hd});
            }
        }
    }
    for (int64_t rows : {3, 37}) c.push_back({rows, 100, 2, 128, 4.0});
    return c;
}

// Forces a SIMD target for its lifetime.
struct ForcedTarget {
    explicit ForcedTarget(int64_t target) { force_simd_target(target); }
    ~ForcedTarget() { force_simd_target(0); }
};

TEST(AttendCausalBlock, MatchesFloat64ReferenceOnEveryTarget) {
    Rng rng(11);
    const std::vector<int64_t> targets = simd_targets();
    ASSERT_FALSE(targets.empty());
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        for (const BlockCase& c : cases()) {
            const int64_t hd = c.head_dim, n_slots = c.n_past + c.n_rows;
            const int64_t q_stride = c.group * hd + 3, out_stride = c.group * hd + 5;
            const int64_t elems = n_slots * hd;
            const uint64_t bytes = dtype_row_bytes(type, static_cast<uint64_t>(elems));
            std::vector<float> q(c.n_rows * q_stride), k(elems), v(elems);
            fill_normal(rng, q.data(), q.size(), c.q_stddev);
            fill_normal(rng, k.data(), k.size());
            fill_normal(rng, v.data(), v.size());
            // The cache in `type`, element- but not vector-aligned; k and v become
            // its exact values.
            Buffer<uint8_t> kc(bytes, 4), vc(bytes, 12);
            quantize_row(type, k.data(), elems, kc.data());
            quantize_row(type, v.data(), elems, vc.data());
            scalar::dequantize_row(type, kc.data(), elems, k.data());
            scalar::dequantize_row(type, vc.data(), elems, v.data());
            const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
            const std::vector<double> ref = causal_reference(q, q_stride, c, k, v, scale);
            const double tol = c.q_stddev > 1.0 ? 1e-4 : 2e-5;
            auto check = [&](const Buffer<float>& out, const char* what) {
                for (int64_t i = 0; i < c.n_rows; ++i) {
                    for (int64_t j = 0; j < out_stride; ++j) {
                        const float got = out.data()[i * out_stride + j];
                        if (j >= c.group * hd) {  // the gap past the block's heads
                            ASSERT_EQ(got, 4.0f) << what << " wrote past row " << i;
                            continue;
                        }
                        ASSERT_NEAR(got, ref[i * c.group * hd + j], tol)
                            << what << " " << dtype_name(type) << " rows=" << c.n_rows
                            << " past=" << c.n_past << " group=" << c.group << " hd=" << hd
                            << " row=" << i << " j=" << j;
                    }
                }
                ASSERT_TRUE(out.guards_intact(4.0f)) << what;
            };

            Buffer<float> twin(c.n_rows * out_stride, 1, 4.0f);
            std::vector<float> twin_scratch(n_slots);
            scalar::attend_causal_block(q.data(), q_stride, c.n_rows, c.group, kc.data(), vc.data(),
                                        type, c.n_past, hd, scale, twin_scratch.data(), twin.data(),
                                        out_stride);
            check(twin, "scalar");

            for (int64_t target : targets) {
                ForcedTarget forced(target);
                // Scratch at an odd offset and full of NaN: read before written would show.
                Buffer<float> scratch(attend_causal_block_scratch(c.n_rows, c.group, hd), 1,
                                      std::numeric_limits<float>::quiet_NaN());
                Buffer<float> out(c.n_rows * out_stride, 3, 4.0f);
                attend_causal_block(q.data(), q_stride, c.n_rows, c.group, kc.data(), vc.data(),
                                    type, c.n_past, hd, scale, scratch.data(), out.data(),
                                    out_stride);
                check(out, simd_target_name());
            }
        }
    }
}

TEST(AttendCausalBlock, OneRowIsAttendGroupOverItsSlots) {
    // A block of one row is ordinary attention of its group over n_past + 1 slots.
    Rng rng(12);
    const int64_t hd = 64, group = 2;
    for (int64_t past : {0, 1, 64, 130}) {
        const int64_t n = past + 1;
        std::vector<float> q(group * hd), k(n * hd), v(n * hd), scores(group * n);
        fill_normal(rng, q.data(), q.size());
        fill_normal(rng, k.data(), k.size());
        fill_normal(rng, v.data(), v.size());
        std::vector<float> scratch(attend_causal_block_scratch(1, group, hd));
        std::vector<float> out(group * hd), expected(group * hd);
        const float scale = 0.125f;
        attend_causal_block(q.data(), group * hd, 1, group, k.data(), v.data(), DType::F32, past,
                            hd, scale, scratch.data(), out.data(), group * hd);
        attend_group(q.data(), group, k.data(), v.data(), DType::F32, n, hd, scale, scores.data(),
                     expected.data());
        for (int64_t i = 0; i < group * hd; ++i) ASSERT_NEAR(out[i], expected[i], 1e-5) << i;
    }
}

TEST(AttendCausalBlock, NoRowsWritesNothing) {
    std::vector<float> q(64, 1.0f), kv(64, 1.0f), scratch(attend_causal_block_scratch(0, 1, 64));
    Buffer<float> out(64, 0, 4.0f);
    attend_causal_block(q.data(), 64, 0, 1, kv.data(), kv.data(), DType::F32, 1, 64, 1.0f,
                        scratch.data(), out.data(), 64);
    for (int64_t i = 0; i < 64; ++i) ASSERT_EQ(out[i], 4.0f);
    ASSERT_TRUE(out.guards_intact(4.0f));
}

}  // namespace
}  // namespace vase::test
