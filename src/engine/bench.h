// `vase bench`, modelled on llama-bench: prompt processing (ppN) and decoding
// (tgN) after a context of `depth` tokens, per policy, budget and number of
// parallel sequences, repeated; mean and standard deviation of tokens/s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generator.h"

namespace vase {

struct BenchConfig {
    std::vector<int64_t> prompt_lengths = {512};  // ppN tests (0 = none)
    std::vector<int64_t> gen_lengths = {128};     // tgN tests (0 = none)
    std::vector<int64_t> depths = {0};
    std::vector<std::string> policies = {"full"};
    std::vector<int64_t> budgets = {4096};
    std::vector<int> seqs = {1};
    int repetitions = 3;
    DType kv_type = DType::F16;
    EvictionParams kv;  // window, n_large, ... shared by every row
    uint64_t seed = 1;
    bool progress = true;
};

struct BenchRow {
    std::string test;  // "pp512" or "tg128"
    int64_t depth = 0;
    std::string policy;
    int64_t budget = 0;  // 0 for full
    int seqs = 1;
    std::string weights;
    std::string kv_type;
    int threads = 1;
    int repetitions = 0;
    double tokens_per_s = 0.0;
    double tokens_per_s_sd = 0.0;
    uint64_t peak_rss_bytes = 0;
    double evict_share = 0.0;     // share of decode time spent choosing and compacting
    int64_t cache_slots = 0;      // slots per (layer, KV head) while decoding (mean over steps)

    nlohmann::json to_json() const;
};

// Runs the grid; `on_row` sees every row as soon as it is measured.
std::vector<BenchRow> run_bench(Engine& engine, const BenchConfig& config,
                                const std::function<void(const BenchRow&)>& on_row);

std::string bench_markdown_header();
std::string bench_markdown_row(const BenchRow& row);

}  // namespace vase
