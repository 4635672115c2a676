#include "eval/tasks.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "util/error.h"
#include "util/rng.h"

namespace vase {

const std::vector<TaskSpec>& task_specs() {
    // Field names are those of the files in data/tasks/ (see data/tasks/README.md).
    static const std::vector<TaskSpec> specs = {
        {"aime24", "aime24.jsonl", "problem", "answer", "id", "math"},
        {"aime25", "aime25.jsonl", "problem", "answer", "id", "math"},
        {"aime26", "aime26.jsonl", "problem", "answer", "id", "math"},
        {"amc", "amc.jsonl", "question", "answer", "id", "math"},
        {"hmmt", "hmmt.jsonl", "problem", "answer", "id", "math"},
        {"math", "math.jsonl", "problem", "answer", "unique_id", "math"},
        {"minerva", "minerva.jsonl", "question", "answer", "", "math"},
        {"olympiadbench", "olympiadbench.jsonl", "question", "answer", "id", "math"},
    };
    return specs;
}

const std::vector<TaskSpec>& generated_task_specs() {
    auto table_walk = [](const char* name, int keys, int steps) {
        TaskSpec spec;
        spec.name = name;
        spec.grader = "math";
        spec.table_walk = {keys, steps};
        spec.count = 1000;
        return spec;
    };
    static const std::vector<TaskSpec> specs = {
        table_walk("testbed", 32, 64),
        table_walk("testbed-short", 16, 24),
        table_walk("testbed-long", 52, 256),
    };
    return specs;
}

const TaskSpec& find_task(std::string_view name) {
    std::string known;
    for (const auto* specs : {&task_specs(), &generated_task_specs()}) {
        for (const TaskSpec& spec : *specs) {
            if (spec.name == name) return spec;
            known += (known.empty() ? "" : ", ") + spec.name;
        }
    }
    fail("unknown task '{}' (known tasks: {})", name, known);
}

uint64_t generated_problem_seed(std::string_view task, int64_t index) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name
    for (unsigned char c : task) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return Rng::derive(h, static_cast<uint64_t>(index)).next_u64();
}

TableWalkProblem generated_problem(const TaskSpec& spec, int64_t index) {
    if (!spec.generated()) fail("task '{}' is read from a file, not generated", spec.name);
    if (index < 0 || index >= spec.count) {
        fail("task '{}' has problems 0..{}; there is no problem {}", spec.name, spec.count - 1,
             index);
    }
    return make_table_walk(spec.table_walk, generated_problem_seed(spec.name, index));
}

namespace {

std::string trim(const std::string& s) {
    const char* space = " \t\r\n";
    size_t begin = s.find_first_not_of(space);
    if (begin == std::string::npos) return "";
    size_t end = s.find_last_not_of(space);
    return s.substr(begin, end - begin + 1);
}

// A field's text: strings as they are, numbers as their JSON text.
std::string field_text(const nlohmann::json& row, const std::string& field, const std::string& path,
                       size_t line_no) {
    auto it = row.find(field);
    if (it == row.end()) fail("{}:{}: missing field \"{}\"", path, line_no, field);
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    fail("{}:{}: field \"{}\" must be a string or a number, not {}", path, line_no, field,
         it->type_name());
}

}  // namespace

std::vector<Problem> load_task(const TaskSpec& spec, const std::string& data_dir) {
    if (spec.generated()) {
        std::vector<Problem> problems;
        problems.reserve(static_cast<size_t>(spec.count));
        for (int64_t i = 0; i < spec.count; ++i) {
            TableWalkProblem p = generated_problem(spec, i);
            problems.push_back({std::to_string(i), std::move(p.question), std::move(p.answer)});
        }
        return problems;
    }
    const std::string path = data_dir.empty() ? spec.file : data_dir + "/" + spec.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open the data file of task '{}'", path, spec.name);

    std::vector<Problem> problems;
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (trim(line).empty()) continue;
        nlohmann::json row;
        try {
            row = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            fail("{}:{}: invalid JSON ({})", path, line_no, e.what());
        }
        if (!row.is_object()) fail("{}:{}: expected a JSON object", path, line_no);
        Problem p;
        p.id = spec.id_field.empty() ? std::to_string(problems.size())
                                     : field_text(row, spec.id_field, path, line_no);
        p.question = trim(field_text(row, spec.question_field, path, line_no));
        p.answer = trim(field_text(row, spec.answer_field, path, line_no));
        problems.push_back(std::move(p));
    }
    if (in.bad()) fail("{}: read error", path);
    if (problems.empty()) fail("{}: no problems in the data file of task '{}'", path, spec.name);
    return problems;
}

std::string paper_prompt(const std::string& question) {
    return question + "\nPlease reason step by step, and put your final answer within \\boxed{}.";
}

}  // namespace vase
