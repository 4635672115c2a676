#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "ops/kernels.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/rng.h"

namespace vase {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Linux resets VmHWM when "5" is written to clear_refs, so each row reports
// its own peak.
void reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (f) f << "5";
}

void mean_sd(const std::vector<double>& v, double* mean, double* sd) {
    double m = 0.0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    double q = 0.0;
    for (double x : v) q += (x - m) * (x - m);
    *mean = m;
    *sd = v.size() > 1 ? std::sqrt(q / static_cast<double>(v.size() - 1)) : 0.0;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out(static_cast<size_t>(n));
    // Ordinary text tokens: stay below the special tokens at the top of Qwen3's vocabulary.
    const uint64_t range = static_cast<uint64_t>(std::min<int64_t>(vocab, 151643));
    for (auto& t : out) t = static_cast<int32_t>(rng.next_u64() % range);
    return out;
}

std::string weights_name(const Qwen3Weights& w) { return std::string(dtype_name(w.layers[0].q.dtype)); }

// Prompt processing: fill `depth` tokens, then time `n` more (one sequence).
BenchRow bench_prompt(Engine& engine, const BenchConfig& cfg, int64_t n, int64_t depth) {
    const ModelConfig& c = engine.config();
    KvCacheShape shape{c.n_layers, c.n_kv_heads, c.n_heads, c.head_dim, depth + n, 0, false, cfg.kv_type};
    const int64_t chunk = std::min<int64_t>(512, std::max<int64_t>(n, 1));
    Qwen3Forward forward(engine.weights(), chunk, shape.capacity, engine.pool().size());
    KvCache cache(shape);
    std::vector<ForwardRow> rows(static_cast<size_t>(chunk));
    const std::vector<int32_t> tokens = random_tokens(depth + n, c.vocab_size, cfg.seed);
    auto run = [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; b += chunk) {
            const int64_t m = std::min(chunk, end - b);
            for (int64_t i = 0; i < m; ++i) rows[i] = ForwardRow{&cache, b + i, b + i == end - 1, 0};
            forward.forward(engine.pool(), tokens.data() + b, rows.data(), m);
        }
    };
    reset_peak_rss();
    run(0, depth);
    KvCache at_depth = cache;
    std::vector<double> rates;
    for (int r = 0; r < cfg.repetitions; ++r) {
        cache = at_depth;
        auto t0 = Clock::now();
        run(depth, depth + n);
        rates.push_back(static_cast<double>(n) / seconds(t0, Clock::now()));
    }
    BenchRow row;
    row.test = "pp" + std::to_string(n);
    row.depth = depth;
    row.policy = "full";
    row.seqs = 1;
    mean_sd(rates, &row.tokens_per_s, &row.tokens_per_s_sd);
    row.peak_rss_bytes = peak_rss_bytes();
    row.cache_slots = depth + n;
    return row;
}

// Decoding: prefill `depth` tokens, let an evicting policy reach its budget
// (untimed: at most one window of steps), then time `n` steps of every sequence.
BenchRow bench_decode(Engine& engine, const BenchConfig& cfg, int64_t n, int64_t depth,
                      const std::string& policy, int64_t budget, int seqs) {
    GenerateOptions opt;
    opt.kv = cfg.kv;
    opt.kv.policy = policy;
    if (policy != "full") opt.kv.budget = budget;
    opt.kv_type = cfg.kv_type;
    opt.sampling.temperature = 0.0f;  // greedy: the sampler costs next to nothing
    opt.ignore_eos = true;
    const int64_t prompt_len = std::max<int64_t>(1, depth);
    opt.max_new_tokens = n + opt.kv.window + 2;
    reset_peak_rss();
    Generator gen(engine, opt, prompt_len, seqs);
    gen.prefill(random_tokens(prompt_len, engine.config().vocab_size, cfg.seed));
    auto step_all = [&] {
        for (int s = 0; s < seqs; ++s) gen.sample(s);
        gen.step();
    };
    const bool evicts = policy != "full" && policy != "quest" && prompt_len > opt.kv.budget;
    while (evicts && gen.cache_stats(0).eviction_passes == 0) step_all();
    gen.save_state();
    std::vector<double> rates, shares;
    double slots = 0.0;
    for (int r = 0; r < cfg.repetitions; ++r) {
        gen.restore_state();
        double evict0 = 0.0;
        for (int s = 0; s < seqs; ++s) evict0 += gen.cache_stats(s).evict_seconds;
        auto t0 = Clock::now();
        for (int64_t i = 0; i < n; ++i) {
            step_all();
            slots += static_cast<double>(gen.cache(0).size());
        }
        const double dt = seconds(t0, Clock::now());
        double evict = -evict0;
        for (int s = 0; s < seqs; ++s) evict += gen.cache_stats(s).evict_seconds;
        rates.push_back(static_cast<double>(n * seqs) / dt);
        shares.push_back(evict / dt);
    }
    BenchRow row;
    row.test = "tg" + std::to_string(n);
    row.depth = depth;
    row.policy = policy;
    row.budget = policy == "full" ? 0 : budget;
    row.seqs = seqs;
    mean_sd(rates, &row.tokens_per_s, &row.tokens_per_s_sd);
    double share_sd = 0.0;
    mean_sd(shares, &row.evict_share, &share_sd);
    row.peak_rss_bytes = peak_rss_bytes();
    row.cache_slots = static_cast<int64_t>(slots / static_cast<double>(n * cfg.repetitions));
    return row;
}

}  // namespace

