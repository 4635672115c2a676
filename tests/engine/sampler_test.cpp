// Sampler against an independent float64 implementation of HF's warpers
// (temperature, top-k, top-p, min-p), plus chi-square tests of the draws.
#include "engine/sampler.h"

#include "util/error.h"
#include "util/rng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <string>
#include <vector>

// Counts heap allocations, to check that sample() makes none. (GCC 12 takes
// free() on memory from this operator new for a mismatch once inlined.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n) {
    return operator new(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
    std::free(p);
}

namespace vase {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

SamplingParams params(float temperature, int top_k, float top_p, float min_p, uint64_t seed = 1) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    return p;
}

// HF's pipeline written plainly in float64: every filter renormalises.
std::vector<double> reference_probs(const std::vector<float>& logits, const SamplingParams& p) {
    const size_t v = logits.size();
    std::vector<double> x(v);
    std::vector<bool> keep(v);
    for (size_t i = 0; i < v; ++i) {
        x[i] = std::isnan(logits[i]) ? -INFINITY : static_cast<double>(logits[i]) / p.temperature;
        keep[i] = x[i] > -INFINITY;
    }
    if (p.top_k > 0 && static_cast<size_t>(p.top_k) < v) {
        std::vector<double> sorted = x;
        std::sort(sorted.begin(), sorted.end(), std::greater<double>());
        const double kth = sorted[static_cast<size_t>(p.top_k) - 1];
        for (size_t i = 0; i < v; ++i) keep[i] = keep[i] && x[i] >= kth;
    }
    std::vector<double> prob(v, 0.0);
    auto softmax = [&] {
        double mx = -INFINITY, sum = 0.0;
        for (size_t i = 0; i < v; ++i) {
            if (keep[i]) mx = std::max(mx, x[i]);
        }
        for (size_t i = 0; i < v; ++i) {
            prob[i] = keep[i] ? std::exp(x[i] - mx) : 0.0;
            sum += prob[i];
        }
        for (double& q : prob) q /= sum;
    };
    softmax();
    if (p.top_p < 1.0f) {
        std::vector<size_t> order(v);
        std::iota(order.begin(), order.end(), size_t{0});
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return prob[a] > prob[b] || (prob[a] == prob[b] && a < b);
        });
        double cum = 0.0;
        bool reached = false;
        for (size_t i : order) {
            if (reached) keep[i] = false;
            cum += prob[i];
            reached = reached || cum >= p.top_p;
        }
        softmax();
    }
    if (p.min_p > 0.0f) {
        const double top = *std::max_element(prob.begin(), prob.end());
        for (size_t i = 0; i < v; ++i) keep[i] = keep[i] && prob[i] >= p.min_p * top;
        softmax();
    }
    return prob;
}

// Compares Sampler::distribution() with the reference: same tokens, probs
// within 1e-6 (float32 exp against float64).
void expect_distribution_matches(const std::vector<float>& logits, const SamplingParams& p) {
    SCOPED_TRACE(testing::Message() << "T=" << p.temperature << " top_k=" << p.top_k
                                    << " top_p=" << p.top_p << " min_p=" << p.min_p);
    Sampler sampler(static_cast<int64_t>(logits.size()), p);
    const std::vector<TokenProb> got = sampler.distribution(logits.data());
    const std::vector<double> want = reference_probs(logits, p);
    std::map<int32_t, double> got_map;
    for (const TokenProb& t : got) got_map[t.id] = t.prob;
    size_t want_count = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i] < 1e-30) continue;
        ++want_count;
        auto it = got_map.find(static_cast<int32_t>(i));
        ASSERT_NE(it, got_map.end()) << "token " << i << " (p=" << want[i] << ") missing";
        EXPECT_NEAR(it->second, want[i], 1e-6) << "token " << i;
    }
    EXPECT_EQ(got.size(), want_count);
    for (size_t j = 1; j < got.size(); ++j) EXPECT_GE(got[j - 1].prob, got[j].prob);
}

std::vector<float> random_logits(size_t v, uint64_t seed, double scale, double quantum = 0.0) {
    Rng rng(seed);
    std::vector<float> out(v);
    for (float& x : out) {
        double y = rng.normal() * scale;
        if (quantum > 0) y = std::round(y / quantum) * quantum;  // many exact ties
        x = static_cast<float>(y);
    }
    return out;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> out;
    for (double q : probs) out.push_back(static_cast<float>(std::log(q)));
    return out;
}

