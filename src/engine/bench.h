// `vase bench`, modelled on llama-bench: prompt processing (ppN) and decoding
// (tgN) after a context of `depth` tokens, per policy, budget and number of
// parallel sequences, repeated; mean and standard deviation of tokens/s.
// On a noisy host, `interleave` prepares every row first and then runs the
// repetitions round-robin, so that the rows share the same minutes; `read_probe`
// measures the machine's read bandwidth in the same process between them.
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
    bool interleave = false;  // rows alive at once, repetitions round-robin
    bool read_probe = false;  // a read-bandwidth probe per round, reported as a "read" row
};

struct BenchRow {
    std::string test;  // "pp512", "tg128", or "read" (the read probe)
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
    double tokens_per_s_median = 0.0;
    uint64_t peak_rss_bytes = 0;  // the process's peak when interleaved
    double evict_share = 0.0;     // share of decode time spent choosing and compacting
    int64_t cache_slots = 0;      // slots per (layer, KV head) while decoding (mean over steps)
    // Bytes one decode step reads (weights + attended K/V) and the resulting
    // GB/s; tg rows of one sequence only (0 = not given, null in JSON). The
    // "read" row gives the probe's median GB/s here and its best in read_gb_s_best.
    double bytes_per_token = 0.0;
    double read_gb_s = 0.0;
    double read_gb_s_best = 0.0;
    bool interleaved = false;

    nlohmann::json to_json() const;
};

// Throws vase::Error naming the first bad option (run_bench checks it too;
// call it first to fail before loading a model).
void check_bench_config(const BenchConfig& config);

// Runs the grid; `on_row` sees every row as soon as it is measured (with
// `interleave`, all at the end), then the "read" row if `read_probe`.
std::vector<BenchRow> run_bench(Engine& engine, const BenchConfig& config,
                                const std::function<void(const BenchRow&)>& on_row);

std::string bench_markdown_header();
std::string bench_markdown_row(const BenchRow& row);
// The line after the table for the "read" row.
std::string bench_markdown_read(const BenchRow& row);

}  // namespace vase
