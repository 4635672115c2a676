#include "kv/selector.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vase {

namespace {

double rank_key(double x) {
    return std::isnan(x) ? -std::numeric_limits<double>::infinity() : x;
}

// Largest number of dropped indices found with a heap on the stack.
constexpr int64_t kMaxHeapDrop = 512;

// Moves the best k of order[0..count) to the front when few are dropped
// (count - k <= kMaxHeapDrop), ranked by rank_key(key) descending and then by
// `after` (a strict order among equal keys). The value t of the (count -
// k)-th worst key comes from a heap of doubles (most keys are rejected by one
// comparison with its top); keys above t are kept, then the best of those
// equal to t. Returns false when too many are dropped.
template <typename After>
bool drop_worst(const double* key, const After& after, int64_t* order, int64_t count, int64_t k) {
    const int64_t m = count - k;
    if (m <= 0) return true;
    if (m > kMaxHeapDrop) return false;
    double heap[kMaxHeapDrop];  // max-heap: its top is the largest of the m smallest keys
    int64_t size = 0;
    for (int64_t i = 0; i < count; ++i) {
        const double x = rank_key(key[order[i]]);
        if (size < m) {
            heap[size++] = x;
            std::push_heap(heap, heap + size);
        } else if (x < heap[0]) {
            std::pop_heap(heap, heap + size);
            heap[size - 1] = x;
            std::push_heap(heap, heap + size);
        }
    }
    const double t = heap[0];
    // Keys above t first (at most k of them), then those equal to t.
    int64_t above = 0;
    for (int64_t i = 0; i < count; ++i) {
        if (rank_key(key[order[i]]) > t) std::swap(order[above++], order[i]);
    }
    int64_t equal = above;
    for (int64_t i = above; i < count; ++i) {
        if (rank_key(key[order[i]]) == t) std::swap(order[equal++], order[i]);
    }
    if (k - above < equal - above) {
        std::nth_element(order + above, order + k, order + equal, after);
    }
    return true;
}

// order[0..count) holds eligible indices; moves the best k to the front.
// tie: null, or the secondary key (ascending) before the index.
void partition_best(const double* key, const int64_t* tie, int64_t* order, int64_t count,
                    int64_t k) {
    if (k >= count) return;
    // A strict total order (key descending, then tie and index ascending):
    // the selected set is unique, so neither nth_element's instability nor
    // the method chosen can leak into it.
    if (tie == nullptr) {
        auto after = [](int64_t a, int64_t b) { return a < b; };
        if (drop_worst(key, after, order, count, k)) return;
        std::nth_element(order, order + k, order + count, [key](int64_t a, int64_t b) {
            const double x = rank_key(key[a]);
            const double y = rank_key(key[b]);
            return x > y || (x == y && a < b);
        });
    } else {
        auto after = [tie](int64_t a, int64_t b) {
            return tie[a] < tie[b] || (tie[a] == tie[b] && a < b);
        };
        if (drop_worst(key, after, order, count, k)) return;
        std::nth_element(order, order + k, order + count, [key, after](int64_t a, int64_t b) {
            const double x = rank_key(key[a]);
            const double y = rank_key(key[b]);
            return x > y || (x == y && after(a, b));
        });
    }
}

}  // namespace

int64_t select_top_k(const double* key, int64_t n, int64_t k, const uint8_t* taken, int64_t* order,
                     int64_t* out) {
    return select_top_k(key, nullptr, n, k, taken, order, out);
}

int64_t select_top_k(const double* key, const int64_t* tie, int64_t n, int64_t k,
                     const uint8_t* taken, int64_t* order, int64_t* out) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (taken == nullptr || taken[i] == 0) order[count++] = i;
    }
    const int64_t m = std::min(std::max<int64_t>(k, 0), count);
    partition_best(key, tie, order, count, m);
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
    partition_best(race, nullptr, order, count, m);
    std::copy(order, order + m, out);
    return m;
}

void mark_taken(const int64_t* idx, int64_t count, uint8_t* taken) {
    for (int64_t i = 0; i < count; ++i) taken[idx[i]] = 1;
}

}  // namespace vase
