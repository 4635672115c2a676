// The evaluation tasks: a declarative table (one row per dataset under data/tasks/) and a
// loader that turns a jsonl file into problems. The harness applies the chat template to
// paper_prompt(question); the grader named in the row checks the completions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vase {

struct TaskSpec {
    std::string name;            // "aime25"
    std::string file;            // relative to the data directory: "aime25.jsonl"
    std::string question_field;  // field holding the problem text
    std::string answer_field;    // field holding the reference answer (string or number)
    std::string id_field;        // field holding the id; empty: the 0-based line index
    std::string grader;          // "math" (grade_math in eval/grader.h)
};

struct Problem {
    std::string id;
    std::string question;  // leading and trailing whitespace removed
    std::string answer;    // numbers become their JSON text: 70, 27.0
};

// Every known task, in a fixed order.
const std::vector<TaskSpec>& task_specs();

// The row called `name`; throws vase::Error listing the known names otherwise.
const TaskSpec& find_task(std::string_view name);

// Reads data_dir/spec.file. Blank lines are skipped; a line that is not a JSON object, or
// lacks a field, throws vase::Error naming the file and the 1-based line number.
std::vector<Problem> load_task(const TaskSpec& spec, const std::string& data_dir);

// The user message of the paper's evaluation (Qwen2.5-Math "boxed" instruction); the
// caller applies the chat template.
std::string paper_prompt(const std::string& question);

}  // namespace vase
