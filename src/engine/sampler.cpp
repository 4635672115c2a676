// Filters work on unnormalised weights w = exp((logit - max) / T), so the most
// likely token has weight exactly 1: top-p compares running sums with
// top_p * sum(w) and min-p compares w with min_p, which is what HF does on
// normalised probabilities. Only top-p needs an order, and only near its
// boundary; drawing a token needs none.
#include "engine/sampler.h"

#include "util/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>

namespace vase {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int kHeapTopKMax = 256;      // larger k: nth_element over a copy instead of a heap
constexpr size_t kFullSortMax = 4096;  // more top-p candidates: histogram first

// Weights lie in [0, 1] and the bits of a non-negative float grow with its
// value, so (bits(1) - bits(w)) >> 20 files weights into buckets an eighth of
// an octave wide, most likely first; weights below 2^-31 share the last one.
constexpr int kBuckets = 256;
int weight_bucket(float w) {
    const uint32_t steps = (std::bit_cast<uint32_t>(1.0f) - std::bit_cast<uint32_t>(w)) >> 20;
    return steps < kBuckets ? static_cast<int>(steps) : kBuckets - 1;
}

// NaN ranks below everything, as -inf.
float sanitized(float v) {
    return std::isnan(v) ? kNegInf : v;
}

}  // namespace

void SamplingParams::validate() const {
    if (!(temperature >= 0.0f) || std::isinf(temperature)) {
        fail("sampling: temperature must be a finite number >= 0 (0 = greedy), got {}",
             temperature);
    }
    if (top_k < 0) fail("sampling: top_k must be >= 0 (0 = off), got {}", top_k);
    if (!(top_p > 0.0f && top_p <= 1.0f)) {
        fail("sampling: top_p must be in (0, 1] (1 = off), got {}", top_p);
    }
    if (!(min_p >= 0.0f && min_p <= 1.0f)) {
        fail("sampling: min_p must be in [0, 1] (0 = off), got {}", min_p);
    }
}

Sampler::Sampler(int64_t vocab_size, SamplingParams params)
    : vocab_size_(vocab_size), params_(params), rng_(params.seed) {
    if (vocab_size < 1 || vocab_size > std::numeric_limits<int32_t>::max()) {
        fail("sampler: vocabulary size must be in [1, 2^31), got {}", vocab_size);
    }
    params_.validate();
    if (params_.greedy()) return;
    cand_.resize(static_cast<size_t>(vocab_size));
    const int64_t k = params_.top_k;
    if (k > 0 && k < vocab_size)
        kth_.resize(static_cast<size_t>(k <= kHeapTopKMax ? k : vocab_size));
}

int32_t Sampler::argmax(const float* logits) const {
    // The maximum first, in independent lanes the compiler can vectorise
    // (`x > m ? x : m` skips NaN), then the first token that holds it.
    constexpr int kLanes = 16;
    const int64_t v = vocab_size_;
    float lane_max[kLanes];
    std::fill(lane_max, lane_max + kLanes, kNegInf);
    int64_t i = 0;
    for (; i + kLanes <= v; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
            const float x = logits[i + l];
            lane_max[l] = x > lane_max[l] ? x : lane_max[l];
        }
    }
    float best = kNegInf;
    for (; i < v; ++i) best = logits[i] > best ? logits[i] : best;
    for (float m : lane_max) best = m > best ? m : best;
    if (best == kNegInf) fail("sampler: every logit is -inf or NaN; nothing to sample");
    return static_cast<int32_t>(std::find(logits, logits + v, best) - logits);
}

// The k-th largest logit (counting repeats): HF's top-k keeps every token at
// or above it, so ties with the k-th all survive.
float Sampler::top_k_threshold(const float* logits) {
    const size_t k = static_cast<size_t>(params_.top_k);
    const size_t v = static_cast<size_t>(vocab_size_);
    if (k <= static_cast<size_t>(kHeapTopKMax)) {
        // Min-heap of the k largest seen so far; most logits fail the first test.
        float* heap = kth_.data();
        for (size_t i = 0; i < k; ++i) heap[i] = sanitized(logits[i]);
        std::make_heap(heap, heap + k, std::greater<float>());
        for (size_t i = k; i < v; ++i) {
            const float x = logits[i];
            if (x > heap[0]) {  // NaN never enters
                std::pop_heap(heap, heap + k, std::greater<float>());
                heap[k - 1] = x;
                std::push_heap(heap, heap + k, std::greater<float>());
            }
        }
        return heap[0];
    }
    for (size_t i = 0; i < v; ++i) kth_[i] = sanitized(logits[i]);
    std::nth_element(kth_.begin(), kth_.begin() + static_cast<ptrdiff_t>(k - 1), kth_.end(),
                     std::greater<float>());
    return kth_[k - 1];
}

