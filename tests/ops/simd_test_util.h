// Shared helpers of the ops tests: run a test once per SIMD target compiled
// into the kernels (so the AVX2 path is tested on AVX-512 machines too),
// random data, and buffers that start at odd addresses.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops/dtype.h"
#include "ops/kernels.h"
#include "util/rng.h"

namespace vase::test {

// Fixture parameterised by a Highway target bit; the kernels dispatch to it
// for the duration of the test.
class SimdTest : public ::testing::TestWithParam<int64_t> {
  protected:
    void SetUp() override { force_simd_target(GetParam()); }
    void TearDown() override { force_simd_target(0); }
};

inline std::string simd_param_name(const ::testing::TestParamInfo<int64_t>& info) {
    force_simd_target(info.param);
    std::string name = simd_target_name();
    force_simd_target(0);
    return name;
}

#define VASE_INSTANTIATE_SIMD_TEST(Suite)                                         \
    INSTANTIATE_TEST_SUITE_P(Targets, Suite, ::testing::ValuesIn(simd_targets()), \
                             ::vase::test::simd_param_name)

// `count` elements of T starting `offset` elements past a 64-byte boundary,
// with guard elements around them that tests can check were not touched.
template <typename T>
class Buffer {
  public:
    static constexpr size_t kGuard = 64;
    Buffer(size_t count, size_t offset, T fill = T{})
        : storage_(count + offset + 2 * kGuard + 64 / sizeof(T) + 1, fill), count_(count) {
        auto addr = reinterpret_cast<uintptr_t>(storage_.data() + kGuard);
        size_t skip = (64 - addr % 64) % 64 / sizeof(T);
        data_ = storage_.data() + kGuard + skip + offset;
    }
    T* data() { return data_; }
    const T* data() const { return data_; }
    T& operator[](size_t i) { return data_[i]; }
    size_t size() const { return count_; }
    // True if no element outside [data, data + count) differs from `fill`.
    bool guards_intact(T fill) const {
        for (const T* p = storage_.data(); p < data_; ++p)
            if (std::memcmp(p, &fill, sizeof(T)) != 0) return false;
        for (const T* p = data_ + count_; p < storage_.data() + storage_.size(); ++p)
            if (std::memcmp(p, &fill, sizeof(T)) != 0) return false;
        return true;
    }

  private:
    std::vector<T> storage_;
    size_t count_;
    T* data_;
};

inline void fill_normal(Rng& rng, float* x, size_t n, double stddev = 1.0) {
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(rng.normal() * stddev);
}

// The unit roundoff of f32.
inline constexpr double kF32Eps = 1.0 / (1 << 24);

}  // namespace vase::test