nlohmann::json BenchRow::to_json() const {
    return nlohmann::json{{"test", test},
                          {"depth", depth},
                          {"policy", policy},
                          {"budget", budget},
                          {"seqs", seqs},
                          {"weights", weights},
                          {"kv_type", kv_type},
                          {"threads", threads},
                          {"repetitions", repetitions},
                          {"tokens_per_s", tokens_per_s},
                          {"tokens_per_s_sd", tokens_per_s_sd},
                          {"peak_rss_bytes", peak_rss_bytes},
                          {"evict_share", evict_share},
                          {"cache_slots", cache_slots}};
}

std::string bench_markdown_header() {
    return "| weights | kv | threads | test | depth | policy | budget | seqs | t/s | evict % | slots | peak RSS MiB |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|";
}

std::string bench_markdown_row(const BenchRow& r) {
    return fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} | {:.1f} | {} | {:.0f} |",
                       r.weights, r.kv_type, r.threads, r.test, r.depth, r.policy,
                       r.budget == 0 ? std::string("-") : std::to_string(r.budget), r.seqs,
                       r.tokens_per_s, r.tokens_per_s_sd, 100.0 * r.evict_share, r.cache_slots,
                       static_cast<double>(r.peak_rss_bytes) / (1024.0 * 1024.0));
}

std::vector<BenchRow> run_bench(Engine& engine, const BenchConfig& cfg,
                                const std::function<void(const BenchRow&)>& on_row) {
    if (cfg.repetitions < 1) fail("bench: -r must be at least 1");
    for (int64_t d : cfg.depths) {
        if (d < 0) fail("bench: depth {} is negative", d);
    }
    for (int s : cfg.seqs) {
        if (s < 1 || s > 64) fail("bench: --seqs {} is out of range (1..64)", s);
    }
    // Check every policy/budget pair before spending minutes on prefill.
    for (const std::string& p : cfg.policies) {
        for (int64_t b : cfg.budgets) {
            EvictionParams kv = cfg.kv;
            kv.policy = p;
            if (p != "full") kv.budget = b;
            kv.validate();
        }
    }
    std::vector<BenchRow> rows;
    auto finish = [&](BenchRow row) {
        row.weights = weights_name(engine.weights());
        row.kv_type = std::string(dtype_name(cfg.kv_type));
        row.threads = engine.pool().size();
        row.repetitions = cfg.repetitions;
        if (on_row) on_row(row);
        rows.push_back(row);
    };
    for (int64_t d : cfg.depths) {
        for (int64_t n : cfg.prompt_lengths) {
            if (n > 0) finish(bench_prompt(engine, cfg, n, d));
        }
        for (int64_t n : cfg.gen_lengths) {
            if (n <= 0) continue;
            for (const std::string& p : cfg.policies) {
                const std::vector<int64_t> budgets = p == "full" ? std::vector<int64_t>{0} : cfg.budgets;
                for (int64_t b : budgets) {
                    for (int s : cfg.seqs) finish(bench_decode(engine, cfg, n, d, p, b, s));
                }
            }
        }
    }
    return rows;
}

}  // namespace vase
