#include "kv/params.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace vase {

namespace {

bool in(std::string_view name, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), name) != set.end();
}

std::string joined_names() {
    std::string out;
    for (auto name : eviction_policy_names()) {
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

}  // namespace

const std::vector<std::string_view>& eviction_policy_names() {
    static const std::vector<std::string_view> names = {
        "full",       "streaming", "random",    "snapkv",      "attn_sample",
        "rkv",        "vase",      "vase_l2",   "vase_var",    "vase_nosink",
        "value_topk", "cur",       "cur_fixed", "evict_large", "quest"};
    return names;
}

bool is_eviction_policy(std::string_view name) {
    const auto& names = eviction_policy_names();
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool policy_uses_attention(std::string_view name) {
    return in(name, {"snapkv", "attn_sample", "rkv", "vase", "vase_l2", "vase_var", "vase_nosink",
                     "value_topk"});
}

bool policy_protects_sinks_in_large(std::string_view name) {
    return in(name, {"vase", "vase_l2", "vase_var"});
}

bool policy_keeps_sinks(std::string_view name) {
    return in(name, {"streaming", "cur", "cur_fixed"});
}

bool policy_uses_n_large(std::string_view name) {
    return in(name, {"vase", "vase_l2", "vase_var", "vase_nosink", "value_topk"});
}

bool policy_scores_f32_copies(std::string_view name) {
    return is_eviction_policy(name) &&
           !in(name, {"full", "quest", "cur", "cur_fixed", "streaming", "random"});
}

bool EvictionParams::resolved_smooth() const {
    return smooth < 0 ? policy_uses_attention(policy) : smooth != 0;
}

void EvictionParams::validate() const {
    if (!is_eviction_policy(policy)) {
        fail("unknown eviction policy '{}'; valid policies: {}", policy, joined_names());
    }
    if (budget < 0) fail("eviction budget must not be negative (got {})", budget);
    if (window < 0) fail("eviction window must not be negative (got {})", window);
    if (sinks < 0) fail("eviction sinks must not be negative (got {})", sinks);
    if (n_large < -1) fail("eviction n_large must be >= 0, or -1 for budget/4 (got {})", n_large);
    if (smooth < -1 || smooth > 1) fail("eviction smooth must be -1, 0 or 1 (got {})", smooth);
    if (!(temperature > 0.0f) || !std::isfinite(temperature)) {
        fail("eviction temperature must be a positive number (got {})", temperature);
    }
    if (!(lambda >= 0.0f && lambda <= 1.0f)) {
        fail("eviction lambda must be in [0, 1] (got {})", lambda);
    }
    // `full` and `quest` never shrink the cache, but quest selects pages
    // holding `budget` tokens, so the budget rules hold for every mode.
    if (window < 1) fail("eviction window must be at least 1 (got {})", window);
    if (budget <= window) {
        fail("eviction budget ({}) must be greater than the window ({})", budget, window);
    }
    if (budget % window != 0) {
        fail("eviction budget ({}) must be a multiple of the window ({})", budget, window);
    }
    const int64_t keep = budget - window;
    const int64_t large = resolved_n_large();
    if (large > keep) {
        fail("eviction n_large ({}) must be at most budget - window ({} - {} = {})", large, budget,
             window, keep);
    }
    if (policy_protects_sinks_in_large(policy) && sinks > large) {
        fail(
            "eviction sinks ({}) must be at most n_large ({}) for policy '{}', which protects "
            "sinks among the large values",
            sinks, large, policy);
    }
    if (policy_keeps_sinks(policy) && sinks > keep) {
        fail("eviction sinks ({}) must be at most budget - window ({}) for policy '{}'", sinks,
             keep, policy);
    }
}

}  // namespace vase
