// Generation: prefill a prompt once, then decode one or several sequences of
// it in lock-step (weights are read once per step for the whole batch), each
// with its own fixed-budget KV cache, eviction policy and random stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "kv/cache.h"
#include "kv/eviction.h"
#include "kv/params.h"
#include "model/checkpoint.h"
#include "model/qwen3.h"
#include "ops/thread_pool.h"
#include "text/tokenizer.h"

namespace vase {

// A loaded model, ready to generate. Threads are fixed at construction.
class Engine {
public:
    Engine(const std::string& model_path, int n_threads);

    const Checkpoint& checkpoint() const { return checkpoint_; }
    const ModelConfig& config() const { return checkpoint_.config; }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    const Qwen3Weights& weights() const { return *weights_; }
    ThreadPool& pool() { return pool_; }
    // Sampling defaults from generation_config.json / GGUF metadata.
    SamplingParams default_sampling() const;

private:
    Checkpoint checkpoint_;
    Tokenizer tokenizer_;
    std::unique_ptr<Qwen3Weights> weights_;
    ThreadPool pool_;
};

struct GenerateOptions {
    int64_t max_new_tokens = 256;
    SamplingParams sampling;
    bool ignore_eos = false;
    std::vector<std::string> stop_strings;
    EvictionParams kv;
    DType kv_type = DType::F16;  // element type of the KV cache: F32, F16 or BF16
    bool reference = false;  // use the scalar reference forward pass (tests, comparisons)
    bool value_histogram = false;  // fill CacheStats::value_range_hist at the end of each sequence
    // Seeds of sampling and eviction per sequence of a batch. Empty: sequence
    // s uses seed + s * 0x9e3779b97f4a7c15 (sequence 0 the seed itself).
    std::vector<uint64_t> sequence_seeds;
};

struct GenerationResult {
    std::vector<int32_t> tokens;  // generated ids (stop/EOS token included)
    std::string text;             // decoded text, cut before a matched stop string
    std::string finish_reason;    // "stop" (EOS or stop string) or "length"
    CacheStats cache;
};

struct GenerationTimings {
    int64_t prompt_tokens = 0;
    double prefill_seconds = 0.0;
    int64_t decode_steps = 0;      // forward passes after the prefill
    int64_t decoded_tokens = 0;    // tokens produced by those steps, all sequences
    double decode_seconds = 0.0;
};

// The lock-step decoder. Everything it needs is allocated in the
// constructor; prefill() and step() then run without heap allocation.
class Generator {
public:
    Generator(Engine& engine, const GenerateOptions& options, int64_t prompt_len, int n_sequences);

    void prefill(const std::vector<int32_t>& prompt);
    int n_sequences() const { return static_cast<int>(sequences_.size()); }
    bool active(int s) const { return !sequences_[s].done; }
    bool any_active() const;
    // Logits [vocab] that sequence s samples its next token from.
    const float* logits(int s) const { return logits_.data() + s * vocab_; }
    // Samples sequence s's next token from logits(s) and appends it.
    int32_t sample(int s);
    void finish(int s) { sequences_[s].done = true; }
    int64_t generated(int s) const { return static_cast<int64_t>(sequences_[s].tokens.size()); }
    const std::vector<int32_t>& tokens(int s) const { return sequences_[s].tokens; }
    // Runs the last sampled token of every active sequence through the model,
    // then lets each sequence's policy evict.
    void step();

    const CacheStats& cache_stats(int s) const { return sequences_[s].evictor->stats(); }

    // Benchmarks: remember every sequence's cache and length (allocates), and
    // go back to them later, e.g. to decode from the same depth repeatedly.
    void save_state();
    void restore_state();
    const KvCache& cache(int s) const { return *sequences_[s].cache; }
    const GenerationTimings& timings() const { return timings_; }

private:
    struct Sequence {
        std::unique_ptr<KvCache> cache;
        std::unique_ptr<Evictor> evictor;
        std::unique_ptr<Sampler> sampler;
        std::unique_ptr<ReferenceQwen3> reference;
        std::vector<int32_t> tokens;  // generated so far (capacity reserved)
        int64_t length = 0;           // tokens of the sequence run through the model
        bool done = false;
    };

    Engine& engine_;
    GenerateOptions options_;
    int64_t vocab_;
    std::unique_ptr<Qwen3Forward> forward_;
    std::vector<Sequence> sequences_;
    std::vector<float> logits_;       // [n_sequences, vocab]
    std::vector<ForwardRow> rows_;    // [n_sequences]
    std::vector<int32_t> row_tokens_; // [max(n_sequences, prefill chunk)]
    std::vector<int> row_sequence_;   // [n_sequences]
    GenerationTimings timings_;
    int64_t select_budget_ = 0;  // Quest: tokens each decode step attends to
    struct Saved {
        KvCache cache;
        int64_t length;
        size_t generated;
    };
    std::vector<Saved> saved_;
    std::vector<float> saved_logits_;
};

// Called for every generated token of sequence `s` with its text piece
// (complete UTF-8 only) and the logits it was sampled from; return false to stop it.
using TokenCallback = std::function<bool(int s, int32_t token, const std::string& piece, const float* logits)>;

// Called once per sequence as soon as it finishes, with its complete result.
using FinishCallback = std::function<void(int s, const GenerationResult& result)>;

// Generates n_sequences completions of one prompt.
std::vector<GenerationResult> generate(Engine& engine, const std::vector<int32_t>& prompt,
                                       const GenerateOptions& options, int n_sequences,
                                       const TokenCallback& on_token, GenerationTimings* timings,
                                       const FinishCallback& on_finish = nullptr);

}  // namespace vase
