#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>

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

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

void set_rates(const std::vector<double>& rates, BenchRow* row) {
    mean_sd(rates, &row->tokens_per_s, &row->tokens_per_s_sd);
    row->tokens_per_s_median = median(rates);
    row->repetitions = static_cast<int>(rates.size());
}

uint64_t matrix_bytes(const Matrix& m) {
    return static_cast<uint64_t>(m.rows) * dtype_row_bytes(m.dtype, static_cast<uint64_t>(m.cols));
}

uint64_t floats_bytes(const std::vector<float>& v) {
    return v.size() * sizeof(float);
}

// Every weight a decode step reads: the layers, the norms and the output head
// (the embedding matrix when tied). The embedding row lookup is negligible.
uint64_t decode_weight_bytes(const Qwen3Weights& w) {
    uint64_t bytes = matrix_bytes(w.lm_head) + floats_bytes(w.final_norm);
    for (const LayerWeights& l : w.layers) {
        for (const Matrix* m : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
            bytes += matrix_bytes(*m);
        }
        for (const auto* v : {&l.attn_norm, &l.ffn_norm, &l.q_norm, &l.k_norm}) {
            bytes += floats_bytes(*v);
        }
    }
    return bytes;
}

// Keys and values of one cache slot over every layer and KV head.
uint64_t kv_bytes_per_slot(const ModelConfig& c, DType kv_type) {
    return 2 * static_cast<uint64_t>(c.n_layers * c.n_kv_heads) *
           dtype_row_bytes(kv_type, static_cast<uint64_t>(c.head_dim));
}

// One row of the grid from its preparation to its report: the state every
// repetition starts from and the rates measured so far.
class RowRun {
  public:
    virtual ~RowRun() = default;
    virtual void repeat() = 0;            // one timed repetition
    virtual BenchRow result() const = 0;  // over the repetitions so far
};

// Prompt processing: fill `depth` tokens once, then each repetition times `n`
// more (one sequence) from a copy of that cache.
class PromptRun final : public RowRun {
  public:
    PromptRun(Engine& engine, const BenchConfig& cfg, int64_t n, int64_t depth)
        : engine_(engine),
          n_(n),
          depth_(depth),
          chunk_(std::min<int64_t>(512, std::max<int64_t>(n, 1))),
          forward_(engine.weights(), chunk_, depth + n, engine.pool().size()),
          cache_(shape(engine.config(), depth + n, cfg.kv_type)),
          at_depth_(cache_),
          rows_(static_cast<size_t>(chunk_)),
          tokens_(random_tokens(depth + n, engine.config().vocab_size, cfg.seed)) {
        run(0, depth);
        at_depth_ = cache_;
    }

    void repeat() override {
        cache_ = at_depth_;
        auto t0 = Clock::now();
        run(depth_, depth_ + n_);
        rates_.push_back(static_cast<double>(n_) / seconds(t0, Clock::now()));
    }

    BenchRow result() const override {
        BenchRow row;
        row.test = "pp" + std::to_string(n_);
        row.depth = depth_;
        row.policy = "full";
        row.seqs = 1;
        set_rates(rates_, &row);
        row.cache_slots = depth_ + n_;
        return row;
    }

  private:
    static KvCacheShape shape(const ModelConfig& c, int64_t capacity, DType kv_type) {
        return KvCacheShape{c.n_layers, c.n_kv_heads, c.n_heads, c.head_dim,
                            capacity,   0,            false,     kv_type};
    }

    void run(int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; b += chunk_) {
            const int64_t m = std::min(chunk_, end - b);
            for (int64_t i = 0; i < m; ++i) {
                rows_[i] = ForwardRow{&cache_, b + i, b + i == end - 1, 0};
            }
            forward_.forward(engine_.pool(), tokens_.data() + b, rows_.data(), m);
        }
    }

    Engine& engine_;
    int64_t n_, depth_, chunk_;
    Qwen3Forward forward_;
    KvCache cache_;
    KvCache at_depth_;
    std::vector<ForwardRow> rows_;  // [chunk]
    std::vector<int32_t> tokens_;   // [depth + n]
    std::vector<double> rates_;
};

