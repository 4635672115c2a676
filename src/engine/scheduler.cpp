#include "engine/scheduler.h"

#include <algorithm>
#include <cassert>
#include <exception>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "util/error.h"

namespace vase {
namespace {

// Bytes KvCache allocates for `shape` (keys, values, positions, queries, Quest page bounds).
uint64_t kv_cache_bytes(const KvCacheShape& s) {
    const uint64_t slots = static_cast<uint64_t>(s.n_layers * s.n_kv_heads * s.capacity);
    const uint64_t row = dtype_row_bytes(s.kv_type, static_cast<uint64_t>(s.head_dim));
    uint64_t bytes = 2 * slots * row + slots * sizeof(int64_t);
    bytes += static_cast<uint64_t>(s.n_layers * s.n_q_heads * s.query_window * s.head_dim) *
             sizeof(float);
    if (s.score_window > 0) bytes += slots * sizeof(float);  // window attention sums
    if (s.page_bounds) {
        bytes += 2 *
                 static_cast<uint64_t>(s.n_layers * s.n_kv_heads * quest_pages(s.capacity) *
                                       s.head_dim) *
                 sizeof(float);
    }
    return bytes;
}

// An upper bound of what an Evictor allocates for `shape` (kv/eviction.cpp,
// kv/policy.cpp, kv/scoring.cpp): per-thread policy scratch over the
// candidates, the attention scorer's logits, the kept-slot list, f32 copies of
// a layer's candidates for 16-bit caches (policies that score such copies),
// and cur's projections.
// tests/server/scheduler_test.cpp checks it against counted allocations.
uint64_t evictor_bytes(const EvictionParams& kv, const KvCacheShape& s, int n_threads) {
    const uint64_t threads = static_cast<uint64_t>(std::max(1, n_threads));
    const uint64_t cand = static_cast<uint64_t>(std::max<int64_t>(1, s.capacity - kv.window));
    const uint64_t hd = static_cast<uint64_t>(s.head_dim);
    const uint64_t lanes =
        static_cast<uint64_t>((std::max<int64_t>(1, s.query_window) + 15) / 16 * 16);
    uint64_t bytes = 64 * 1024;  // the policy object, random streams, small vectors
    bytes += static_cast<uint64_t>(s.n_layers * s.n_kv_heads) * 64;
    bytes += threads * (cand * 41 + hd * 8 + 2 * (kMaxCurRank + 8) * sizeof(float) + 1024);
    if (policy_uses_attention(kv.policy)) {
        bytes += threads * (cand * lanes * sizeof(float) + cand * sizeof(double) +
                            hd * lanes * sizeof(float) + lanes * 24);
    }
    if (kv.policy == "cur" || kv.policy == "cur_fixed") {
        bytes += static_cast<uint64_t>(s.n_layers) * hd * (kMaxCurRank + 16) * sizeof(float);
    }
    const uint64_t keep = static_cast<uint64_t>(std::max<int64_t>(0, kv.budget - kv.window));
    bytes += static_cast<uint64_t>(s.n_kv_heads) * keep * sizeof(int64_t);
    if (s.kv_type != DType::F32 && policy_scores_f32_copies(kv.policy))
        bytes += 2 * static_cast<uint64_t>(s.n_kv_heads) * cand * hd * sizeof(float);
    return bytes;
}

double seconds_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Length of the longest proper prefix of a stop string that `text` ends with:
// text that a later token could still turn into a stop match is held back.
size_t stop_prefix_suffix(const std::string& text, const std::vector<std::string>& stops) {
    size_t held = 0;
    for (const std::string& stop : stops) {
        for (size_t k = std::min(stop.size() - (stop.empty() ? 0 : 1), text.size()); k > held;
             --k) {
            if (text.compare(text.size() - k, k, stop, 0, k) == 0) {
                held = k;
                break;
            }
        }
    }
    return held;
}

}  // namespace

struct Scheduler::Sequence {
    int index = 0;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<Evictor> evictor;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<StreamDecoder> decoder;
    std::vector<int32_t> tokens;  // generated so far
    std::string text;             // decoded so far, cut before a matched stop string
    size_t sent = 0;              // bytes of text already reported
    std::string finish_reason;
    int64_t length = 0;  // tokens of the sequence run through the model
    uint64_t reserved = 0;
    uint64_t allocated = 0;  // the cache's storage bytes
    bool live = false;       // holds a reservation
    bool done = false;
};

struct Scheduler::Running {
    std::shared_ptr<Job> job;
    JobRequest request;
    std::vector<Sequence> sequences;
    uint64_t sequence_reservation = 0;
    int64_t prefilled = 0;  // prompt tokens run through the model
    bool started = false;   // sequences allocated
    bool decoding = false;  // prefill done
    bool ended = false;     // the job was told it ended (cancelled or failed)
    int64_t select_budget = 0;

