// The evaluation tasks: a declarative table (one row per dataset under data/tasks/) and a
// loader that turns a jsonl file into problems, plus the generated tasks of the reasoning
// testbed (eval/testbed.h), whose problems are drawn from a seed instead of read from a
// file. The harness applies the chat template to paper_prompt(question); the grader named
// in the row checks the completions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eval/testbed.h"

namespace vase {

struct TaskSpec {
    std::string name;            // "aime25"
    std::string file;            // relative to the data directory: "aime25.jsonl"
    std::string question_field;  // field holding the problem text
    std::string answer_field;    // field holding the reference answer (string or number)
    std::string id_field;        // field holding the id; empty: the 0-based line index
    std::string grader;          // "math" (grade_math in eval/grader.h)
    // Generated tasks (count > 0, no file): problem i, for i < count, is
    // make_table_walk(table_walk, generated_problem_seed(name, i)) with id "i".
    TableWalkOptions table_walk{};
    int64_t count = 0;

    bool generated() const { return count > 0; }
};

struct Problem {
    std::string id;
    std::string question;  // leading and trailing whitespace removed
    std::string answer;    // numbers become their JSON text: 70, 27.0
};

// Every task read from a data file, in a fixed order.
const std::vector<TaskSpec>& task_specs();

// The generated tasks: testbed (K = 32 keys, N = 64 steps), testbed-short (16, 24) and
// testbed-long (52, 256), 1000 problems each, graded as math (the answer is a digit).
const std::vector<TaskSpec>& generated_task_specs();

// The row called `name` (file or generated); throws vase::Error listing the known names
// otherwise.
const TaskSpec& find_task(std::string_view name);

// The seed of problem `index` of a generated task: depends on the name and index only.
uint64_t generated_problem_seed(std::string_view task, int64_t index);

// Problem `index` of a generated task with its reference solution. Throws vase::Error if
// the task is not generated or the index is outside 0..count-1.
TableWalkProblem generated_problem(const TaskSpec& spec, int64_t index);

// A generated task's problems (data_dir is not used), or reads data_dir/spec.file: blank
// lines are skipped; a line that is not a JSON object, or lacks a field, throws vase::Error
// naming the file and the 1-based line number.
std::vector<Problem> load_task(const TaskSpec& spec, const std::string& data_dir);

// The user message of the paper's evaluation (Qwen2.5-Math "boxed" instruction); the
// caller applies the chat template.
std::string paper_prompt(const std::string& question);

}  // namespace vase
