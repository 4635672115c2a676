// Continuous batching for a server: one engine thread decodes every admitted
// sequence together (one Qwen3Forward row per sequence and step) and prefills
// new requests in chunks between steps. Each sequence's memory is reserved
// when its request is admitted, against a fixed total; a request that does not
// fit waits in a bounded FIFO queue, and one that finds the queue full is
// refused, so the server never runs out of memory.
//
// A sequence is computed exactly as generate() computes it (same prefill
// chunks, per-sequence caches, evictors, samplers and seeds, same stop rules),
// so a request decoding alone produces generate()'s tokens. Decoding beside
// other requests changes the batch shape of the matrix products, which may
// change the last bits of the logits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/generator.h"

namespace vase {

struct SchedulerOptions {
    int max_seqs = 8;    // sequences decoding at once (rows of a decode step), 1..64
    int max_queue = 16;  // requests waiting for admission; one more is refused
    // Bytes every admitted sequence together may reserve; 0: max_seqs seats
    // (see Scheduler::seat_bytes).
    uint64_t kv_memory = 0;
    EvictionParams kv;  // the server's default cache options: the size of a seat
    DType kv_type = DType::F16;
};

// n completions of one prompt, as generate(engine, prompt, options, n) makes them.
struct JobRequest {
    std::vector<int32_t> prompt;
    GenerateOptions options;  // `reference` and `sequence_seeds` are not used
    int n = 1;
};

// What the engine thread reports about one sequence of a job.
struct JobEvent {
    int sequence = 0;
    // New text that no stop string can cut any more (complete UTF-8); the
    // texts of a sequence's events add up to its result's text.
    std::string text;
    int64_t tokens = 0;     // tokens the sequence has generated so far
    bool finished = false;  // the last event of the sequence; `result` is set
    GenerationResult result;
};

// A submitted request, shared by the thread that submitted it and the engine thread.
class Job {
  public:
    // Moves the events reported since the last call into `out` (appended),
    // waiting up to `timeout` for one. Returns false once the job has ended
    // and every event has been taken.
    bool wait(std::vector<JobEvent>& out, std::chrono::milliseconds timeout);
    // The client went away: the engine drops the job (queued or running) and
    // frees its memory before its next step.
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }
    // Empty unless the engine failed on this job (an internal error).
    std::string error() const;
    int64_t prompt_tokens() const { return prompt_tokens_; }
    uint64_t reserved_bytes() const { return reserved_bytes_; }

  private:
    friend class Scheduler;
    void push(std::vector<JobEvent>& events);
    void end(const std::string& error);

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<JobEvent> events_;
    bool ended_ = false;
    std::string error_;
    std::atomic<bool> cancelled_{false};
    int64_t prompt_tokens_ = 0;
    uint64_t reserved_bytes_ = 0;
};

// Counters and gauges for /metrics.
struct SchedulerStats {
    int64_t jobs_submitted = 0;  // admitted or queued
    int64_t jobs_refused = 0;    // queue full
    int64_t jobs_completed = 0;
    int64_t jobs_cancelled = 0;
    int64_t jobs_failed = 0;
    int64_t prompt_tokens = 0;     // prompt tokens prefilled
    int64_t generated_tokens = 0;  // tokens sampled, all sequences
    int64_t decode_steps = 0;
    int64_t eviction_passes = 0;
    int64_t tokens_evicted = 0;    // per (layer, KV head), summed over sequences
    double tokens_per_second = 0;  // generated tokens over the last few seconds
    int active_sequences = 0;      // admitted and not finished (prefilling or decoding)
    int queued_jobs = 0;
    uint64_t kv_reserved_bytes = 0;   // reserved by admitted sequences
    uint64_t kv_allocated_bytes = 0;  // KV cache storage of live sequences
    uint64_t kv_limit_bytes = 0;
};

class Scheduler {
  public:
    // Starts the engine thread. Throws vase::Error for bad options.
    Scheduler(Engine& engine, const SchedulerOptions& options);
    ~Scheduler();  // cancels every job and joins the engine thread
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Admits or queues the request. Throws vase::Error if it can never run (a
    // bad value, longer than the model's context, n > max_seqs, or needing
    // more memory than the whole limit). Returns nullptr if the queue is full.
    std::shared_ptr<Job> submit(JobRequest request);

    // Bytes a request reserves: its KV caches, eviction scratch, samplers and
    // an allowance of kTextBytesPerToken per token it may generate.
    uint64_t reservation(const JobRequest& request) const;
    // The reservation of one sequence of the server's default options whose
    // cache holds budget + window slots; kv_memory = 0 means max_seqs seats.
    uint64_t seat_bytes() const;
    uint64_t kv_limit_bytes() const { return kv_limit_; }
    const SchedulerOptions& options() const { return options_; }
    SchedulerStats stats() const;

    static constexpr int kMaxSeqs = 64;                 // logit rows of one forward call
    static constexpr int64_t kPrefillChunk = 256;       // rows per prefill call, as generate()
    static constexpr uint64_t kTextBytesPerToken = 32;  // token id, text and its copies

  private:
    struct Sequence;
    struct Running;

    uint64_t sequence_bytes(const GenerateOptions& options, int64_t capacity) const;
    KvCacheShape cache_shape(const GenerateOptions& options, int64_t prompt_len) const;
    void loop();
    void admit_locked();
    void start(Running& job);
    void prefill_chunk(Running& job);
    void decode_step();
    // Samples a sequence's next token from `logits` and reports it.
    void take_token(Running& job, Sequence& seq, const float* logits,
                    std::vector<JobEvent>& events);
    void finish_sequence(Running& job, Sequence& seq, std::vector<JobEvent>& events);
    void drop_cancelled();
    void end_job(Running& job, const std::string& message);
    void fail_job(Running& job, const std::string& message);
    void release(Running& job, Sequence& seq);
    void retire_finished();
    void count_tokens(int64_t n);

    Engine& engine_;
    SchedulerOptions options_;
    uint64_t kv_limit_ = 0;
    int64_t vocab_;
    std::unique_ptr<Qwen3Forward> forward_;

    // Engine thread only.
    std::vector<std::unique_ptr<Running>> running_;  // admitted, in admission order
    std::vector<ForwardRow> rows_;                   // [max(max_seqs, kPrefillChunk)]
    std::vector<int32_t> row_tokens_;                // [max(max_seqs, kPrefillChunk)]
    std::vector<Sequence*> row_seq_;                 // [max_seqs]
    std::vector<Running*> row_job_;                  // [max_seqs]

    // Shared with the submitting threads, under mutex_.
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Running>> queue_;      // waiting for admission
    std::vector<std::unique_ptr<Running>> admitted_;  // handed to the engine thread
    bool stop_ = false;
    int reserved_seqs_ = 0;
    uint64_t reserved_bytes_ = 0;
    uint64_t allocated_bytes_ = 0;
    SchedulerStats stats_;
    // Generated tokens per second over a ring of one-second buckets.
    static constexpr int kRateSeconds = 5;
    int64_t rate_buckets_[kRateSeconds + 1] = {};
    int64_t rate_second_ = 0;
    std::chrono::steady_clock::time_point started_;

    std::thread thread_;
};

}  // namespace vase
