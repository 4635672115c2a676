// Per-target helpers shared by the Highway kernel files (kernels.cpp,
// matmul.cpp). Included once per SIMD target through foreach_target.h, hence
// the toggling include guard instead of #pragma once.
#if defined(VASE_OPS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VASE_OPS_SIMD_INL_H_
#undef VASE_OPS_SIMD_INL_H_
#else
#define VASE_OPS_SIMD_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>

#include "ops/dtype.h"

HWY_BEFORE_NAMESPACE();
namespace vase {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// AVX-512 has 32 vector registers, the other x86 targets 16: tile sizes depend on it.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
inline constexpr int kVectorRegs = 32;
#else
inline constexpr int kVectorRegs = 16;
#endif

HWY_INLINE float reduce_sum(DF df, VF v) {
    return hn::GetLane(hn::SumOfLanes(df, v));
}

#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
template <class D>
HWY_INLINE void store_block_sums(D d, hn::Vec<D> v, float* out) {
    if constexpr (hn::MaxLanes(d) > 4) {
        const hn::Half<D> dh;
        store_block_sums(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)), out);
    } else {
        hn::StoreU(v, d, out);
    }
}

#endif

// out[0..4) = the lane sums of a, b, c and d: cheaper than four reduce_sum
// (two interleave rounds leave every 128-bit block holding partial sums of
// all four, then the blocks are added).
HWY_INLINE void reduce_sum4(DF df, VF a, VF b, VF c, VF d, float* out) {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
    out[0] = reduce_sum(df, a);
    out[1] = reduce_sum(df, b);
    out[2] = reduce_sum(df, c);
    out[3] = reduce_sum(df, d);
#else
    static_assert(hn::MaxLanes(DF()) >= 4, "128-bit blocks of four floats");
    const hn::Repartition<double, DF> dd;
    const VF ab = hn::Add(hn::InterleaveLower(df, a, b), hn::InterleaveUpper(df, a, b));
    const VF cd = hn::Add(hn::InterleaveLower(df, c, d), hn::InterleaveUpper(df, c, d));
    const auto ab64 = hn::BitCast(dd, ab);
    const auto cd64 = hn::BitCast(dd, cd);
    const VF abcd = hn::Add(hn::BitCast(df, hn::InterleaveLower(dd, ab64, cd64)),
                            hn::BitCast(df, hn::InterleaveUpper(dd, ab64, cd64)));
    store_block_sums(df, abcd, out);
#endif
}

// Keeps a loaded vector in a register. Without this GCC folds a load that
// feeds several FMAs into each of them as a memory operand, doubling the
// loads of a matmul tile.
template <class V>
HWY_INLINE V in_register(V v) {
#if HWY_ARCH_X86 && (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
    asm("" : "+v"(v.raw));
#endif
    return v;
}

// Lanes(df) elements of a row of `T` from element i on, as f32 (any alignment).
template <DType T>
HWY_INLINE VF load_f32(DF df, const void* row, int64_t i) {
    if constexpr (T == DType::F32) {
        return hn::LoadU(df, static_cast<const float*>(row) + i);
    } else if constexpr (T == DType::F16) {
#if HWY_TARGET == HWY_SCALAR  // Highway's scalar f16 promotion mishandles inf and NaN
        return hn::Set(df, f16_to_f32(static_cast<const uint16_t*>(row)[i]));
#else
        const hn::Rebind<hwy::float16_t, DF> dh;
        return hn::PromoteTo(df, hn::LoadU(dh, static_cast<const hwy::float16_t*>(row) + i));
#endif
    } else {
        static_assert(T == DType::BF16, "Q8_0 rows are read block by block");
        const hn::Rebind<hwy::bfloat16_t, DF> dh;
        return hn::PromoteTo(df, hn::LoadU(dh, static_cast<const hwy::bfloat16_t*>(row) + i));
    }
}

// One element, for the tails that do not fill a vector.
template <DType T>
HWY_INLINE float load_scalar(const void* row, int64_t i) {
    if constexpr (T == DType::F32) {
        return static_cast<const float*>(row)[i];
    } else if constexpr (T == DType::F16) {
        return f16_to_f32(static_cast<const uint16_t*>(row)[i]);
    } else {
        static_assert(T == DType::BF16, "Q8_0 rows are read block by block");
        return bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
    }
}

// The f16 scale of the Q8_0 block at `block` (34-byte blocks: any
// alignment), broadcast to every lane of d.
template <class D>
HWY_INLINE hn::Vec<D> q8_scale(D d, const uint8_t* block) {
    uint16_t bits;
    std::memcpy(&bits, block + offsetof(BlockQ8_0, scale), sizeof(bits));
#if HWY_TARGET == HWY_SCALAR
    return hn::Set(d, f16_to_f32(bits));
#else
    const hn::Rebind<uint16_t, D> du16;
    const hn::Rebind<hwy::float16_t, D> df16;
    return hn::PromoteTo(d, hn::BitCast(df16, hn::Set(du16, bits)));
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace vase
HWY_AFTER_NAMESPACE();

#endif  // VASE_OPS_SIMD_INL_H_