    // The sequences, each holding its share of the reservation made at admission.
    void make_sequences() {
        if (!sequences.empty()) return;
        sequences.resize(static_cast<size_t>(request.n));
        for (int s = 0; s < request.n; ++s) {
            sequences[static_cast<size_t>(s)].index = s;
            sequences[static_cast<size_t>(s)].reserved = sequence_reservation;
            sequences[static_cast<size_t>(s)].live = true;
        }
    }
    bool all_done() const {
        return !sequences.empty() && std::all_of(sequences.begin(), sequences.end(),
                                                 [](const Sequence& s) { return s.done; });
    }
};

bool Job::wait(std::vector<JobEvent>& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty() || ended_; });
    for (JobEvent& e : events_) out.push_back(std::move(e));
    events_.clear();
    return !ended_;
}

std::string Job::error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
}

void Job::push(std::vector<JobEvent>& events) {
    if (events.empty()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (JobEvent& e : events) events_.push_back(std::move(e));
    }
    events.clear();
    cv_.notify_all();
}

void Job::end(const std::string& error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ended_ = true;
        error_ = error;
    }
    cv_.notify_all();
}

Scheduler::Scheduler(Engine& engine, const SchedulerOptions& options)
    : engine_(engine), options_(options), vocab_(engine.config().vocab_size) {
    if (options.max_seqs < 1 || options.max_seqs > kMaxSeqs) {
        fail("--max-seqs must be between 1 and {} (got {})", kMaxSeqs, options.max_seqs);
    }
    if (options.max_queue < 0) fail("--max-queue must not be negative (got {})", options.max_queue);
    options_.kv.validate();
    kv_limit_ = options.kv_memory > 0 ? options.kv_memory
                                      : static_cast<uint64_t>(options.max_seqs) * seat_bytes();
    stats_.kv_limit_bytes = kv_limit_;
    const int64_t max_rows = std::max<int64_t>(options.max_seqs, kPrefillChunk);
    // The largest cache a request can have is the model's whole context.
    forward_ = std::make_unique<Qwen3Forward>(
        engine.weights(), max_rows, engine.config().max_position_embeddings, engine.pool().size());
    rows_.resize(static_cast<size_t>(max_rows));
    row_tokens_.resize(static_cast<size_t>(max_rows));
    row_seq_.resize(static_cast<size_t>(options.max_seqs));
    row_job_.resize(static_cast<size_t>(options.max_seqs));
    started_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

KvCacheShape Scheduler::cache_shape(const GenerateOptions& o, int64_t capacity) const {
    const ModelConfig& c = engine_.config();
    KvCacheShape shape;
    shape.n_layers = c.n_layers;
    shape.n_kv_heads = c.n_kv_heads;
    shape.n_q_heads = c.n_heads;
    shape.head_dim = c.head_dim;
    shape.capacity = capacity;
    // As Generator: only attention-scored policies keep queries; Quest keeps page bounds.
    shape.query_window = policy_uses_attention(o.kv.policy) ? o.kv.window : 0;
    shape.page_bounds = o.kv.policy == "quest";
    shape.kv_type = o.kv_type;
    sum_window_attention(o.kv, shape);
    return shape;
}

uint64_t Scheduler::sequence_bytes(const GenerateOptions& o, int64_t capacity) const {
    const KvCacheShape shape = cache_shape(o, capacity);
    uint64_t bytes = kv_cache_bytes(shape) + evictor_bytes(o.kv, shape, engine_.pool().size());
    const uint64_t vocab = static_cast<uint64_t>(vocab_);
    if (!o.sampling.greedy())
        bytes += vocab * (sizeof(float) + sizeof(int32_t)) + vocab * sizeof(float);
    bytes += static_cast<uint64_t>(o.max_new_tokens + 1) * kTextBytesPerToken;
    return bytes;
}

uint64_t Scheduler::reservation(const JobRequest& r) const {
    const int64_t capacity = cache_capacity(r.options.kv, static_cast<int64_t>(r.prompt.size()),
                                            r.options.max_new_tokens);
    return static_cast<uint64_t>(std::max(1, r.n)) * sequence_bytes(r.options, capacity);
}

uint64_t Scheduler::seat_bytes() const {
    GenerateOptions o;
    o.kv = options_.kv;
    o.kv_type = options_.kv_type;
    o.sampling.temperature = 1.0f;  // sampling buffers included
    // A one-token prompt and budget + window - 1 new tokens fill budget + window slots.
    o.max_new_tokens = options_.kv.budget + options_.kv.window - 1;
    return sequence_bytes(o, options_.kv.budget + options_.kv.window);
}

std::shared_ptr<Job> Scheduler::submit(JobRequest request) {
    const ModelConfig& c = engine_.config();
    const GenerateOptions& o = request.options;
    const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
    if (n_prompt < 1) fail("the prompt is empty: give at least one token");
    if (request.n < 1 || request.n > options_.max_seqs) {
        fail("n must be between 1 and {} (the server's --max-seqs), got {}", options_.max_seqs,
             request.n);
    }
    if (o.max_new_tokens < 0) fail("max_tokens must not be negative (got {})", o.max_new_tokens);
    if (n_prompt + o.max_new_tokens > c.max_position_embeddings) {
        fail("the prompt ({} tokens) + max_tokens ({}) exceed the model's context of {} tokens",
             n_prompt, o.max_new_tokens, c.max_position_embeddings);
    }
    for (int32_t t : request.prompt) {
        if (t < 0 || t >= vocab_)
            fail("token id {} is outside the vocabulary (0..{})", t, vocab_ - 1);
    }
    o.kv.validate();
    o.sampling.validate();
    if (o.kv_type != DType::F32 && o.kv_type != DType::F16 && o.kv_type != DType::BF16) {
        fail("kv_type must be f32, f16 or bf16");
    }
    const uint64_t bytes = reservation(request);
    if (bytes > kv_limit_) {
        fail(
            "the request needs {:.1f} MiB of KV memory but the server has {:.1f} MiB in all; lower "
            "max_tokens, n or kv_budget",
            static_cast<double>(bytes) / 1048576.0, static_cast<double>(kv_limit_) / 1048576.0);
    }

    auto job = std::make_shared<Job>();
    job->prompt_tokens_ = n_prompt;
    job->reserved_bytes_ = bytes;
    auto running = std::make_unique<Running>();
    running->job = job;
    running->sequence_reservation = bytes / static_cast<uint64_t>(request.n);
    running->select_budget = o.kv.policy == "quest" ? o.kv.budget : 0;
    running->request = std::move(request);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return nullptr;
        admit_locked();  // frees places held by cancelled jobs
        queue_.push_back(std::move(running));
        admit_locked();
        // Between calls the queue holds at most max_queue jobs, so if it holds
        // more now, the last one is this job and it found no place.
        if (static_cast<int>(queue_.size()) > options_.max_queue) {
            queue_.pop_back();
            stats_.jobs_refused += 1;
            return nullptr;
        }
        stats_.jobs_submitted += 1;
    }
    cv_.notify_all();
    return job;
}

