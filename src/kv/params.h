// Parameters of KV-cache eviction (shared/spec/eviction.md, section 1), as
// plain fields with the defaults users see.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vase {

struct EvictionParams {
    std::string policy = "full";  // one of eviction_policy_names()
    int64_t budget = 4096;        // B: slots kept after a pass, per layer and KV head
    int64_t window = 64;          // W: recent tokens never evicted; eviction period; query window
    int64_t n_large = -1;         // slots protected for large values; -1 = budget / 4
    int64_t sinks = 4;            // S: first tokens that sink-protecting modes always keep
    float temperature = 1.0f;     // T: softmax temperature of attention scoring
    float lambda = 0.5f;          // R-KV mixing weight
    int smooth = -1;              // -1: policy default (on when scored by attention), 0 off, 1 on
    uint64_t seed = 0;            // seeds every random draw

    // Throws vase::Error naming the broken rule: B > W, B % W == 0,
    // 0 <= n_large <= B - W, S <= n_large for modes that protect sinks with
    // n_large (S <= B - W for the other sink-keeping modes), T > 0,
    // 0 <= lambda <= 1, no negative sizes, a known policy name.
    void validate() const;

    // n_large with -1 resolved to budget / 4.
    int64_t resolved_n_large() const { return n_large < 0 ? budget / 4 : n_large; }
    // smooth with -1 resolved: on for the modes scored by attention.
    bool resolved_smooth() const;
};

// Every policy name, in the order of the spec's table.
const std::vector<std::string_view>& eviction_policy_names();
bool is_eviction_policy(std::string_view name);

// Modes that score candidates with the query window (spec section 3).
bool policy_uses_attention(std::string_view name);
// Modes whose protected set of n_large values contains the sinks (vase, vase_l2, vase_var).
bool policy_protects_sinks_in_large(std::string_view name);
// Modes that keep the first S tokens some other way (streaming, cur, cur_fixed).
bool policy_keeps_sinks(std::string_view name);
// Modes that protect n_large candidates by value magnitude.
bool policy_uses_n_large(std::string_view name);
// Modes whose passes score f32 copies of a 16-bit cache's candidates (the
// Evictor then holds one layer's copy); cur reads 16-bit rows as they are,
// streaming and random read no rows, full and quest never evict.
bool policy_scores_f32_copies(std::string_view name);

}  // namespace vase
