// The shared selection step of every eviction policy: policies compute
// scores, these functions turn scores into kept indices. Ties go to the
// lower index everywhere; NaN ranks below every number. Nothing allocates:
// callers pass scratch of n elements.
#pragma once

#include <cstdint>

#include "util/rng.h"

namespace vase {

// Appends to out the indices of the k largest key[i] among i < n with
// taken[i] == 0 (taken may be null: all eligible), ranked by descending key
// and then ascending index; fewer when fewer are eligible. Returns how many
// were written, in no particular order. order: [n] scratch.
int64_t select_top_k(const double* key, int64_t n, int64_t k, const uint8_t* taken, int64_t* order,
                     int64_t* out);
// The same with ties broken toward the lower tie[i] (a candidate's position:
// the spec's "lower index" when the cache does not hold its slots in
// position order), then the lower index.
int64_t select_top_k(const double* key, const int64_t* tie, int64_t n, int64_t k,
                     const uint8_t* taken, int64_t* order, int64_t* out);

// Draws up to k indices without replacement among i < n with taken[i] == 0
// and weight[i] > 0 (finite), each draw with probability proportional to the
// remaining weights. Implemented as an exponential race (Gumbel top-k on
// log-weights: keep the k largest weight[i] / E_i, E_i ~ Exp(1)), which has
// exactly the distribution of successive draws. Consumes one uniform from
// rng per index i < n, whatever the weights. Writes the drawn set to out (in
// no particular order) and returns its size: min(k, number of positive weights).
// race: [n] scratch, order: [n] scratch.
int64_t sample_without_replacement(const double* weight, int64_t n, int64_t k, const uint8_t* taken,
                                   Rng& rng, double* race, int64_t* order, int64_t* out);

// Sets taken[idx[i]] = 1 for i < count.
void mark_taken(const int64_t* idx, int64_t count, uint8_t* taken);

}  // namespace vase