void Scheduler::admit_locked() {
    // Queued jobs whose client left are dropped; the rest are admitted in order
    // while their reservation fits (no overtaking, so no job starves).
    for (auto it = queue_.begin(); it != queue_.end();) {
        if ((*it)->job->cancelled()) {
            (*it)->job->end("cancelled");
            stats_.jobs_cancelled += 1;
            it = queue_.erase(it);
        } else {
            ++it;
        }
    }
    while (!queue_.empty()) {
        Running& r = *queue_.front();
        const int n = r.request.n;
        const uint64_t bytes = r.sequence_reservation * static_cast<uint64_t>(n);
        if (reserved_seqs_ + n > options_.max_seqs || reserved_bytes_ + bytes > kv_limit_) break;
        reserved_seqs_ += n;
        reserved_bytes_ += bytes;
        admitted_.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
}

SchedulerStats Scheduler::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    SchedulerStats s = stats_;
    s.active_sequences = reserved_seqs_;
    s.queued_jobs = static_cast<int>(queue_.size());
    s.kv_reserved_bytes = reserved_bytes_;
    s.kv_allocated_bytes = allocated_bytes_;
    // Complete one-second buckets before the current one.
    const int64_t now =
        static_cast<int64_t>(seconds_between(started_, std::chrono::steady_clock::now()));
    int64_t sum = 0;
    for (int64_t t = now - kRateSeconds; t < now; ++t) {
        if (t >= 0 && t > rate_second_ - kRateSeconds - 1 && t <= rate_second_) {
            sum += rate_buckets_[t % (kRateSeconds + 1)];
        }
    }
    s.tokens_per_second = static_cast<double>(sum) / kRateSeconds;
    return s;
}

