// vase testbed: problems of the reasoning testbed's "table walk" task
// (docs/testbed_format.md) as JSONL, for training data checks and for
// comparing with the Python generator (tools/testbed/gen.py).
//
//   vase testbed gen --keys 32 --steps 64 --count 3 --seed 7
//   vase testbed gen --task testbed --count 10     # the eval harness's problems 0..9
//   vase testbed solve < questions.txt             # one question per JSON string line
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "eval/tasks.h"
#include "eval/testbed.h"
#include "text/chat_template.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct GenArgs {
    TableWalkOptions walk;
    int64_t count = 1;
    uint64_t seed = 0;
    std::string task;
    int64_t first = 0;
};

// The prompt the engine feeds for a question, as `vase eval` and `vase run` render it.
std::string engine_prompt(const std::string& question) {
    ChatOptions chat;
    chat.enable_thinking = true;
    return render_chat({ChatMessage{"user", paper_prompt(question), std::nullopt, {}}}, chat);
}

void print_record(const std::string& id, const TableWalkProblem& p) {
    nlohmann::ordered_json row{{"id", id},
                               {"question", p.question},
                               {"answer", p.answer},
                               {"solution", solution_text(p)},
                               {"prompt", engine_prompt(p.question)}};
    std::fputs((row.dump() + "\n").c_str(), stdout);
}

void gen(const GenArgs& a) {
    if (a.count < 1) fail("testbed gen: --count must be at least 1 (got {})", a.count);
    if (!a.task.empty()) {
        const TaskSpec& spec = find_task(a.task);
        if (!spec.generated()) {
            fail(
                "testbed gen: --task {} is read from a data file; give a generated task "
                "(testbed, testbed-short, testbed-long)",
                a.task);
        }
        if (a.first < 0 || a.first + a.count > spec.count) {
            fail("testbed gen: --first {} --count {} goes past the {} problems of task {}", a.first,
                 a.count, spec.count, a.task);
        }
        for (int64_t i = a.first; i < a.first + a.count; ++i) {
            print_record(std::to_string(i), generated_problem(spec, i));
        }
        return;
    }
    validate(a.walk);
    // Problem j comes from seed + j, so runs with other counts share their first problems.
    for (int64_t j = 0; j < a.count; ++j) {
        print_record(std::to_string(j), make_table_walk(a.walk, a.seed + static_cast<uint64_t>(j)));
    }
}

// Reads JSONL with a "question" field (or bare JSON strings) from stdin and
// prints each with its answer and solution: any question text can be checked.
void solve() {
    std::string line;
    size_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
        std::string question;
        if (row.is_string()) {
            question = row.get<std::string>();
        } else if (row.is_object() && row.contains("question") && row["question"].is_string()) {
            question = row["question"].get<std::string>();
        } else {
            fail(
                "testbed solve: stdin line {}: expected a JSON string or an object with a string "
                "field \"question\"",
                line_no);
        }
        TableWalkProblem p;
        try {
            p = solve_table_walk(question);
        } catch (const Error& e) {
            fail("testbed solve: stdin line {}: {}", line_no, e.what());
        }
        std::string id = std::to_string(line_no - 1);
        if (row.is_object() && row.contains("id")) {
            id = row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump();
        }
        print_record(id, p);
    }
}

}  // namespace

void register_testbed(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "testbed", "Problems of the reasoning testbed's table-walk task (docs/testbed_format.md)");
    cmd->require_subcommand(1);

    auto a = std::make_shared<GenArgs>();
    CLI::App* g = cmd->add_subcommand(
        "gen",
        "Print problems as JSONL {id, question, answer, solution, prompt}; prompt is the exact\n"
        "text the engine feeds (chat template, thinking on). Problem j comes from seed + j");
    auto* keys =
        g->add_option("--keys", a->walk.keys, "Keys K in the table (2..52)")->capture_default_str();
    auto* steps = g->add_option("--steps", a->walk.steps, "Steps N of the walk (1..999)")
                      ->capture_default_str();
    auto* seed =
        g->add_option("--seed", a->seed, "Seed of the first problem")->capture_default_str();
    g->add_option("--count", a->count, "Number of problems")->capture_default_str();
    auto* task = g->add_option("--task", a->task,
                               "Print problems of a generated eval task instead (testbed, "
                               "testbed-short, testbed-long), the same ones `vase eval` runs");
    auto* first = g->add_option("--first", a->first, "With --task: index of the first problem")
                      ->capture_default_str();
    task->excludes(keys)->excludes(steps)->excludes(seed);
    first->needs(task);
    g->callback([a] { gen(*a); });

    CLI::App* s = cmd->add_subcommand(
        "solve",
        "Read questions from stdin (JSONL objects with \"question\", or JSON strings) and print\n"
        "each as gen does, with the answer and solution derived from the question text");
    s->callback([] { solve(); });
}

}  // namespace vase::cli