std::vector<int32_t> kept_ids(const std::vector<float>& logits, const SamplingParams& p) {
    Sampler s(static_cast<int64_t>(logits.size()), p);
    std::vector<int32_t> ids;
    for (const TokenProb& t : s.distribution(logits.data())) ids.push_back(t.id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

using Ids = std::vector<int32_t>;

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
    Sampler s(4, params(0.0f, 20, 0.95f, 0.0f));
    const float tied[] = {1.0f, 5.0f, 5.0f, 2.0f};
    EXPECT_EQ(s.sample(tied), 1);
    const float with_nan[] = {kNaN, 3.0f, kNaN, 3.0f};
    EXPECT_EQ(s.sample(with_nan), 1);
    const float first[] = {-1.0f, -kInf, -2.0f, -1.0f};
    EXPECT_EQ(s.sample(first), 0);
    const float none[] = {-kInf, kNaN, -kInf, kNaN};
    EXPECT_THROW(s.sample(none), Error);
}

TEST(Sampler, TopKOneEqualsGreedy) {
    Sampler greedy(1000, params(0.0f, 0, 1.0f, 0.0f));
    Sampler top1(1000, params(1.0f, 1, 1.0f, 0.0f, 7));
    for (uint64_t seed = 0; seed < 50; ++seed) {
        const std::vector<float> logits = random_logits(1000, seed, 2.0);
        EXPECT_EQ(top1.sample(logits.data()), greedy.sample(logits.data())) << seed;
    }
}

TEST(Sampler, DistributionMatchesReferenceSmallVocab) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
        const std::vector<float> logits = random_logits(12, 100 + seed, 1.5);
        expect_distribution_matches(logits, params(1.0f, 0, 1.0f, 0.0f));
        expect_distribution_matches(logits, params(0.6f, 20, 0.95f, 0.0f));
        expect_distribution_matches(logits, params(1.3f, 5, 0.8f, 0.0f));
        expect_distribution_matches(logits, params(0.7f, 0, 0.6f, 0.1f));
        expect_distribution_matches(logits, params(2.0f, 4, 1.0f, 0.3f));
        expect_distribution_matches(logits, params(0.05f, 0, 0.9f, 0.0f));
    }
}

TEST(Sampler, DistributionMatchesReferenceQwen3Vocab) {
    const size_t v = 151936;
    const std::vector<float> logits = random_logits(v, 42, 3.0);
    expect_distribution_matches(logits, params(0.6f, 20, 0.95f, 0.0f));   // Qwen3 thinking
    expect_distribution_matches(logits, params(0.7f, 20, 0.8f, 0.0f));    // Qwen3 non-thinking
    expect_distribution_matches(logits, params(1.0f, 0, 0.95f, 0.0f));    // top-p over all
    expect_distribution_matches(logits, params(1.5f, 0, 0.99f, 0.0f));    // many chunks
    expect_distribution_matches(logits, params(0.8f, 0, 1.0f, 0.05f));    // min-p only
    expect_distribution_matches(logits, params(1.0f, 1000, 0.9f, 0.0f));  // large k
    expect_distribution_matches(logits, params(1.0f, 300, 1.0f, 0.01f));
    // Logits on a coarse grid: ties at the top-k and top-p boundaries.
    const std::vector<float> tied = random_logits(v, 43, 3.0, 0.25);
    expect_distribution_matches(tied, params(1.0f, 20, 0.95f, 0.0f));
    expect_distribution_matches(tied, params(1.0f, 500, 0.9f, 0.02f));
    expect_distribution_matches(tied, params(1.2f, 0, 0.97f, 0.0f));
}

// The 0.9999 quantile of chi-square with `df` degrees of freedom
// (Wilson-Hilferty approximation).
double chi_square_critical(int df) {
    const double z = 3.719;
    const double a = 2.0 / (9.0 * df);
    return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

TEST(Sampler, DrawsFollowTheDistribution) {
    const std::vector<float> logits = random_logits(12, 7, 1.5);
    const SamplingParams cases[] = {
        params(1.0f, 0, 1.0f, 0.0f, 11),  params(0.6f, 20, 0.95f, 0.0f, 12),
        params(1.3f, 6, 0.8f, 0.0f, 13),  params(0.8f, 0, 1.0f, 0.15f, 14),
        params(1.0f, 8, 0.9f, 0.05f, 15),
    };
    const int n = 60000;
    for (const SamplingParams& p : cases) {
        SCOPED_TRACE(testing::Message() << "T=" << p.temperature << " top_k=" << p.top_k
                                        << " top_p=" << p.top_p << " min_p=" << p.min_p);
        const std::vector<double> expected = reference_probs(logits, p);
        std::vector<int> counts(logits.size(), 0);
        Sampler s(static_cast<int64_t>(logits.size()), p);
        for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(s.sample(logits.data()))];
        double chi2 = 0.0;
        int categories = 0;
        for (size_t i = 0; i < logits.size(); ++i) {
            if (expected[i] == 0.0) {
                EXPECT_EQ(counts[i], 0) << "filtered-out token " << i << " was drawn";
                continue;
            }
            const double e = expected[i] * n;
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
            ++categories;
        }
        ASSERT_GE(categories, 2);
        EXPECT_LT(chi2, chi_square_critical(categories - 1)) << categories << " categories";
    }
}