void Scheduler::count_tokens(int64_t n) {
    const int64_t now =
        static_cast<int64_t>(seconds_between(started_, std::chrono::steady_clock::now()));
    std::lock_guard<std::mutex> lock(mutex_);
    for (int64_t t = std::max(rate_second_ + 1, now - kRateSeconds); t <= now; ++t) {
        rate_buckets_[t % (kRateSeconds + 1)] = 0;
    }
    rate_second_ = std::max(rate_second_, now);
    rate_buckets_[now % (kRateSeconds + 1)] += n;
    stats_.generated_tokens += n;
}

void Scheduler::loop() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [&] {
                return stop_ || !queue_.empty() || !admitted_.empty() || !running_.empty();
            });
            if (stop_) break;
            admit_locked();
            for (auto& r : admitted_) running_.push_back(std::move(r));
            admitted_.clear();
        }
        drop_cancelled();
        // One prefill chunk of the oldest job still prefilling, then one decode
        // step of everything already decoding: a long prompt delays the others'
        // tokens by one chunk per step, not by its whole prefill.
        for (auto& r : running_) {
            if (r->decoding || r->ended) continue;
            try {
                prefill_chunk(*r);
            } catch (const std::exception& e) {
                fail_job(*r, e.what());
            }
            break;
        }
        try {
            decode_step();
        } catch (const std::exception& e) {
            for (auto& r : running_) {
                if (r->decoding && !r->ended) fail_job(*r, e.what());
            }
        }
        retire_finished();
    }
    // Shutting down: every job still known ends with an error.
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& r : queue_) r->job->end("the server is shutting down");
    for (auto& r : admitted_) r->job->end("the server is shutting down");
    for (auto& r : running_) r->job->end("the server is shutting down");
}

void Scheduler::start(Running& r) {
    const GenerateOptions& o = r.request.options;
    const int64_t n_prompt = static_cast<int64_t>(r.request.prompt.size());
    const KvCacheShape shape = cache_shape(o, cache_capacity(o.kv, n_prompt, o.max_new_tokens));
    r.make_sequences();
    r.started = true;
    for (int s = 0; s < r.request.n; ++s) {
        Sequence& seq = r.sequences[static_cast<size_t>(s)];
        // Seeds as Generator gives them: sequence 0 the seed itself.
        const uint64_t offset = static_cast<uint64_t>(s) * 0x9e3779b97f4a7c15ull;
        EvictionParams kv = o.kv;
        SamplingParams sp = o.sampling;
        kv.seed = o.kv.seed + offset;
        sp.seed = o.sampling.seed + offset;
        seq.cache = std::make_unique<KvCache>(shape);
        seq.allocated = seq.cache->bytes();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            allocated_bytes_ += seq.allocated;
        }
        seq.evictor = std::make_unique<Evictor>(kv, shape, engine_.pool().size());
        seq.sampler = std::make_unique<Sampler>(vocab_, sp);
        seq.decoder = std::make_unique<StreamDecoder>(engine_.tokenizer());
        seq.tokens.reserve(static_cast<size_t>(o.max_new_tokens) + 1);
    }
}

