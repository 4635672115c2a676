// matmul for every weight type, SIMD target, batch size 1..17 and thread
// count 1..3, against the scalar twin and a float64 reference computed from
// the same (dequantized) weights.
//
// Tolerance: each output is a sum of `cols` products of exactly
// representable f32 values (f16/bf16/Q8_0 weights dequantize exactly), so
// any summation order in f32 is within cols * u * sum|w x| of the exact
// value, u = 2^-24. Both the twin and the fast kernel are held to that bound.
//
// The batched BF16 path (AVX-512 BF16 CPUs) rounds x to bf16 first: it is
// held to the same bound against the float64 product with bf16-rounded x,
// like its twin scalar::matmul_bf16_activations, and against the product
// with the original x to that bound plus the rounding of x: bf16 keeps 8
// significant bits, so |x - bf16(x)| <= 2^-8 |x| and the sum moves by at
// most 2^-8 * sum|w x| (typically ~2^-9 * sqrt(cols) * rms(w x), as the
// errors have random signs).
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
    ASSERT_TRUE(y.guards_intact(fill));
    // The activations the kernel really multiplies: bf16-rounded on the
    // batched BF16 path.
    const bool bf16_x = (type == DType::BF16 || type == DType::Q8_0) &&
                        n_batch >= kBf16GemmMinBatch && bf16_gemm_enabled();
    std::vector<float> xr(x.data(), x.data() + x.size());
    if (bf16_x) {
        for (float& v : xr) v = bf16_to_f32(f32_to_bf16(v));
        scalar::matmul_bf16_activations(type, w.data.data(), rows, cols, x.data(), n_batch,
                                        twin.data());
    } else {
        scalar::matmul(type, w.data.data(), rows, cols, x.data(), n_batch, twin.data());
    }
    for (int64_t b = 0; b < n_batch; ++b) {
        for (int64_t r = 0; r < rows; ++r) {
            double exact = 0.0, abs_sum = 0.0, exact_f32_x = 0.0;
            for (int64_t c = 0; c < cols; ++c) {
                const double wv = w.values[r * cols + c];
                double p = wv * xr[b * cols + c];
                exact += p;
                abs_sum += std::fabs(p);
                exact_f32_x += wv * x[b * cols + c];
            }
            const double bound = (cols + 1) * kF32Eps * abs_sum;
            ASSERT_LE(std::fabs(y[b * rows + r] - exact), bound) << "b=" << b << " r=" << r;
            ASSERT_LE(std::fabs(twin[b * rows + r] - exact), bound) << "b=" << b << " r=" << r;
            if (bf16_x) {  // abs_sum is within 2^-8 of sum|w x| too
                const double rounding = std::ldexp(abs_sum, -8) / (1.0 - std::ldexp(1.0, -8));
                ASSERT_LE(std::fabs(y[b * rows + r] - exact_f32_x), bound + rounding)
                    << "b=" << b << " r=" << r;
            }
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

// The BF16 matvec builds the vectors of a row that starts off a 64-byte line
// from aligned loads (AVX-512; a GGUF tensor sits 32 bytes off a line): the
// products must equal, to the bit, those of the same weights placed at every
// other offset, whichever path each row takes (aligned, built from lines, or
// unaligned loads for offsets that are not a multiple of 4), and stay within
// the summation bound of the float64 product. Row lengths from the fewest
// vectors that take the built path (3 x 32 columns) up, with column tails, row
// strides that are and are not multiples of 64 bytes, and threads.
TEST_P(Matmul, Bf16MatvecSameBitsAtEveryRowOffset) {
    for (int64_t cols : {64, 96, 97, 100, 128, 136, 160, 544, 1024, 1056}) {
        for (int64_t rows : {1, 5, 103}) {
            ThreadPool pool(rows > 100 ? 2 : 1);
            Rng xrng(21);
            std::vector<float> x(cols);
            fill_normal(xrng, x.data(), cols);
            std::vector<float> first;
            for (size_t offset = 0; offset < 64; offset += 2) {
                SCOPED_TRACE(::testing::Message()
                             << "cols=" << cols << " rows=" << rows << " offset=" << offset);
                Rng rng(cols * 1000 + rows);  // the same weights at every offset
                Weights w = make_weights(rng, DType::BF16, rows, cols, offset);
                std::vector<float> y(rows);
                matmul(pool, DType::BF16, w.data.data(), rows, cols, x.data(), 1, y.data());
                if (offset == 0) {
                    first = y;
                    for (int64_t r = 0; r < rows; ++r) {
                        double exact = 0.0, abs_sum = 0.0;
                        for (int64_t c = 0; c < cols; ++c) {
                            const double p = double{w.values[r * cols + c]} * x[c];
                            exact += p;
                            abs_sum += std::fabs(p);
                        }
                        ASSERT_LE(std::fabs(y[r] - exact), (cols + 1) * kF32Eps * abs_sum)
                            << "r=" << r;
                    }
                    continue;
                }
                for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(y[r], first[r]) << "r=" << r;
            }
        }
    }
}

// The batched BF16 path (where the CPU has it; elsewhere this checks the
// f32 path at the same shapes): every column tail of 0..2 steps of 32,
// batch sizes that leave every partial tile of activation rows, row counts
// that leave partial row tiles, odd addresses, 1..3 threads.
TEST_P(Matmul, Bf16BatchedColumnTailsBatchesAndThreads) {
    Rng rng(15);
    std::vector<int64_t> cols_list;
    for (int64_t c = 0; c <= 64; ++c) cols_list.push_back(c);
    for (int64_t c : {95, 96, 97, 333}) cols_list.push_back(c);
    ThreadPool pool(1);
    for (int64_t cols : cols_list) {
        for (int64_t batch = 2; batch <= 33; ++batch) {
            check_matmul(rng, pool, DType::BF16, cols % 2 == 0 ? 5 : 9, cols, batch);
            if (HasFatalFailure()) return;
        }
    }
    for (int threads : {2, 3}) {
        ThreadPool threaded(threads);
        for (int64_t batch : {8, 13, 33}) {
            check_matmul(rng, threaded, DType::BF16, 103, 544, batch);
            check_matmul(rng, threaded, DType::BF16, 1, 100, batch);
            if (HasFatalFailure()) return;
        }
    }
}

TEST_P(Matmul, Q8BatchedBlockCountsBatchesAndThreads) {
    // Q8_0 takes the same path, unpacking a tile's blocks to bf16.
    Rng rng(18);
    ThreadPool pool(1);
    for (int64_t cols : {32, 64, 96, 1024, 1056, 2080}) {
        for (int64_t batch = 2; batch <= 33; ++batch) {
            check_matmul(rng, pool, DType::Q8_0, batch % 2 == 0 ? 5 : 9, cols, batch);
            if (HasFatalFailure()) return;
        }
    }
    for (int threads : {2, 3}) {
        ThreadPool threaded(threads);
        for (int64_t batch : {8, 13, 33}) {
            check_matmul(rng, threaded, DType::Q8_0, 103, 544, batch);
            if (HasFatalFailure()) return;
        }
    }
}

TEST_P(Matmul, Bf16BatchedSeveralActivationPanels) {
    // Long rows: the activation rows are taken in panels of ~192 KB of bf16
    // and the columns in blocks of 1024.
    Rng rng(16);
    ThreadPool pool(2);
    for (DType type : {DType::BF16, DType::Q8_0}) {
        check_matmul(rng, pool, type, 50, 3072, 70);
        check_matmul(rng, pool, type, 7, 1024, 200);
    }
}

TEST_P(Matmul, Bf16BatchedSwitchedOffKeepsF32Activations) {
    // With the switch off, batched BF16 takes the f32-activation path, held
    // to the f32 bound (check_matmul asks bf16_gemm_enabled()).
    Rng rng(17);
    ThreadPool pool(2);
    struct SwitchOff {
        SwitchOff() { enable_bf16_gemm(false); }
        ~SwitchOff() { enable_bf16_gemm(true); }
    } off;
    EXPECT_FALSE(bf16_gemm_enabled());
    for (int64_t batch : {8, 16, 17}) check_matmul(rng, pool, DType::BF16, 103, 544, batch);
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
