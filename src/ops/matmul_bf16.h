// Internal to src/ops: the AVX-512 BF16 path of matmul() for BF16 weights
// and several activation rows (see matmul_bf16.cpp). Tests and benchmarks
// switch it through kernels.h.
#pragma once

#include <cstdint>

#include "ops/dtype.h"
#include "ops/thread_pool.h"

namespace vase {

// True if this CPU (and OS) runs AVX-512 F/BW/DQ/VL and BF16 instructions.
bool cpu_has_avx512_bf16();

// y[b, r] = sum_c w[r, c] * bf16(x[b, c]), as matmul() (w: [rows, cols] of
// wtype, BF16 or Q8_0; x: [n_batch, cols], y: [n_batch, rows]); needs
// cpu_has_avx512_bf16().
void matmul_bf16_gemm(ThreadPool& pool, DType wtype, const void* w, int64_t rows, int64_t cols,
                      const float* x, int64_t n_batch, float* y);

}  // namespace vase