void Scheduler::prefill_chunk(Running& r) {
    if (!r.started) start(r);
    const std::vector<int32_t>& prompt = r.request.prompt;
    const int64_t n = static_cast<int64_t>(prompt.size());
    const int64_t begin = r.prefilled;
    const int64_t count = std::min(kPrefillChunk, n - begin);
    Sequence& first = r.sequences[0];
    for (int64_t i = 0; i < count; ++i) {
        rows_[i] = ForwardRow{first.cache.get(), begin + i, begin + i == n - 1};
        row_tokens_[i] = prompt[begin + i];
    }
    const float* out = forward_->forward(engine_.pool(), row_tokens_.data(), rows_.data(), count);
    r.prefilled += count;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.prompt_tokens += count;
    }
    if (r.prefilled < n) return;

    // Every sequence starts from the prompt's cache and logits.
    first.length = n;
    for (size_t s = 1; s < r.sequences.size(); ++s) {
        *r.sequences[s].cache = *first.cache;
        r.sequences[s].length = n;
    }
    for (Sequence& seq : r.sequences) seq.evictor->after_prefill(*seq.cache);
    r.decoding = true;
    std::vector<JobEvent> events;
    for (Sequence& seq : r.sequences) {
        if (r.request.options.max_new_tokens == 0) {
            seq.finish_reason = "length";
            finish_sequence(r, seq, events);
        } else {
            take_token(r, seq, out, events);
        }
    }
    count_tokens(r.request.options.max_new_tokens == 0 ? 0
                                                       : static_cast<int64_t>(r.sequences.size()));
    r.job->push(events);
}

void Scheduler::decode_step() {
    int64_t n_rows = 0;
    for (auto& r : running_) {
        if (!r->decoding || r->ended) continue;
        for (Sequence& seq : r->sequences) {
            if (seq.done) continue;
            rows_[n_rows] = ForwardRow{seq.cache.get(), seq.length, true, r->select_budget};
            row_tokens_[n_rows] = seq.tokens.back();
            row_seq_[n_rows] = &seq;
            row_job_[n_rows] = r.get();
            ++n_rows;
        }
    }
    if (n_rows == 0) return;
    assert(n_rows <= options_.max_seqs);
    const float* out = forward_->forward(engine_.pool(), row_tokens_.data(), rows_.data(), n_rows);
    int64_t passes = 0, evicted = 0;
    for (int64_t i = 0; i < n_rows; ++i) {
        Sequence& seq = *row_seq_[i];
        const CacheStats& before = seq.evictor->stats();
        const int64_t p0 = before.eviction_passes, e0 = before.tokens_evicted;
        seq.length += 1;
        seq.evictor->after_decode_step(*seq.cache, seq.length, &engine_.pool());
        passes += seq.evictor->stats().eviction_passes - p0;
        evicted += seq.evictor->stats().tokens_evicted - e0;
    }
    // Rows of one job are consecutive: its events go out together.
    std::vector<JobEvent> events;
    for (int64_t i = 0; i < n_rows; ++i) {
        take_token(*row_job_[i], *row_seq_[i], out + i * vocab_, events);
        if (i + 1 == n_rows || row_job_[i + 1] != row_job_[i]) row_job_[i]->job->push(events);
    }
    count_tokens(n_rows);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.decode_steps += 1;
    stats_.eviction_passes += passes;
    stats_.tokens_evicted += evicted;
}