TEST(Sampler, TopKKeepsTiesOfTheKthLogit) {
    const std::vector<float> logits = {3.0f, 2.0f, 2.0f, 1.0f, 0.0f};
    EXPECT_EQ(kept_ids(logits, params(1.0f, 2, 1.0f, 0.0f)), (Ids{0, 1, 2}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 1, 1.0f, 0.0f)), (Ids{0}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 4, 1.0f, 0.0f)), (Ids{0, 1, 2, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 99, 1.0f, 0.0f)), (Ids{0, 1, 2, 3, 4}));
}

TEST(Sampler, TopPBoundaries) {
    // Probabilities 0.4, 0.3, 0.2, 0.1 (ids shuffled).
    const std::vector<float> logits = logits_of({0.2, 0.4, 0.1, 0.3});
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.3999f, 0.0f)), (Ids{1}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.4001f, 0.0f)), (Ids{1, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.6999f, 0.0f)), (Ids{1, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.7001f, 0.0f)), (Ids{0, 1, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.9001f, 0.0f)), (Ids{0, 1, 2, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 1e-6f, 0.0f)), (Ids{1}));  // at least one
    // top_p = 1 is off: even a negligible token stays.
    const std::vector<float> tiny = logits_of({0.5, 0.5 - 1e-12, 1e-12});
    EXPECT_EQ(kept_ids(tiny, params(1.0f, 0, 1.0f, 0.0f)), (Ids{0, 1, 2}));
    // Equal probabilities: the lower id comes first.
    EXPECT_EQ(kept_ids({1.0f, 1.0f, 1.0f, 1.0f}, params(1.0f, 0, 0.5f, 0.0f)), (Ids{0, 1}));
}

TEST(Sampler, MinPBoundaries) {
    const std::vector<float> logits = logits_of({0.2, 0.4, 0.1, 0.3});
    // Keep prob >= min_p * 0.4: the 0.1 token sits at min_p = 0.25.
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 1.0f, 0.2499f)), (Ids{0, 1, 2, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 1.0f, 0.2501f)), (Ids{0, 1, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 1.0f, 0.7499f)), (Ids{1, 3}));
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 1.0f, 0.7501f)), (Ids{1}));
    // min_p = 1 keeps the most likely tokens, ties included.
    EXPECT_EQ(kept_ids({2.0f, 1.0f, 2.0f}, params(1.0f, 0, 1.0f, 1.0f)), (Ids{0, 2}));
    // Applied after top-p, relative to the surviving maximum.
    EXPECT_EQ(kept_ids(logits, params(1.0f, 0, 0.6f, 0.7501f)), (Ids{1}));
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
    const std::vector<float> logits = {0.0f, 1.0f};
    Sampler cold(2, params(0.5f, 0, 1.0f, 0.0f));
    Sampler hot(2, params(2.0f, 0, 1.0f, 0.0f));
    // p(1) = 1 / (1 + e^(-1/T))
    EXPECT_NEAR(cold.distribution(logits.data())[0].prob, 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
    EXPECT_NEAR(hot.distribution(logits.data())[0].prob, 1.0 / (1.0 + std::exp(-0.5)), 1e-6);
}

TEST(Sampler, TinyTemperatureIsAlmostGreedy) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f};
    for (float t : {1e-30f, 1e-45f}) {  // 1 / 1e-45 overflows to inf
        Sampler s(4, params(t, 0, 1.0f, 0.0f));
        const std::vector<TokenProb> d = s.distribution(logits.data());
        ASSERT_EQ(d.size(), 2u) << t;
        EXPECT_EQ(d[0].id, 1);
        EXPECT_EQ(d[1].id, 2);
        EXPECT_DOUBLE_EQ(d[0].prob, 0.5);
    }
}

