// Causal attention of a block of consecutive query rows of one sequence over
// a slot cache, tiled in the manner of flash attention: keys and values are
// read one tile of kAttendTile slots at a time, converted to f32 once, and
// used by every query of the block; the softmax is computed online (a running
// maximum and sum per query, the output rescaled when the maximum grows), so
// no [queries, slots] score matrix is ever held. Prefill uses it: a chunk of C
// rows then reads the cache C / n_rows times instead of C times.
//
// Like the kernels of kernels.h it has a scalar twin in vase::scalar and is
// compiled for several SIMD targets (Highway), picked at run time.
#pragma once

#include <cstdint>

#include "ops/dtype.h"

namespace vase {

// Slots per key/value tile.
inline constexpr int64_t kAttendTile = 64;

// Query row i (0 <= i < n_rows) of the block is the token at slot n_past + i
// of the cache and sees slots [0, n_past + i] (its own key included); each of
// its `group` query heads (GQA heads of one KV head) attends independently:
//   p = softmax(scale * q . keys[s] over those slots),  out = sum_s p[s] * values[s].
// q: head g of row i at q[i * q_stride + g * head_dim] ([n_rows, group, head_dim]
//    with a row stride of q_stride >= group * head_dim floats);
// keys, values: [n_past + n_rows, head_dim] of kv_type (F32, F16 or BF16),
//    rows contiguous, element-aligned;
// out: the layout of q with row stride out_stride (written, not accumulated);
// scratch: attend_causal_block_scratch(n_rows, group, head_dim) floats, any
//    alignment, not shared with another thread.
void attend_causal_block(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                         const void* keys, const void* values, DType kv_type, int64_t n_past,
                         int64_t head_dim, float scale, float* scratch, float* out,
                         int64_t out_stride);

// Floats of scratch attend_causal_block needs for these sizes.
int64_t attend_causal_block_scratch(int64_t n_rows, int64_t group, int64_t head_dim);

namespace scalar {
// The readable definition: one query head at a time, a full softmax over its
// visible slots. scratch: n_past + n_rows floats.
void attend_causal_block(const float* q, int64_t q_stride, int64_t n_rows, int64_t group,
                         const void* keys, const void* values, DType kv_type, int64_t n_past,
                         int64_t head_dim, float scale, float* scratch, float* out,
                         int64_t out_stride);
}  // namespace scalar

}  // namespace vase
