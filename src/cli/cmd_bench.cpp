// vase bench: llama-bench's grid for a fixed-budget KV cache.
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/kv_options.h"
#include "engine/bench.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct BenchArgs {
    std::string model;
    std::vector<std::string> prompts = {"512"}, gens = {"128"}, depths = {"0"}, policies = {"full"},
                             budgets = {"4096"}, seqs = {"1"};
    int threads = 0;
    std::string output = "md";
    BenchConfig config;
};

std::vector<std::string> split(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const std::string& v : values) {
        size_t start = 0;
        for (;;) {
            size_t comma = v.find(',', start);
            std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (!item.empty()) out.push_back(item);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    return out;
}

std::vector<int64_t> integers(const std::vector<std::string>& values, const char* option) {
    std::vector<int64_t> out;
    for (const std::string& s : split(values)) {
        try {
            size_t used = 0;
            long long v = std::stoll(s, &used);
            if (used != s.size() || v < 0) throw std::invalid_argument(s);
            out.push_back(v);
        } catch (const std::exception&) {
            fail("bench: {}: '{}' is not a non-negative integer", option, s);
        }
    }
    return out;
}

void run(BenchArgs& a) {
    BenchConfig& c = a.config;
    c.prompt_lengths = integers(a.prompts, "-p");
    c.gen_lengths = integers(a.gens, "-n");
    c.depths = integers(a.depths, "-d");
    c.budgets = integers(a.budgets, "--budget");
    c.policies = split(a.policies);
    c.seqs.clear();
    for (int64_t s : integers(a.seqs, "--seqs")) c.seqs.push_back(static_cast<int>(s));
    if (a.output != "md" && a.output != "json") fail("bench: -o must be md or json (got '{}')", a.output);
    check_bench_config(c);
    const int threads =
        a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(a.model, threads);
    const bool md = a.output == "md";
    if (md) std::printf("%s\n", bench_markdown_header().c_str());
    std::fflush(stdout);
    nlohmann::json all = nlohmann::json::array();
    std::string read_line;  // the read probe, after the table
    run_bench(engine, c, [&](const BenchRow& row) {
        const std::string line =
            row.test == "read" ? bench_markdown_read(row) : bench_markdown_row(row);
        if (row.test == "read" && md) {
            read_line = line;
        } else if (md) {
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
        } else {
            all.push_back(row.to_json());
            std::fprintf(stderr, "%s\n", line.c_str());
        }
    });
    if (!read_line.empty()) std::printf("\n%s\n", read_line.c_str());
    if (!md) std::printf("%s\n", all.dump(2).c_str());
}

}  // namespace

void register_bench(CLI::App& app) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand(
        "bench",
        "Measure prompt processing (ppN) and decoding (tgN) after a context of depth tokens, per\n"
        "policy, budget and number of parallel sequences (like llama-bench). Lists are comma-separated.");
    cmd->add_option("-m,--model", a->model, "Hugging Face model directory or GGUF file")->required();
    cmd->add_option("-p,--n-prompt", a->prompts, "Prompt lengths of the pp tests (0 = none)")->capture_default_str();
    cmd->add_option("-n,--n-gen", a->gens, "Generated tokens of the tg tests (0 = none)")->capture_default_str();
    cmd->add_option("-d,--depth", a->depths, "Context tokens before each test")->capture_default_str();
    cmd->add_option("--policy", a->policies, "KV policies of the tg tests")->capture_default_str();
    cmd->add_option("--budget", a->budgets, "KV budgets of the evicting policies")->capture_default_str();
    cmd->add_option("--seqs", a->seqs, "Parallel sequences of the tg tests")->capture_default_str();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    cmd->add_option("-r,--repetitions", a->config.repetitions, "Repetitions per row")->capture_default_str();
    cmd->add_option("-o,--output", a->output, "md (table) or json (array of rows)")->capture_default_str();
    cmd->add_flag("--interleave", a->config.interleave,
                  "Prepare every row first, then run repetition 1 of every row, repetition 2\n"
                  "of every row, ... so that rows share the same minutes on a noisy host;\n"
                  "rows are printed at the end. Memory: every row's caches and buffers are\n"
                  "alive at once (the sum of the rows'); each row reports the process's peak RSS");
    cmd->add_flag("--read-probe", a->config.read_probe,
                  "Measure this machine's read bandwidth with the engine's threads (each sums\n"
                  "its share of a 1 GiB buffer, best of 3 passes) before each row's repetitions,\n"
                  "or before each round with --interleave; a line after the table (JSON: a row\n"
                  "with test \"read\"). Adds 1 GiB of memory, left out of the rows' peak RSS");
    add_kv_options(*cmd, a->config.kv, /*policy_and_budget=*/false);
    add_kv_type_option(*cmd, a->config.kv_type);
    cmd->callback([a] { run(*a); });
}

}  // namespace vase::cli
