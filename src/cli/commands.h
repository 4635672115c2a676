// Each `vase` subcommand lives in its own cmd_*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace vase::cli {

void register_run(CLI::App& app);
void register_generate(CLI::App& app);
void register_eval(CLI::App& app);
void register_bench(CLI::App& app);
void register_make_model(CLI::App& app);
void register_evict(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_grade(CLI::App& app);
void register_serve(CLI::App& app);
void register_testbed(CLI::App& app);
void register_convert(CLI::App& app);


}  // namespace vase::cli