TEST(Sampler, InfiniteAndNaNLogits) {
    const std::vector<float> logits = {1.0f, kInf, kNaN, kInf, -kInf};
    Sampler s(5, params(1.0f, 0, 1.0f, 0.0f));
    const std::vector<TokenProb> d = s.distribution(logits.data());
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].id, 1);
    EXPECT_EQ(d[1].id, 3);
    EXPECT_DOUBLE_EQ(d[0].prob, 0.5);
    for (int i = 0; i < 100; ++i) {
        const int32_t t = s.sample(logits.data());
        EXPECT_TRUE(t == 1 || t == 3) << t;
    }
    const std::vector<float> dead = {-kInf, kNaN};
    Sampler small(2, params(1.0f, 1, 0.9f, 0.1f));
    EXPECT_THROW(small.sample(dead.data()), Error);
}

TEST(Sampler, SameSeedSameDraws) {
    const SamplingParams p = params(1.0f, 50, 0.95f, 0.0f, 1234);
    Sampler a(2000, p), b(2000, p);
    Sampler other(2000, params(1.0f, 50, 0.95f, 0.0f, 1235));
    std::vector<int32_t> first;
    int differences = 0;
    for (uint64_t step = 0; step < 300; ++step) {
        const std::vector<float> logits = random_logits(2000, step, 1.0);
        if (step % 3 == 0) (void)a.distribution(logits.data());  // does not consume randomness
        const int32_t t = a.sample(logits.data());
        EXPECT_EQ(t, b.sample(logits.data())) << step;
        differences += t != other.sample(logits.data());
        first.push_back(t);
    }
    EXPECT_GT(differences, 100);
    a.reseed(1234);
    for (uint64_t step = 0; step < 300; ++step) {
        const std::vector<float> logits = random_logits(2000, step, 1.0);
        EXPECT_EQ(a.sample(logits.data()), first[step]) << step;
    }
}

TEST(Sampler, SampleDoesNotAllocate) {
    const size_t v = 151936;
    const std::vector<float> logits = random_logits(v, 5, 3.0);
    const SamplingParams cases[] = {params(0.0f, 0, 1.0f, 0.0f), params(0.6f, 20, 0.95f, 0.0f),
                                    params(1.0f, 0, 0.95f, 0.05f), params(1.0f, 2000, 0.9f, 0.0f)};
    for (const SamplingParams& p : cases) {
        Sampler s(static_cast<int64_t>(v), p);
        const long before = g_allocations.load();
        int32_t sum = 0;
        for (int i = 0; i < 5; ++i) sum += s.sample(logits.data());
        EXPECT_EQ(g_allocations.load(), before) << "top_k=" << p.top_k;
        EXPECT_GE(sum, 0);
    }
}

TEST(SamplingParams, InvalidValuesAreRejected) {
    struct Bad {
        SamplingParams p;
        const char* name;
    };
    const Bad bad[] = {
        {params(-0.1f, 20, 0.95f, 0.0f), "temperature"},
        {params(kNaN, 20, 0.95f, 0.0f), "temperature"},
        {params(kInf, 20, 0.95f, 0.0f), "temperature"},
        {params(0.6f, -1, 0.95f, 0.0f), "top_k"},
        {params(0.6f, 20, 0.0f, 0.0f), "top_p"},
        {params(0.6f, 20, 1.01f, 0.0f), "top_p"},
        {params(0.6f, 20, kNaN, 0.0f), "top_p"},
        {params(0.6f, 20, -0.5f, 0.0f), "top_p"},
        {params(0.6f, 20, 0.95f, -0.01f), "min_p"},
        {params(0.6f, 20, 0.95f, 1.5f), "min_p"},
        {params(0.6f, 20, 0.95f, kNaN), "min_p"},
    };
    for (const Bad& b : bad) {
        try {
            b.p.validate();
            ADD_FAILURE() << "accepted bad " << b.name;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(b.name), std::string::npos) << e.what();
        }
        EXPECT_THROW(Sampler(10, b.p), Error) << b.name;
    }
    EXPECT_NO_THROW(params(0.0f, 0, 1.0f, 1.0f).validate());
    EXPECT_NO_THROW(SamplingParams{}.validate());
    EXPECT_THROW(Sampler(0, SamplingParams{}), Error);
}

}  // namespace
}  // namespace vase
