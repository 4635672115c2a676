// One place that maps a policy name (EvictionParams::policy) to its factory.
// Adding a policy = a file in kv/policies/ + a line here + a README row +
// test parameters.
#pragma once

#include <cstdint>
#include <memory>

#include "kv/params.h"
#include "kv/policy.h"

namespace vase {

// Creates the policy named params.policy with all its scratch allocated:
// max_candidates candidates per KV head (capacity - window), max_queries
// buffered queries per query head, and scratch for n_threads threads (the
// most select() will use from a pool). Throws vase::Error for an unknown
// name or an invalid shape. Does not call params.validate() (the cache does,
// with its budget and window); per-pass rules are checked by select().
std::unique_ptr<EvictionPolicy> make_policy(const EvictionParams& params, int64_t n_layers,
                                            int64_t n_kv_heads, int64_t head_dim,
                                            int64_t max_candidates, int64_t n_q_heads,
                                            int64_t max_queries, int n_threads = 1);

}  // namespace vase
