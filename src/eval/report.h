// The report of `vase eval --report DIR`: reads DIR/records.jsonl (one line
// per sample, written by run_eval) and writes
//   DIR/report.md              a table per task and one over all tasks,
//   DIR/summary.json           the same numbers for machines,
//   DIR/accuracy_vs_budget.svg pass@1 against the KV budget, a panel per task,
//   DIR/value_magnitude.svg    the per-layer distribution of value-vector ranges,
//                              only when records carry cache.value_range_hist.
// docs/eval.md defines every number and the histogram format.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vase {

// The aggregates of one cell: one task (or all tasks pooled) x policy x budget.
// Rates are fractions in [0, 1]; NaN where the cell has no sample carrying the field.
struct CellSummary {
    std::string task;  // empty in the pool over all tasks
    std::string policy;
    int64_t budget = 0;  // 0 for `full`
    int64_t problems = 0;
    int64_t samples = 0;
    int64_t sample_indices = 0;  // K: distinct sample indices
    bool complete = true;        // problems x K samples of every task are present
    double pass_at_1 = kNan;     // mean over problems of the fraction of correct samples
    double pass_at_1_se = kNan;  // std(ddof=1) over the sample index / sqrt(K); binomial if K = 1
    double mean_tokens = kNan;
    double loop_rate = kNan;
    double hit_limit_rate = kNan;
    double mean_sparsity = kNan;
    double mean_eviction_passes = kNan;

    static constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
};

struct EvalSummary {
    std::string source;  // the records file
    int64_t records = 0;
    std::vector<std::string> tasks;       // in order of first appearance
    std::vector<int64_t> task_problems;   // distinct problems of each task (parallel to tasks)
    int64_t problems = 0;                 // distinct problems over all tasks
    std::vector<std::string> policies;    // `full` first, then in order of first appearance
    std::vector<int64_t> budgets;         // every budget > 0 present, ascending
    std::vector<int64_t> sample_indices;  // every sample index present, ascending
    std::vector<CellSummary> cells;       // task-major, then the rows of the tables
    std::vector<CellSummary> overall;     // all tasks pooled, problems weighted equally
};

// Aggregates records as read_records() returns them; `source` names them in
// errors. Throws vase::Error for an empty list or a record lacking task,
// problem_id, policy, budget, sample or correct (or holding the wrong type).
EvalSummary summarize_records(const std::vector<nlohmann::json>& records,
                              const std::string& source);

// Reads dir/records.jsonl and writes the report files listed above. Throws
// vase::Error when the file is missing, empty or malformed, or a file cannot
// be written.
void write_report(const std::string& dir);

}  // namespace vase
