// vase: long chain-of-thought generation inside a fixed KV-cache budget.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
    CLI::App app{
        "vase: a CPU inference engine for reasoning models (Qwen3) that keeps the KV cache\n"
        "inside a fixed memory budget with Value-aware Stochastic Eviction (VaSE).\n"
        "Run `vase COMMAND --help` for the options of a command."};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show the help of every command");
    // One line per command (each in its own cmd_*.cpp).
    vase::cli::register_run(app);
    vase::cli::register_generate(app);
    vase::cli::register_eval(app);
    vase::cli::register_bench(app);
    vase::cli::register_make_model(app);
    vase::cli::register_evict(app);
    vase::cli::register_tokenize(app);
    vase::cli::register_grade(app);
    vase::cli::register_serve(app);
    vase::cli::register_testbed(app);
    vase::cli::register_convert(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const vase::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
