#include "cli/kv_options.h"

#include <map>
#include <string>

namespace vase::cli {

void add_kv_options(CLI::App& cmd, EvictionParams& params, bool policy_and_budget) {
    if (policy_and_budget) {
        std::string names;
        for (auto name : eviction_policy_names()) names += (names.empty() ? "" : ", ") + std::string(name);
        cmd.add_option("--kv-policy", params.policy, "KV-cache policy: " + names)
            ->capture_default_str()
            ->group("KV cache");
        cmd.add_option("--kv-budget", params.budget, "Slots kept per layer and KV head after an eviction")
            ->capture_default_str()
            ->group("KV cache");
    }
    cmd.add_option("--kv-window", params.window,
                   "Recent tokens never evicted; also the eviction period and query window")
        ->capture_default_str()
        ->group("KV cache");
    cmd.add_option("--kv-n-large", params.n_large,
                   "Slots protected for the largest value vectors (-1 = budget/4)")
        ->capture_default_str()
        ->group("KV cache");
    cmd.add_option("--kv-sinks", params.sinks, "First tokens that protected modes always keep")
        ->capture_default_str()
        ->group("KV cache");
    cmd.add_option("--kv-temperature", params.temperature, "Softmax temperature of attention scores")
        ->capture_default_str()
        ->group("KV cache");
    cmd.add_option("--kv-lambda", params.lambda, "R-KV mixing weight of attention vs redundancy")
        ->capture_default_str()
        ->group("KV cache");
    cmd.add_flag_callback("--kv-smooth", [&params] { params.smooth = 1; },
                          "Average-pool attention scores (kernel 5); default on for attention modes")
        ->group("KV cache");
    cmd.add_flag_callback("--no-kv-smooth", [&params] { params.smooth = 0; },
                          "Do not smooth attention scores")
        ->group("KV cache");
}

void add_kv_type_option(CLI::App& cmd, DType& type) {
    static const std::map<std::string, DType> kTypes = {
        {"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}};
    cmd.add_option("--kv-type", type, "Element type of cached keys and values: f32, f16, bf16")
        ->transform(CLI::CheckedTransformer(kTypes, CLI::ignore_case))
        ->default_str("f16")
        ->group("KV cache");
}

}  // namespace vase::cli
