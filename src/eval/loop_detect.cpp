#include "eval/loop_detect.h"

#include <algorithm>

namespace vase {

LoopInfo detect_loop(const std::vector<int32_t>& tokens, bool hit_limit, const LoopParams& params) {
    LoopInfo info;
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (!hit_limit || n == 0) return info;
    const int64_t max_period =
        std::min(params.max_period, n / std::max<int64_t>(params.min_repeats, 1));
    for (int64_t p = 1; p <= max_period; ++p) {
        const int64_t need = std::max(params.min_repeats * p, params.min_tokens);
        if (need > n) break;  // grows with p
        // Walk back while the token equals the one a period earlier.
        int64_t i = n - 1;
        while (i >= p && tokens[i] == tokens[i - p]) --i;
        // tokens[i + 1 - p .. n) is p-periodic (i + 1 - p >= 0 by the loop bound).
        const int64_t span = n - (i + 1) + p;
        if (span >= need) {
            info.looping = true;
            info.period = p;
            info.repeated_tokens = span;
            return info;
        }
    }
    return info;
}

}  // namespace vase
