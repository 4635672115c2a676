// `vase eval`: the paper's protocol over a grid of tasks x policies x
// budgets, every problem sampled several times with distinct seeds. One JSON
// line per sample is appended and flushed as soon as it finishes, so a run
// killed at any point resumes without losing or repeating a sample.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kv/params.h"
#include "ops/dtype.h"

namespace vase {

struct EvalConfig {
    std::string model;
    std::vector<std::string> tasks;
    std::vector<std::string> policies = {"full", "vase", "rkv", "cur"};
    std::vector<int64_t> budgets = {1024, 2048, 4096};
    int samples = 8;
    int64_t max_tokens = 32768;
    int64_t limit = 0;  // problems per task; 0 = all
    std::string out_dir;
    std::string data_dir;  // where task files live (default: the repo's data/tasks)
    int threads = 0;
    EvictionParams kv;  // window, n_large, sinks, ... shared by every cell
    DType kv_type = DType::F16;  // element type of the KV cache
    bool quiet = false;
    // OpenAI-compatible servers to send the generations to instead of the
    // local engine, spread over all of them (--endpoint, repeatable).
    std::vector<std::string> endpoints;
    int requests_per_endpoint = 4;  // concurrent requests each endpoint gets
};

// One cell of the grid: `full` has no budget (0).
struct EvalCell {
    std::string task;
    std::string policy;
    int64_t budget = 0;
};

std::vector<EvalCell> eval_cells(const EvalConfig& config);

// The seed of a sample: depends on task, problem and sample index only, so
// every policy and budget sees the same random streams.
uint64_t sample_seed(const std::string& task, const std::string& problem_id, int sample);

// The key that identifies a record: task, problem, policy, budget, seed.
std::string record_key(const nlohmann::json& record);

// Reads DIR/records.jsonl; a torn last line (a crash mid-write) is cut off
// the file. Throws vase::Error naming the line for corruption elsewhere.
std::vector<nlohmann::json> read_records(const std::string& path, bool repair);

// Runs (or resumes) the grid. Returns the number of samples run now.
int64_t run_eval(const EvalConfig& config);

}  // namespace vase
