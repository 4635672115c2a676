// Repetition-loop detection: synthetic loops of several periods behind a non-repeating
// prefix are flagged with the right period; natural-looking sequences, short repeats and
// lists whose lines differ only in numbers are not.
#include "eval/loop_detect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "util/rng.h"

namespace vase {
namespace {

// Token ids with a Zipf-like frequency profile over a 150k vocabulary, like prose.
std::vector<int32_t> prose(size_t n, uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out(n);
    for (auto& t : out) {
        double u = rng.uniform_open();
        t = static_cast<int32_t>(std::floor(std::pow(150000.0, u))) - 1;  // log-uniform rank
    }
    return out;
}

std::vector<int32_t> with_loop(size_t prefix, size_t period, size_t tail, uint64_t seed) {
    std::vector<int32_t> tokens = prose(prefix, seed);
    std::vector<int32_t> block = prose(period, seed + 1000);
    for (size_t i = 0; i < tail; ++i) tokens.push_back(block[i % period]);
    return tokens;
}

TEST(DetectLoop, FlagsLoopsOfSeveralPeriods) {
    for (size_t period : {1, 7, 50, 300}) {
        // At least 256 tokens and 3 blocks, plus a partial block cut by the limit.
        size_t tail = std::max<size_t>(4 * period, 600) + period / 2;
        std::vector<int32_t> tokens = with_loop(1000, period, tail, period);
        LoopInfo info = detect_loop(tokens, /*hit_limit=*/true);
        EXPECT_TRUE(info.looping) << "period " << period;
        EXPECT_EQ(info.period, static_cast<int64_t>(period));
        // The periodic tail is the loop (plus at most a chance match with the prefix).
        EXPECT_GE(info.repeated_tokens, static_cast<int64_t>(tail));
        EXPECT_LT(info.repeated_tokens, static_cast<int64_t>(tail + period + 3));
        // A completion that ended by itself is never a loop.
        EXPECT_FALSE(detect_loop(tokens, /*hit_limit=*/false).looping);
    }
}

TEST(DetectLoop, ThresholdsAreTheDocumentedOnes) {
    LoopParams d;
    EXPECT_EQ(d.max_period, 2048);
    EXPECT_EQ(d.min_repeats, 3);
    EXPECT_EQ(d.min_tokens, 256);
    // Period 1: 256 equal tokens at the end are a loop, 255 are not.
    EXPECT_TRUE(detect_loop(with_loop(500, 1, 256, 1), true).looping);
    EXPECT_FALSE(detect_loop(with_loop(500, 1, 255, 1), true).looping);
    // Period 50: three blocks are only 150 tokens (< 256); 256 tokens (5.1 blocks) are a loop.
    EXPECT_FALSE(detect_loop(with_loop(500, 50, 150, 2), true).looping);
    EXPECT_FALSE(detect_loop(with_loop(500, 50, 255, 2), true).looping);
    EXPECT_TRUE(detect_loop(with_loop(500, 50, 256, 2), true).looping);
    // Period 300: 256 tokens are not even one block; 3 blocks are needed.
    EXPECT_FALSE(detect_loop(with_loop(500, 300, 899, 3), true).looping);
    EXPECT_TRUE(detect_loop(with_loop(500, 300, 900, 3), true).looping);
}

TEST(DetectLoop, NaturalSequencesAreNotLoops) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
        EXPECT_FALSE(detect_loop(prose(8000, seed), true).looping) << seed;
    }
}

TEST(DetectLoop, APhraseRepeatedTwiceIsNotALoop) {
    for (size_t period : {7, 50, 300}) {
        std::vector<int32_t> tokens = with_loop(2000, period, 2 * period, period);
        EXPECT_FALSE(detect_loop(tokens, true).looping) << period;
    }
}

TEST(DetectLoop, SimilarLinesWithDifferentNumbersAreNotALoop) {
    // "Step k: x = 3k\n" for k = 1..400, each number a distinct token.
    const int32_t step = 101, colon = 25, x = 87, eq = 28, newline = 198, kNumberBase = 15;
    std::vector<int32_t> tokens = prose(300, 9);
    for (int32_t k = 1; k <= 400; ++k) {
        for (int32_t t : {step, kNumberBase + k, colon, x, eq, kNumberBase + 3 * k, newline})
            tokens.push_back(t);
    }
    EXPECT_FALSE(detect_loop(tokens, true).looping);
}

TEST(DetectLoop, ReportsTheBlockNotItsInternalPattern) {
    // Block "a b a b a b c": period 7, although "a b" repeats inside it.
    std::vector<int32_t> tokens = prose(400, 4);
    for (int rep = 0; rep < 100; ++rep)
        for (int32_t t : {5, 6, 5, 6, 5, 6, 9}) tokens.push_back(t);
    LoopInfo info = detect_loop(tokens, true);
    EXPECT_TRUE(info.looping);
    EXPECT_EQ(info.period, 7);
}

TEST(DetectLoop, MaxPeriodBoundsTheSearch) {
    std::vector<int32_t> tokens = with_loop(1000, 3000, 9500, 5);
    EXPECT_FALSE(detect_loop(tokens, true).looping);
    LoopParams wide;
    wide.max_period = 4096;
    LoopInfo info = detect_loop(tokens, true, wide);
    EXPECT_TRUE(info.looping);
    EXPECT_EQ(info.period, 3000);
}

TEST(DetectLoop, EdgeCases) {
    EXPECT_FALSE(detect_loop({}, true).looping);
    EXPECT_FALSE(detect_loop({1}, true).looping);
    EXPECT_FALSE(detect_loop(std::vector<int32_t>(100, 3), true).looping);  // < 256 tokens
    // A whole 32k completion of one token: the loop covers everything.
    LoopInfo info = detect_loop(std::vector<int32_t>(32768, 3), true);
    EXPECT_TRUE(info.looping);
    EXPECT_EQ(info.period, 1);
    EXPECT_EQ(info.repeated_tokens, 32768);
}

}  // namespace
}  // namespace vase
