// vase eval: the paper's evaluation protocol over tasks x policies x budgets.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/kv_options.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct EvalArgs {
    EvalConfig config;
    std::vector<std::string> tasks, policies, budgets;
    std::string report;
};

// "a,b" "c" -> {a, b, c}
std::vector<std::string> split_lists(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const std::string& v : values) {
        size_t start = 0;
        while (start <= v.size()) {
            size_t comma = v.find(',', start);
            std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (!item.empty()) out.push_back(item);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    return out;
}

void run(EvalArgs& a) {
    if (!a.report.empty()) {
        write_report(a.report);
        std::fprintf(stderr, "eval: wrote %s/report.md and plots\n", a.report.c_str());
        return;
    }
    if (a.config.model.empty() && a.config.endpoints.empty()) {
        fail("eval: give -m MODEL or --endpoint URL (or --report DIR)");
    }
    a.config.tasks = split_lists(a.tasks);
    a.config.policies = split_lists(a.policies);
    a.config.budgets.clear();
    for (const std::string& b : split_lists(a.budgets)) {
        try {
            size_t used = 0;
            long long v = std::stoll(b, &used);
            if (used != b.size() || v <= 0) throw std::invalid_argument(b);
            a.config.budgets.push_back(v);
        } catch (const std::exception&) {
            fail("eval: --budget: '{}' is not a positive integer", b);
        }
    }
    run_eval(a.config);
    write_report(a.config.out_dir);
    if (!a.config.quiet) std::fprintf(stderr, "eval: wrote %s/report.md\n", a.config.out_dir.c_str());
}

}  // namespace

void register_eval(CLI::App& app) {
    auto a = std::make_shared<EvalArgs>();
    a->policies = {"full,vase,rkv,cur"};
    a->budgets = {"1024,2048,4096"};
    CLI::App* cmd = app.add_subcommand(
        "eval",
        "Run the paper's protocol: every problem of every task, --samples times with distinct seeds,\n"
        "for every policy and budget. Records go to OUT/records.jsonl (resumable), the report to\n"
        "OUT/report.md with SVG plots.");
    cmd->add_option("-m,--model", a->config.model, "Hugging Face model directory or GGUF file");
    cmd->add_option("--task", a->tasks, "Task name (repeatable or comma-separated)");
    cmd->add_option("--policy", a->policies, "Policies (comma-separated)")->capture_default_str();
    cmd->add_option("--budget", a->budgets, "Budgets (comma-separated)")->capture_default_str();
    cmd->add_option("--samples", a->config.samples, "Samples per problem")->capture_default_str();
    cmd->add_option("--max-tokens", a->config.max_tokens, "Most generated tokens per sample")->capture_default_str();
    cmd->add_option("--limit", a->config.limit, "Use only the first N problems of each task (0 = all)");
    cmd->add_option("--out", a->config.out_dir, "Output directory (records.jsonl, report.md, plots)");
    cmd->add_option("--data-dir", a->config.data_dir, "Directory of the task files (default: the repo's data/tasks)");
    cmd->add_option("-t,--threads", a->config.threads, "Threads (default: all cores)");
    cmd->add_flag("-q,--quiet", a->config.quiet, "No progress lines");
    cmd->add_option("--report", a->report, "Only (re)write the report of an existing output directory");
    cmd->add_option("--endpoint", a->config.endpoints,
                    "OpenAI-compatible server URL to generate with instead of the local engine (repeatable;\n"
                    "work is spread over all). With -m too, its tokenizer is used for loop detection");
    cmd->add_option("--requests-per-endpoint", a->config.requests_per_endpoint,
                    "Concurrent requests per endpoint")->capture_default_str();
    add_kv_options(*cmd, a->config.kv, /*policy_and_budget=*/false);
    add_kv_type_option(*cmd, a->config.kv_type);
    cmd->callback([a] { run(*a); });
}

}  // namespace vase::cli