void Scheduler::take_token(Running& r, Sequence& seq, const float* logits,
                           std::vector<JobEvent>& events) {
    // The rules of generate(): EOS and max_tokens end a sequence, a stop
    // string ends it and cuts the text before the match.
    const GenerateOptions& o = r.request.options;
    const std::vector<int32_t>& eos = engine_.checkpoint().generation.eos_token_ids;
    const int32_t token = seq.sampler->sample(logits);
    seq.tokens.push_back(token);
    const bool is_eos = std::find(eos.begin(), eos.end(), token) != eos.end();
    const std::string piece = (is_eos && !o.ignore_eos) ? std::string() : seq.decoder->push(token);
    seq.text += piece;
    bool keep_going = true;
    for (const std::string& stop : o.stop_strings) {
        if (stop.empty()) continue;
        const size_t from = seq.text.size() >= piece.size() + stop.size()
                                ? seq.text.size() - piece.size() - stop.size() + 1
                                : 0;
        const size_t at = seq.text.find(stop, from);
        if (at != std::string::npos) {
            seq.text.resize(at);
            seq.finish_reason = "stop";
            keep_going = false;
            break;
        }
    }
    if (is_eos && !o.ignore_eos) {
        seq.finish_reason = "stop";
        keep_going = false;
    } else if (static_cast<int64_t>(seq.tokens.size()) >= o.max_new_tokens) {
        if (seq.finish_reason.empty()) seq.finish_reason = "length";
        keep_going = false;
    }
    if (!keep_going) {
        finish_sequence(r, seq, events);
        return;
    }
    const size_t safe = seq.text.size() - stop_prefix_suffix(seq.text, o.stop_strings);
    JobEvent e;
    e.sequence = seq.index;
    e.tokens = static_cast<int64_t>(seq.tokens.size());
    if (safe > seq.sent) {
        e.text = seq.text.substr(seq.sent, safe - seq.sent);
        seq.sent = safe;
    }
    events.push_back(std::move(e));
}

void Scheduler::finish_sequence(Running& r, Sequence& seq, std::vector<JobEvent>& events) {
    if (seq.finish_reason.empty()) seq.finish_reason = "stop";
    if (seq.finish_reason == "length") seq.text += seq.decoder->flush();
    JobEvent e;
    e.sequence = seq.index;
    e.tokens = static_cast<int64_t>(seq.tokens.size());
    e.text = seq.text.substr(std::min(seq.sent, seq.text.size()));
    seq.sent = seq.text.size();
    e.finished = true;
    e.result.tokens = seq.tokens;
    e.result.text = seq.text;
    e.result.finish_reason = seq.finish_reason;
    e.result.cache = seq.evictor->stats();
    events.push_back(std::move(e));
    release(r, seq);
}

void Scheduler::release(Running& r, Sequence& seq) {
    // Memory goes back at once, so a waiting request can be admitted before
    // the rest of this job ends.
    seq.done = true;
    seq.cache.reset();
    seq.evictor.reset();
    seq.sampler.reset();
    seq.decoder.reset();
    std::vector<int32_t>().swap(seq.tokens);
    std::string().swap(seq.text);
    if (!seq.live) return;
    seq.live = false;
    std::lock_guard<std::mutex> lock(mutex_);
    reserved_seqs_ -= 1;
    reserved_bytes_ -= seq.reserved;
    allocated_bytes_ -= seq.allocated;
}

void Scheduler::end_job(Running& r, const std::string& message) {
    r.make_sequences();
    for (Sequence& seq : r.sequences) release(r, seq);
    r.ended = true;
    r.job->end(message);
}

void Scheduler::fail_job(Running& r, const std::string& message) {
    end_job(r, message.empty() ? std::string("internal error") : message);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.jobs_failed += 1;
}

void Scheduler::drop_cancelled() {
    for (auto& r : running_) {
        if (r->ended || !r->job->cancelled() || r->all_done()) continue;
        end_job(*r, "cancelled");
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.jobs_cancelled += 1;
    }
}

void Scheduler::retire_finished() {
    for (auto it = running_.begin(); it != running_.end();) {
        Running& r = **it;
        if (!r.ended && !r.all_done()) {
            ++it;
            continue;
        }
        if (!r.ended) {
            r.job->end("");
            std::lock_guard<std::mutex> lock(mutex_);
            stats_.jobs_completed += 1;
        }
        it = running_.erase(it);
    }
}

}  // namespace vase
