#include "kv/selector.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vase {

namespace {

double rank_key(double x) {
    return std::isnan(x) ? -std::numeric_limits<double>::infinity() : x;
}

// order[0..count) holds eligible indices; moves the best k to the front.
void partition_best(const double* key, int64_t* order, int64_t count, int64_t k) {
    // A strict total order (key descending, then index ascending): the
    // selected set is unique, so nth_element's instability cannot leak.
    auto better = [key](int64_t a, int64_t b) {
        const double x = rank_key(key[a]);
        const double y = rank_key(key[b]);
        return x > y || (x == y && a < b);
    };
    if (k < count) std::nth_element(order, order + k, order + count, better);
}

}  // namespace

int64_t select_top_k(const double* key, int64_t n, int64_t k, const uint8_t* taken, int64_t* order,
                     int64_t* out) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (taken == nullptr || taken[i] == 0) order[count++] = i;
    }
    const int64_t m = std::min(std::max<int64_t>(k, 0), count);
    partition_best(key, order, count, m);
    std::copy(order, order + m, out);
    return m;
}

int64_t sample_without_replacement(const double* weight, int64_t n, int64_t k, const uint8_t* taken,
                                   Rng& rng, double* race, int64_t* order, int64_t* out) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double e = -std::log(rng.uniform_open());  // Exp(1), > 0
        const double w = weight[i];
        if ((taken == nullptr || taken[i] == 0) && w > 0.0 && std::isfinite(w)) {
            race[i] = w / e;
            order[count++] = i;
        }
    }
    const int64_t m = std::min(std::max<int64_t>(k, 0), count);
    partition_best(race, order, count, m);
    std::copy(order, order + m, out);
    return m;
}

void mark_taken(const int64_t* idx, int64_t count, uint8_t* taken) {
    for (int64_t i = 0; i < count; ++i) taken[idx[i]] = 1;
}

}  // namespace vase