// Reorders cand_[0, n) so that its first `keep` entries are the most likely
// ones whose weights first reach `target`, and returns keep. Small sets are
// sorted whole; large ones are first split by a histogram of the weights so
// that only the bucket where the running mass crosses `target` is sorted.
size_t Sampler::top_p_keep(size_t n, double target) {
    Candidate* cand = cand_.data();
    const auto more_likely = [](const Candidate& a, const Candidate& b) {
        return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
    };
    size_t begin = 0;   // cand[0, begin): kept whole, in any order
    size_t end = n;     // cand[begin, end): holds the boundary
    double mass = 0.0;  // weight of cand[0, begin)
    if (n > kFullSortMax) {
        double bucket_mass[kBuckets] = {};
        for (size_t j = 0; j < n; ++j) bucket_mass[weight_bucket(cand[j].weight)] += cand[j].weight;
        int boundary = 0;
        while (boundary < kBuckets - 1 && mass + bucket_mass[boundary] < target) {
            mass += bucket_mass[boundary++];
        }
        begin = static_cast<size_t>(
            std::partition(cand, cand + n,
                           [&](const Candidate& c) { return weight_bucket(c.weight) < boundary; }) -
            cand);
        end = static_cast<size_t>(std::partition(cand + begin, cand + n,
                                                 [&](const Candidate& c) {
                                                     return weight_bucket(c.weight) == boundary;
                                                 }) -
                                  cand);
    }
    std::sort(cand + begin, cand + end, more_likely);
    for (size_t j = begin; j < end; ++j) {
        mass += cand[j].weight;
        if (mass >= target) return j + 1;
    }
    return end;  // rounding left the mass a hair short: keep the whole bucket
}

size_t Sampler::filter(const float* logits) {
    const SamplingParams& p = params_;
    Candidate* cand = cand_.data();

    // Top-k, and the maximum for a stable exp.
    const bool use_top_k = p.top_k > 0 && p.top_k < vocab_size_;
    const float threshold = use_top_k ? top_k_threshold(logits) : kNegInf;
    size_t n = 0;
    if (threshold > kNegInf) {
        for (int32_t i = 0; i < vocab_size_; ++i) {
            if (logits[i] >= threshold) cand[n++] = {logits[i], i};  // NaN fails
        }
    } else {
        for (int32_t i = 0; i < vocab_size_; ++i) {
            if (logits[i] > kNegInf) cand[n++] = {logits[i], i};  // NaN fails
        }
    }
    float max_logit = kNegInf;
    for (size_t j = 0; j < n; ++j) max_logit = std::max(max_logit, cand[j].weight);
    if (n == 0) fail("sampler: every logit is -inf or NaN; nothing to sample");

    // Temperature and softmax weights (max weight exactly 1).
    if (std::isinf(max_logit)) {
        // +inf logits: only they are possible, each equally.
        size_t m = 0;
        for (size_t j = 0; j < n; ++j) {
            if (cand[j].weight == max_logit) cand[m++] = {1.0f, cand[j].id};
        }
        return m;
    }
    const float inv_t = 1.0f / p.temperature;
    double total = 0.0;
    if (std::isinf(inv_t)) {
        // A subnormal temperature: exp((x - max) / T) is 1 for the maximum and 0 otherwise.
        for (size_t j = 0; j < n; ++j) cand[j].weight = cand[j].weight == max_logit ? 1.0f : 0.0f;
    } else {
        for (size_t j = 0; j < n; ++j)
            cand[j].weight = std::exp((cand[j].weight - max_logit) * inv_t);
    }
    for (size_t j = 0; j < n; ++j) total += cand[j].weight;

    // Top-p: the fewest most likely tokens holding top_p of the mass.
    if (p.top_p < 1.0f) n = top_p_keep(n, static_cast<double>(p.top_p) * total);

    // Min-p, relative to the most likely token (weight 1).
    if (p.min_p > 0.0f) {
        size_t m = 0;
        for (size_t j = 0; j < n; ++j) {
            if (cand[j].weight >= p.min_p) cand[m++] = cand[j];
        }
        n = m;
    }
    return n;
}

int32_t Sampler::sample(const float* logits) {
    if (params_.greedy()) return argmax(logits);
    const size_t n = filter(logits);
    const Candidate* cand = cand_.data();
    double total = 0.0;
    for (size_t j = 0; j < n; ++j) total += cand[j].weight;
    const double u = rng_.uniform() * total;
    double cum = 0.0;
    for (size_t j = 0; j < n; ++j) {
        cum += cand[j].weight;
        if (u < cum) return cand[j].id;
    }
    // u rounded up to the total: the last token with any weight.
    for (size_t j = n; j-- > 0;) {
        if (cand[j].weight > 0.0f) return cand[j].id;
    }
    return cand[0].id;
}

std::vector<TokenProb> Sampler::distribution(const float* logits) {
    if (params_.greedy()) return {{argmax(logits), 1.0}};
    const size_t n = filter(logits);
    double total = 0.0;
    for (size_t j = 0; j < n; ++j) total += cand_[j].weight;
    std::vector<TokenProb> out;
    out.reserve(n);
    for (size_t j = 0; j < n; ++j) {
        if (cand_[j].weight > 0.0f) out.push_back({cand_[j].id, cand_[j].weight / total});
    }
    std::sort(out.begin(), out.end(), [](const TokenProb& a, const TokenProb& b) {
        return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
    });
    return out;
}

}  // namespace vase
