// Repetition loops: a completion that stopped at the token limit while repeating the same
// block of tokens back to back. Rule and parameters: docs/grading.md, "Repetition loops".
#pragma once

#include <cstdint>
#include <vector>

namespace vase {

struct LoopParams {
    int64_t max_period = 2048;  // longest block searched for (tokens)
    int64_t min_repeats = 3;    // the periodic tail holds at least this many whole blocks
    int64_t min_tokens = 256;   // and covers at least this many tokens
};

struct LoopInfo {
    bool looping = false;
    int64_t period = 0;           // block length (the smallest that qualifies); 0 if none
    int64_t repeated_tokens = 0;  // length of the periodic tail; 0 if none
};

// Flags `tokens` (the generated tokens, prompt excluded) as a loop when hit_limit is set
// and, for some period p <= max_period, the longest suffix with t[i] == t[i - p] throughout
// spans at least max(min_repeats * p, min_tokens) tokens. The smallest such p is reported.
// Time O(n * max_period) at worst.
LoopInfo detect_loop(const std::vector<int32_t>& tokens, bool hit_limit,
                     const LoopParams& params = {});

}  // namespace vase
