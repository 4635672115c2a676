// vase grade: grade completions offline. Reads JSON lines {"task", "completion", "answer",
// ...} and writes each back, in order, with "extracted" and "correct" added; every other
// field passes through unchanged and in its order. A malformed line stops the run with
// the file and line number (lines already graded have been written).
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "eval/grader.h"
#include "eval/tasks.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct GradeArgs {
    std::string path;
    bool boxed_only = false;
};

bool blank(const std::string& line) {
    return line.find_first_not_of(" \t\r\n") == std::string::npos;
}

void grade_stream(std::istream& in, const std::string& name, const ExtractOptions& options) {
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (blank(line)) continue;
        nlohmann::ordered_json row;
        try {
            row = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            fail("{}:{}: invalid JSON ({})", name, line_no, e.what());
        }
        if (!row.is_object()) fail("{}:{}: expected a JSON object", name, line_no);
        // The task picks the grader; a line without one is graded as math.
        std::string grader = "math";
        if (auto task = row.find("task"); task != row.end()) {
            if (!task->is_string()) fail("{}:{}: \"task\" must be a string", name, line_no);
            try {
                grader = find_task(task->get<std::string>()).grader;
            } catch (const Error& e) {
                fail("{}:{}: {}", name, line_no, e.what());
            }
        }
        auto completion = row.find("completion");
        if (completion == row.end() || !completion->is_string())
            fail("{}:{}: missing string field \"completion\"", name, line_no);
        auto answer = row.find("answer");
        if (answer == row.end() || !(answer->is_string() || answer->is_number()))
            fail("{}:{}: missing field \"answer\" (a string or a number)", name, line_no);
        const std::string reference =
            answer->is_string() ? answer->get<std::string>() : answer->dump();
        if (grader != "math") fail("{}:{}: no grader called '{}'", name, line_no, grader);

        GradeResult result =
            grade_math(completion->get_ref<const std::string&>(), reference, options);
        row["extracted"] = result.extracted;
        row["correct"] = result.correct;
        std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    if (in.bad()) fail("{}: read error", name);
    std::cout.flush();
}

void run_grade(const GradeArgs& args) {
    ExtractOptions options;
    options.fallbacks = !args.boxed_only;
    if (args.path == "-") {
        grade_stream(std::cin, "<stdin>", options);
        return;
    }
    std::ifstream in(args.path, std::ios::binary);
    if (!in) fail("{}: cannot open", args.path);
    grade_stream(in, args.path, options);
}

}  // namespace

void register_grade(CLI::App& app) {
    auto args = std::make_shared<GradeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "grade",
        "Grade completions: reads JSON lines {\"task\", \"completion\", \"answer\"} and prints "
        "each with \"extracted\" and \"correct\" added (rules: docs/grading.md)");
    cmd->add_option("FILE", args->path, "JSON-lines file, or - for standard input")->required();
    cmd->add_flag("--boxed-only", args->boxed_only,
                  "Only \\boxed{} answers count (no \"answer is\" / last-number fallbacks)");
    cmd->callback([args] { run_grade(*args); });
}

}  // namespace vase::cli
