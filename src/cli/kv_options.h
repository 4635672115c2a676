// The --kv-* options shared by generate, run, bench, eval and serve.
#pragma once

#include <CLI/CLI.hpp>

#include "kv/params.h"
#include "ops/dtype.h"

namespace vase::cli {

// Adds --kv-policy, --kv-budget (unless the command sets them its own way),
// --kv-window, --kv-n-large, --kv-sinks, --kv-temperature, --kv-lambda and
// --kv-smooth/--no-kv-smooth to `cmd`.
void add_kv_options(CLI::App& cmd, EvictionParams& params, bool policy_and_budget = true);

// Adds --kv-type f32|f16|bf16 (element type of the cached keys and values).
void add_kv_type_option(CLI::App& cmd, DType& type);

}  // namespace vase::cli
