#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "util/error.h"

namespace vase {
namespace {

constexpr int64_t kPrefillChunk = 256;  // rows per prefill forward call

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Engine::Engine(const std::string& model_path, int n_threads)
    : checkpoint_(load_checkpoint(model_path)),
      tokenizer_(checkpoint_.tokenizer),
      weights_(std::make_unique<Qwen3Weights>(checkpoint_)),
      pool_(n_threads) {
    if (tokenizer_.vocab_size() > checkpoint_.config.vocab_size) {
        fail("{}: the tokenizer has {} tokens but the model's vocabulary is {}", model_path,
             tokenizer_.vocab_size(), checkpoint_.config.vocab_size);
    }
}

SamplingParams Engine::default_sampling() const {
    const GenerationConfig& g = checkpoint_.generation;
    SamplingParams p;
    p.temperature = g.do_sample ? g.temperature : 0.0f;
    p.top_k = g.top_k;
    p.top_p = g.top_p;
    p.min_p = g.min_p;
    return p;
}

Generator::Generator(Engine& engine, const GenerateOptions& options, int64_t prompt_len,
                     int n_sequences)
    : engine_(engine), options_(options), vocab_(engine.config().vocab_size) {
    if (prompt_len < 1) fail("the prompt is empty: give at least one token");
    if (n_sequences < 1) fail("the number of sequences must be at least 1");
    if (!options.sequence_seeds.empty() && options.sequence_seeds.size() != static_cast<size_t>(n_sequences)) {
        fail("{} sequence seeds given for {} sequences", options.sequence_seeds.size(), n_sequences);
    }
    if (options.max_new_tokens < 0) fail("max new tokens must be >= 0");
    options_.kv.validate();
    options_.sampling.validate();
    const ModelConfig& c = engine.config();
    if (prompt_len + options.max_new_tokens > c.max_position_embeddings) {
        fail("prompt ({} tokens) + max new tokens ({}) exceed the model's context of {} tokens",
             prompt_len, options.max_new_tokens, c.max_position_embeddings);
    }
    KvCacheShape shape;
    shape.n_layers = c.n_layers;
    shape.n_kv_heads = c.n_kv_heads;
    shape.n_q_heads = c.n_heads;
    shape.head_dim = c.head_dim;
    shape.capacity = cache_capacity(options_.kv, prompt_len, options.max_new_tokens);
    // Only attention-scored policies read the query window; Quest keeps page bounds.
    shape.query_window = policy_uses_attention(options_.kv.policy) ? options_.kv.window : 0;
    shape.page_bounds = options_.kv.policy == "quest";
    shape.kv_type = options.kv_type;
    sum_window_attention(options_.kv, shape);
    select_budget_ = shape.page_bounds ? options_.kv.budget : 0;

    const int64_t max_rows = std::max<int64_t>(n_sequences, std::min(prompt_len, kPrefillChunk));
    if (!options.reference) {
        forward_ = std::make_unique<Qwen3Forward>(engine.weights(), max_rows, shape.capacity,
                                                  engine.pool().size());
    }
    sequences_.resize(static_cast<size_t>(n_sequences));
    for (int s = 0; s < n_sequences; ++s) {
        Sequence& seq = sequences_[static_cast<size_t>(s)];
        seq.cache = std::make_unique<KvCache>(shape);
        // Sequence 0 uses the given seed as is, so one sequence alone and the
        // first of a batch produce the same text.
        const uint64_t offset = static_cast<uint64_t>(s) * 0x9e3779b97f4a7c15ull;
        EvictionParams kv = options_.kv;
        SamplingParams sp = options_.sampling;
        kv.seed = options_.kv.seed + offset;
        sp.seed = options_.sampling.seed + offset;
        if (!options_.sequence_seeds.empty()) kv.seed = sp.seed = options_.sequence_seeds[s];
        seq.evictor = std::make_unique<Evictor>(kv, shape, engine.pool().size());
        seq.sampler = std::make_unique<Sampler>(vocab_, sp);
        if (options.reference) seq.reference = std::make_unique<ReferenceQwen3>(engine.weights());
        seq.tokens.reserve(static_cast<size_t>(options.max_new_tokens) + 1);
    }
    logits_.resize(static_cast<size_t>(n_sequences * vocab_));
    rows_.resize(static_cast<size_t>(max_rows));
    row_tokens_.resize(static_cast<size_t>(max_rows));
    row_sequence_.resize(static_cast<size_t>(n_sequences));
}

bool Generator::any_active() const {
    return std::any_of(sequences_.begin(), sequences_.end(), [](const Sequence& s) { return !s.done; });
}

void Generator::prefill(const std::vector<int32_t>& prompt) {
    auto t0 = std::chrono::steady_clock::now();
    const int64_t n = static_cast<int64_t>(prompt.size());
    Sequence& first = sequences_[0];
    if (options_.reference) {
        for (Sequence& seq : sequences_) {
            std::vector<float> out;
            for (int64_t i = 0; i < n; ++i) out = seq.reference->forward(prompt[i], i);
            std::memcpy(&logits_[static_cast<size_t>(&seq - sequences_.data()) * vocab_], out.data(),
                        static_cast<size_t>(vocab_) * sizeof(float));
            seq.length = n;
        }
    } else {
        for (int64_t begin = 0; begin < n; begin += forward_->max_rows()) {
            const int64_t count = std::min(forward_->max_rows(), n - begin);
            for (int64_t i = 0; i < count; ++i) {
                rows_[i] = ForwardRow{first.cache.get(), begin + i, begin + i == n - 1};
                row_tokens_[i] = prompt[begin + i];
            }
            const float* out = forward_->forward(engine_.pool(), row_tokens_.data(), rows_.data(), count);
            if (begin + count == n) std::memcpy(logits_.data(), out, static_cast<size_t>(vocab_) * sizeof(float));
        }
        first.length = n;
        // Every other sequence starts from the same prompt cache and logits.
        for (size_t s = 1; s < sequences_.size(); ++s) {
            *sequences_[s].cache = *first.cache;
            sequences_[s].length = n;
            std::memcpy(&logits_[s * vocab_], logits_.data(), static_cast<size_t>(vocab_) * sizeof(float));
        }
    }
    for (Sequence& seq : sequences_) seq.evictor->after_prefill(*seq.cache);
    timings_.prompt_tokens = n;
    timings_.prefill_seconds = seconds_since(t0);
}

void Generator::save_state() {
    saved_.clear();
    for (const Sequence& seq : sequences_) saved_.push_back(Saved{*seq.cache, seq.length, seq.tokens.size()});
    saved_logits_ = logits_;
}

void Generator::restore_state() {
    if (saved_.size() != sequences_.size()) fail("restore_state() without save_state()");
    for (size_t s = 0; s < sequences_.size(); ++s) {
        *sequences_[s].cache = saved_[s].cache;
        sequences_[s].length = saved_[s].length;
        sequences_[s].tokens.resize(saved_[s].generated);
        sequences_[s].done = false;
    }
    logits_ = saved_logits_;
}

int32_t Generator::sample(int s) {
    Sequence& seq = sequences_[static_cast<size_t>(s)];
    int32_t token = seq.sampler->sample(logits(s));
    seq.tokens.push_back(token);
    return token;
}

void Generator::step() {
    auto t0 = std::chrono::steady_clock::now();
    int64_t n_rows = 0;
    for (int s = 0; s < n_sequences(); ++s) {
        Sequence& seq = sequences_[static_cast<size_t>(s)];
        if (seq.done) continue;
        if (options_.reference) {
            std::vector<float> out = seq.reference->forward(seq.tokens.back(), seq.length);
            std::memcpy(&logits_[static_cast<size_t>(s) * vocab_], out.data(),
                        static_cast<size_t>(vocab_) * sizeof(float));
            seq.length += 1;
            ++n_rows;
            continue;
        }
        rows_[n_rows] = ForwardRow{seq.cache.get(), seq.length, true, select_budget_};
        row_tokens_[n_rows] = seq.tokens.back();
        row_sequence_[n_rows] = s;
        ++n_rows;
    }
    if (!options_.reference && n_rows > 0) {
        const float* out = forward_->forward(engine_.pool(), row_tokens_.data(), rows_.data(), n_rows);
        for (int64_t r = 0; r < n_rows; ++r) {
            Sequence& seq = sequences_[static_cast<size_t>(row_sequence_[r])];
            std::memcpy(&logits_[static_cast<size_t>(row_sequence_[r]) * vocab_], out + r * vocab_,
                        static_cast<size_t>(vocab_) * sizeof(float));
            seq.length += 1;
            seq.evictor->after_decode_step(*seq.cache, seq.length, &engine_.pool());
        }
    }
    timings_.decode_steps += 1;
    timings_.decoded_tokens += n_rows;
    timings_.decode_seconds += seconds_since(t0);
}

std::vector<GenerationResult> generate(Engine& engine, const std::vector<int32_t>& prompt,
                                       const GenerateOptions& options, int n_sequences,
                                       const TokenCallback& on_token, GenerationTimings* timings,
                                       const FinishCallback& on_finish) {
    Generator gen(engine, options, static_cast<int64_t>(prompt.size()), n_sequences);
    const GenerationConfig& gc = engine.checkpoint().generation;
    std::vector<GenerationResult> results(static_cast<size_t>(n_sequences));
    std::vector<StreamDecoder> decoders;
    for (int s = 0; s < n_sequences; ++s) decoders.emplace_back(engine.tokenizer());

    auto finish = [&](int s) {
        GenerationResult& res = results[static_cast<size_t>(s)];
        if (res.finish_reason.empty()) res.finish_reason = "stop";
        if (res.finish_reason == "length") res.text += decoders[s].flush();
        res.tokens = gen.tokens(s);
        res.cache = gen.cache_stats(s);
        if (options.value_histogram) record_value_ranges(gen.cache(s), res.cache);
        gen.finish(s);
        if (on_finish) on_finish(s, res);
    };
    gen.prefill(prompt);
    for (int s = 0; s < n_sequences && options.max_new_tokens == 0; ++s) {
        results[static_cast<size_t>(s)].finish_reason = "length";
        finish(s);
    }

    while (gen.any_active()) {
        for (int s = 0; s < n_sequences; ++s) {
            if (!gen.active(s)) continue;
            GenerationResult& res = results[static_cast<size_t>(s)];
            const int32_t token = gen.sample(s);
            const bool is_eos = std::find(gc.eos_token_ids.begin(), gc.eos_token_ids.end(), token) !=
                                gc.eos_token_ids.end();
            std::string piece = (is_eos && !options.ignore_eos) ? std::string() : decoders[s].push(token);
            bool keep_going = on_token ? on_token(s, token, piece, gen.logits(s)) : true;
            res.text += piece;
            // Stop strings: cut the text before the first match.
            for (const std::string& stop : options.stop_strings) {
                if (stop.empty()) continue;
                size_t from = res.text.size() >= piece.size() + stop.size()
                                  ? res.text.size() - piece.size() - stop.size() + 1
                                  : 0;
                size_t at = res.text.find(stop, from);
                if (at != std::string::npos) {
                    res.text.resize(at);
                    res.finish_reason = "stop";
                    keep_going = false;
                    break;
                }
            }
            if (is_eos && !options.ignore_eos) {
                res.finish_reason = "stop";
                keep_going = false;
            } else if (gen.generated(s) >= options.max_new_tokens) {
                if (res.finish_reason.empty()) res.finish_reason = "length";
                keep_going = false;
            }
            if (!keep_going) finish(s);
        }
        if (gen.any_active()) gen.step();
    }
    if (timings != nullptr) *timings = gen.timings();
    return results;
}

}  // namespace vase