// Decoding: prefill `depth` tokens, let an evicting policy reach its budget
// (untimed: at most one window of steps) and save that state; each repetition
// restores it and times `n` steps of every sequence.
class DecodeRun final : public RowRun {
  public:
    DecodeRun(Engine& engine, const BenchConfig& cfg, int64_t n, int64_t depth,
              const std::string& policy, int64_t budget, int seqs)
        : n_(n),
          depth_(depth),
          policy_(policy),
          budget_(policy == "full" ? 0 : budget),
          seqs_(seqs),
          gen_(engine, options(cfg, n, policy, budget), std::max<int64_t>(1, depth), seqs) {
        const int64_t prompt_len = std::max<int64_t>(1, depth);
        gen_.prefill(random_tokens(prompt_len, engine.config().vocab_size, cfg.seed));
        const bool evicts = policy != "full" && policy != "quest" && prompt_len > budget;
        while (evicts && gen_.cache_stats(0).eviction_passes == 0) step_all();
        gen_.save_state();
        // Quest attends to the pages it selects, not to every slot.
        if (seqs == 1 && policy != "quest") {
            weight_bytes_ = decode_weight_bytes(engine.weights());
            kv_slot_bytes_ = kv_bytes_per_slot(engine.config(), cfg.kv_type);
        }
    }

    void repeat() override {
        gen_.restore_state();
        const double evict0 = evict_seconds();
        auto t0 = Clock::now();
        for (int64_t i = 0; i < n_; ++i) {
            step_all();
            slots_ += static_cast<double>(gen_.cache(0).size());
        }
        const double dt = seconds(t0, Clock::now());
        rates_.push_back(static_cast<double>(n_ * seqs_) / dt);
        shares_.push_back((evict_seconds() - evict0) / dt);
    }

    BenchRow result() const override {
        BenchRow row;
        row.test = "tg" + std::to_string(n_);
        row.depth = depth_;
        row.policy = policy_;
        row.budget = budget_;
        row.seqs = seqs_;
        set_rates(rates_, &row);
        double share_sd = 0.0;
        mean_sd(shares_, &row.evict_share, &share_sd);
        const double mean_slots =
            slots_ / static_cast<double>(n_ * static_cast<int64_t>(rates_.size()));
        row.cache_slots = static_cast<int64_t>(mean_slots);
        if (weight_bytes_ > 0) {
            row.bytes_per_token = static_cast<double>(weight_bytes_) +
                                  mean_slots * static_cast<double>(kv_slot_bytes_);
            row.read_gb_s = row.bytes_per_token * row.tokens_per_s / 1e9;
        }
        return row;
    }

  private:
    static GenerateOptions options(const BenchConfig& cfg, int64_t n, const std::string& policy,
                                   int64_t budget) {
        GenerateOptions opt;
        opt.kv = cfg.kv;
        opt.kv.policy = policy;
        if (policy != "full") opt.kv.budget = budget;
        opt.kv_type = cfg.kv_type;
        opt.sampling.temperature = 0.0f;  // greedy: the sampler costs next to nothing
        opt.ignore_eos = true;
        opt.max_new_tokens = n + opt.kv.window + 2;
        return opt;
    }

    void step_all() {
        for (int s = 0; s < seqs_; ++s) gen_.sample(s);
        gen_.step();
    }

    double evict_seconds() const {
        double t = 0.0;
        for (int s = 0; s < seqs_; ++s) t += gen_.cache_stats(s).evict_seconds;
        return t;
    }

    int64_t n_, depth_;
    std::string policy_;
    int64_t budget_;
    int seqs_;
    Generator gen_;
    uint64_t weight_bytes_ = 0;  // 0: bytes per token not given
    uint64_t kv_slot_bytes_ = 0;
    std::vector<double> rates_, shares_;
    double slots_ = 0.0;  // sum over timed steps of sequence 0's cache size
};

// The machine's read bandwidth as the engine's threads see it: every pool
// thread sums its share of a 1 GiB buffer of floats with the vectorised dot
// kernel (as bench/kernels_bench.cpp's BM_read_bandwidth); best of 3 passes.
class ReadProbe {
  public:
    // Allocated and zeroed up front, so every page is real and resident in
    // every row's peak RSS, from which it is then subtracted.
    explicit ReadProbe(bool enabled) : buffer_(enabled ? kFloats : 0, 0.0f) {}

    uint64_t bytes() const { return buffer_.size() * sizeof(float); }
    size_t probes() const { return gb_s_.size(); }

    void measure(ThreadPool& pool) {
        sums_.assign(static_cast<size_t>(pool.size()), 0.0f);
        const float* p = buffer_.data();
        double best = 0.0;
        for (int pass = 0; pass < 3; ++pass) {
            auto t0 = Clock::now();
            pool.run([&](int index, int count) {
                const int64_t begin = kFloats * index / count, end = kFloats * (index + 1) / count;
                sums_[static_cast<size_t>(index)] += dot(p + begin, p + begin, end - begin);
            });
            best = std::max(best, static_cast<double>(bytes()) / 1e9 / seconds(t0, Clock::now()));
        }
        gb_s_.push_back(best);
    }

