// matmul for every weight type, SIMD target, batch size 1..17 and thread
// count 1..3, against the scalar twin and a float64 reference computed from
// the same (dequantized) weights.
//
// Tolerance: each output is a sum of `cols` products of exactly
// representable f32 values (f16/bf16/Q8_0 weights dequantize exactly), so
// any summation order in f32 is within cols * u * sum|w x| of the exact
// value, u = 2^-24. Both the twin and the fast kernel are held to that bound.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/kernels.h"
#include "simd_test_util.h"

namespace vase::test {
namespace {

class Matmul : public SimdTest {};
VASE_INSTANTIATE_SIMD_TEST(Matmul);

struct Weights {
    Buffer<uint8_t> data;
    std::vector<float> values;  // dequantized, [rows, cols]
};

// Random weights of `type` at `offset` bytes past an alignment boundary.
Weights make_weights(Rng& rng, DType type, int64_t rows, int64_t cols, size_t offset) {
    const uint64_t stride = dtype_row_bytes(type, cols);
    Weights w{Buffer<uint8_t>(rows * stride, offset), std::vector<float>(rows * cols)};
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
        fill_normal(rng, row.data(), cols);
        quantize_row(type, row.data(), cols, w.data.data() + r * stride);
        scalar::dequantize_row(type, w.data.data() + r * stride, cols, w.values.data() + r * cols);
    }
    return w;
}

// Checks matmul and scalar::matmul of one shape against the float64 product.
void check_matmul(Rng& rng, ThreadPool& pool, DType type, int64_t rows, int64_t cols,
                  int64_t n_batch) {
    SCOPED_TRACE(::testing::Message() << dtype_name(type) << " rows=" << rows << " cols=" << cols
                                      << " batch=" << n_batch << " threads=" << pool.size());
    // Odd offsets: element-aligned for the scalar twin, never vector-aligned.
    const size_t w_offset = type == DType::F32 ? 4 : type == DType::Q8_0 ? 1 : 2;
    Weights w = make_weights(rng, type, rows, cols, w_offset);
    Buffer<float> x(n_batch * cols, 1);
    fill_normal(rng, x.data(), x.size());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float fill = -3.0f;
    Buffer<float> y(n_batch * rows, 3, fill), twin(n_batch * rows, 0);
    std::fill(y.data(), y.data() + y.size(), nan);  // every output must be written

    matmul(pool, type, w.data.data(), rows, cols, x.data(), n_batch, y.data());
    scalar::matmul(type, w.data.data(), rows, cols, x.data(), n_batch, twin.data());
    ASSERT_TRUE(y.guards_intact(fill));
    for (int64_t b = 0; b < n_batch; ++b) {
        for (int64_t r = 0; r < rows; ++r) {
            double exact = 0.0, abs_sum = 0.0;
            for (int64_t c = 0; c < cols; ++c) {
                double p = static_cast<double>(w.values[r * cols + c]) * x[b * cols + c];
                exact += p;
                abs_sum += std::fabs(p);
            }
            const double bound = (cols + 1) * kF32Eps * abs_sum;
            ASSERT_LE(std::fabs(y[b * rows + r] - exact), bound) << "b=" << b << " r=" << r;
            ASSERT_LE(std::fabs(twin[b * rows + r] - exact), bound) << "b=" << b << " r=" << r;
        }
    }
}

TEST_P(Matmul, FloatTypesAllColumnTailsAndBatches) {
    Rng rng(11);
    ThreadPool pool(1);
    std::vector<int64_t> cols_list;
    for (int64_t c = 0; c <= 35; ++c) cols_list.push_back(c);
    for (int64_t c : {63, 64, 65, 127, 129, 300}) cols_list.push_back(c);
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        for (int64_t rows : {1, 3, 4, 5, 9}) {
            for (int64_t cols : cols_list) {
                for (int64_t batch : {1, 2, 3, 4, 5, 7, 8, 16, 17}) {
                    check_matmul(rng, pool, type, rows, cols, batch);
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

TEST_P(Matmul, Q8AllBlockCountsAndBatches) {
    Rng rng(12);
    ThreadPool pool(1);
    for (int64_t rows : {1, 3, 4, 5, 9}) {
        for (int64_t cols : {32, 64, 96, 128, 160, 320, 1024}) {
            for (int64_t batch = 1; batch <= 17; ++batch) {
                check_matmul(rng, pool, DType::Q8_0, rows, cols, batch);
                if (HasFatalFailure()) return;
            }
        }
    }
}

TEST_P(Matmul, ThreadedShapesEveryBatchSize) {
    // Large enough to be split across the pool; row counts that leave
    // partial tiles and uneven per-thread chunks.
    Rng rng(13);
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
            for (int64_t batch : {1, 2, 3, 4, 5, 8, 16, 17}) {
                check_matmul(rng, pool, type, 103, 544, batch);
                if (HasFatalFailure()) return;
            }
            check_matmul(rng, pool, type, 1027, 96, 1);
            check_matmul(rng, pool, type, 67, 256, 40);  // more than one batch chunk
            if (HasFatalFailure()) return;
        }
    }
}

TEST_P(Matmul, RowsLongerThanTheBf16PairingBuffer) {
    // The bf16 matvec regroups x on the stack for up to 16384 columns;
    // longer rows take the general path.
    Rng rng(14);
    ThreadPool pool(2);
    for (DType type : {DType::BF16, DType::F16}) {
        check_matmul(rng, pool, type, 5, 16384 + 40, 1);
        check_matmul(rng, pool, type, 5, 16384, 1);
        if (HasFatalFailure()) return;
    }
}

TEST_P(Matmul, EmptyShapesWriteNothing) {
    ThreadPool pool(2);
    std::vector<float> x(64, 1.0f), y(64, 5.0f);
    std::vector<float> w(64, 1.0f);
    matmul(pool, DType::F32, w.data(), 0, 8, x.data(), 3, y.data());
    matmul(pool, DType::F32, w.data(), 8, 8, x.data(), 0, y.data());
    for (float v : y) EXPECT_EQ(v, 5.0f);
    matmul(pool, DType::F32, w.data(), 4, 0, x.data(), 2, y.data());  // empty sums are zero
    for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], 0.0f);
    EXPECT_EQ(y[8], 5.0f);
}

}  // namespace
}  // namespace vase::test