    BenchRow result() const {
        BenchRow row;
        row.test = "read";
        row.policy = "-";
        row.repetitions = static_cast<int>(gb_s_.size());
        row.read_gb_s = median(gb_s_);
        row.read_gb_s_best = *std::max_element(gb_s_.begin(), gb_s_.end());
        return row;
    }

  private:
    static constexpr int64_t kFloats = int64_t{256} << 20;  // 1 GiB
    std::vector<float> buffer_;
    std::vector<float> sums_;   // [threads] keeps the sums observable
    std::vector<double> gb_s_;  // best GB/s of each probe
};

}  // namespace

nlohmann::json BenchRow::to_json() const {
    auto given = [](double v) { return v > 0.0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
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
                          {"tokens_per_s_median", tokens_per_s_median},
                          {"peak_rss_bytes", peak_rss_bytes},
                          {"evict_share", evict_share},
                          {"cache_slots", cache_slots},
                          {"bytes_per_token", given(bytes_per_token)},
                          {"read_gb_s", given(read_gb_s)},
                          {"read_gb_s_best", given(read_gb_s_best)},
                          {"interleaved", interleaved}};
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

std::string bench_markdown_read(const BenchRow& r) {
    return fmt::format("read probe: median {:.1f} GB/s, best {:.1f} GB/s over {} probes",
                       r.read_gb_s, r.read_gb_s_best, r.repetitions);
}

void check_bench_config(const BenchConfig& cfg) {
    if (cfg.repetitions < 1) fail("bench: -r must be at least 1 (got {})", cfg.repetitions);
    for (int64_t d : cfg.depths) {
        if (d < 0) fail("bench: depth {} is negative", d);
    }
    for (int s : cfg.seqs) {
        if (s < 1 || s > 64) fail("bench: --seqs {} is out of range (1..64)", s);
    }
    for (const std::string& p : cfg.policies) {
        for (int64_t b : cfg.budgets) {
            EvictionParams kv = cfg.kv;
            kv.policy = p;
            if (p != "full") kv.budget = b;
            try {
                kv.validate();
            } catch (const Error& e) {
                const std::string budget = p == "full" ? "" : fmt::format(" --budget {}", b);
                fail("bench: --policy {}{}: {}", p, budget, e.what());
            }
        }
    }
}

std::vector<BenchRow> run_bench(Engine& engine, const BenchConfig& cfg,
                                const std::function<void(const BenchRow&)>& on_row) {
    check_bench_config(cfg);
    // The grid in report order; calling an entry prepares its row.
    std::vector<std::function<std::unique_ptr<RowRun>()>> grid;
    for (int64_t d : cfg.depths) {
        for (int64_t n : cfg.prompt_lengths) {
            if (n <= 0) continue;
            grid.push_back([&, n, d] { return std::make_unique<PromptRun>(engine, cfg, n, d); });
        }
        for (int64_t n : cfg.gen_lengths) {
            if (n <= 0) continue;
            for (const std::string& p : cfg.policies) {
                const std::vector<int64_t> budgets = p == "full" ? std::vector<int64_t>{0} : cfg.budgets;
                for (int64_t b : budgets) {
                    for (int s : cfg.seqs) {
                        grid.push_back([&, n, d, p, b, s] {
                            return std::make_unique<DecodeRun>(engine, cfg, n, d, p, b, s);
                        });
                    }
                }
            }
        }
    }
    ReadProbe probe(cfg.read_probe);
    std::vector<BenchRow> rows;
    auto finish = [&](BenchRow row) {
        row.weights = weights_name(engine.weights());
        row.kv_type = std::string(dtype_name(cfg.kv_type));
        row.threads = engine.pool().size();
        const uint64_t peak = peak_rss_bytes();
        row.peak_rss_bytes = peak - std::min(peak, probe.bytes());
        row.interleaved = cfg.interleave;
        if (on_row) on_row(row);
        rows.push_back(row);
    };
    if (cfg.interleave) {
        // Every row alive at once; repetition r of every row before r + 1 of any.
        reset_peak_rss();
        std::vector<std::unique_ptr<RowRun>> runs;
        for (const auto& prepare : grid) runs.push_back(prepare());
        for (int r = 0; r < cfg.repetitions; ++r) {
            if (cfg.read_probe) probe.measure(engine.pool());
            for (const auto& run : runs) run->repeat();
        }
        for (const auto& run : runs) finish(run->result());
    } else {
        for (const auto& prepare : grid) {
            reset_peak_rss();
            std::unique_ptr<RowRun> run = prepare();
            if (cfg.read_probe) probe.measure(engine.pool());
            for (int r = 0; r < cfg.repetitions; ++r) run->repeat();
            finish(run->result());
        }
    }
    if (probe.probes() > 0) finish(probe.result());
    return rows;
}

}  // namespace vase
