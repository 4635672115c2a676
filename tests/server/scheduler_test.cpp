// The continuous-batching scheduler (src/engine/scheduler.cpp) on a tiny
// random model: a job that runs alone produces generate()'s tokens, text,
// finish reasons and cache statistics; several jobs decode together within
// the memory limit; the queue is bounded; a cancelled job frees its memory.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../engine/test_model.h"
#include "engine/scheduler.h"
#include "util/error.h"

namespace vase {
namespace {

using namespace std::chrono_literals;

Engine& engine() {
    static Engine e(testing::tiny_model_dir(), 2);
    return e;
}

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 40, 1079, 264, 1273, 315, 279, 1849, 13};

GenerateOptions options(const std::string& policy, float temperature, int64_t n_new,
                        uint64_t seed) {
    GenerateOptions o;
    o.max_new_tokens = n_new;
    o.ignore_eos = true;
    o.sampling.temperature = temperature;
    o.sampling.top_k = 20;
    o.sampling.top_p = 0.95f;
    o.sampling.seed = seed;
    o.kv.policy = policy;
    o.kv.budget = 32;
    o.kv.window = 8;
    o.kv.n_large = 8;
    o.kv.seed = seed;
    return o;
}

struct Collected {
    std::vector<std::string> texts;  // per sequence, from the events
    std::vector<GenerationResult> results;
    std::string error;
};

// Takes every event of a job, as the HTTP layer does.
Collected collect(Job& job, int n) {
    Collected c;
    c.texts.resize(static_cast<size_t>(n));
    c.results.resize(static_cast<size_t>(n));
    std::vector<JobEvent> events;
    bool more = true;
    while (more) {
        more = job.wait(events, 100ms);
        for (JobEvent& e : events) {
            c.texts[static_cast<size_t>(e.sequence)] += e.text;
            if (e.finished) c.results[static_cast<size_t>(e.sequence)] = e.result;
        }
        events.clear();
    }
    c.error = job.error();
    return c;
}

SchedulerOptions scheduler_options(int max_seqs = 8, int max_queue = 16) {
    SchedulerOptions so;
    so.max_seqs = max_seqs;
    so.max_queue = max_queue;
    so.kv.budget = 64;
    so.kv.window = 16;
    so.kv_type = DType::F32;
    return so;
}

struct Case {
    const char* policy;
    float temperature;
    int n;
};

void expect_alone_matches_generate(const Case& c) {
    SCOPED_TRACE(std::string(c.policy) + " T=" + std::to_string(c.temperature) +
                 " n=" + std::to_string(c.n));
    GenerateOptions o = options(c.policy, c.temperature, 90, 17);
    const std::vector<GenerationResult> want =
        generate(engine(), kPrompt, o, c.n, nullptr, nullptr);
    Scheduler scheduler(engine(), scheduler_options());
    auto job = scheduler.submit(JobRequest{kPrompt, o, c.n});
    ASSERT_NE(job, nullptr);
    const Collected got = collect(*job, c.n);
    ASSERT_EQ(got.error, "");
    for (int s = 0; s < c.n; ++s) {
        const GenerationResult& w = want[static_cast<size_t>(s)];
        const GenerationResult& g = got.results[static_cast<size_t>(s)];
        EXPECT_EQ(g.tokens, w.tokens) << "sequence " << s;
        EXPECT_EQ(g.text, w.text);
        EXPECT_EQ(got.texts[static_cast<size_t>(s)], w.text) << "the events add up to the text";
        EXPECT_EQ(g.finish_reason, w.finish_reason);
        EXPECT_EQ(g.cache.eviction_passes, w.cache.eviction_passes);
        EXPECT_EQ(g.cache.tokens_evicted, w.cache.tokens_evicted);
        EXPECT_EQ(g.cache.capacity, w.cache.capacity);
    }
    if (std::string(c.policy) != "full" && std::string(c.policy) != "quest") {
        EXPECT_GT(want[0].cache.eviction_passes, 0) << "the case should evict";
    }
}

TEST(Scheduler, AloneMatchesGenerateTokensTextAndCacheStatistics) {
    for (const Case& c :
         {Case{"full", 0.0f, 1}, Case{"vase", 0.0f, 1}, Case{"vase", 0.8f, 1},
          Case{"snapkv", 0.8f, 2}, Case{"full", 0.8f, 3}, Case{"streaming", 0.0f, 2},
          Case{"quest", 0.0f, 1}, Case{"rkv", 0.8f, 1}}) {
        expect_alone_matches_generate(c);
    }
}

// Stop strings cut the text where generate() cuts it, and no event ever
// carries text past the cut.
TEST(Scheduler, StopStringsAsGenerate) {
    GenerateOptions o = options("full", 0.8f, 60, 3);
    const GenerationResult plain = generate(engine(), kPrompt, o, 1, nullptr, nullptr)[0];
    ASSERT_GT(plain.text.size(), 40u);
    // A stop string from the middle of the text, beginning at a character.
    size_t at = 20;
    while (at < plain.text.size() && (static_cast<unsigned char>(plain.text[at]) & 0xC0) == 0x80)
        ++at;
    size_t end = at + 1;
    while (end < plain.text.size() && (static_cast<unsigned char>(plain.text[end]) & 0xC0) == 0x80)
        ++end;
    o.stop_strings = {"never appears \x01", plain.text.substr(at, end - at + 2)};
    const GenerationResult want = generate(engine(), kPrompt, o, 1, nullptr, nullptr)[0];
    ASSERT_EQ(want.finish_reason, "stop");
    Scheduler scheduler(engine(), scheduler_options());
    auto job = scheduler.submit(JobRequest{kPrompt, o, 1});
    ASSERT_NE(job, nullptr);
    const Collected got = collect(*job, 1);
    EXPECT_EQ(got.results[0].tokens, want.tokens);
    EXPECT_EQ(got.results[0].text, want.text);
    EXPECT_EQ(got.texts[0], want.text);
    EXPECT_EQ(got.results[0].finish_reason, "stop");
}

// Many jobs at once: all finish with their own lengths, together never more
// than max_seqs sequences, and the reservations stay within the limit.
TEST(Scheduler, ConcurrentJobsShareTheSteps) {
    SchedulerOptions so = scheduler_options(4, 16);
    Scheduler scheduler(engine(), so);
    std::vector<std::shared_ptr<Job>> jobs;
    std::vector<int64_t> lengths;
    std::vector<int> ns;
    for (int i = 0; i < 8; ++i) {
        std::vector<int32_t> prompt(kPrompt.begin(), kPrompt.begin() + 3 + i);
        GenerateOptions o =
            options(i % 2 ? "vase" : "full", 0.7f, 20 + 7 * i, static_cast<uint64_t>(i));
        const int n = 1 + i % 2;
        jobs.push_back(scheduler.submit(JobRequest{prompt, o, n}));
        ASSERT_NE(jobs.back(), nullptr);
        lengths.push_back(o.max_new_tokens);
        ns.push_back(n);
    }
    int64_t total = 0;
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done) {
            const SchedulerStats s = scheduler.stats();
            EXPECT_LE(s.active_sequences, so.max_seqs);
            EXPECT_LE(s.kv_reserved_bytes, s.kv_limit_bytes);
            std::this_thread::sleep_for(1ms);
        }
    });
    for (size_t i = 0; i < jobs.size(); ++i) {
        const Collected c = collect(*jobs[i], ns[i]);
        EXPECT_EQ(c.error, "");
        for (int s = 0; s < ns[i]; ++s) {
            EXPECT_EQ(static_cast<int64_t>(c.results[static_cast<size_t>(s)].tokens.size()),
                      lengths[i]);
            EXPECT_EQ(c.results[static_cast<size_t>(s)].finish_reason, "length");
            EXPECT_EQ(c.texts[static_cast<size_t>(s)], c.results[static_cast<size_t>(s)].text);
            total += lengths[i];
        }
    }
    done = true;
    watcher.join();
    const SchedulerStats s = scheduler.stats();
    EXPECT_EQ(s.jobs_completed, 8);
    EXPECT_EQ(s.generated_tokens, total);
    EXPECT_EQ(s.active_sequences, 0);
    EXPECT_EQ(s.kv_reserved_bytes, 0u);
    EXPECT_EQ(s.kv_allocated_bytes, 0u);
    EXPECT_LT(s.decode_steps, total) << "sequences decoded together";
}

TEST(Scheduler, QueueIsBoundedAndCancelFreesAtOnce) {
    SchedulerOptions so = scheduler_options(1, 1);
    so.kv_memory = uint64_t{64} << 20;
    Scheduler scheduler(engine(), so);
    GenerateOptions o = options("full", 0.7f, 5000, 1);
    auto a = scheduler.submit(JobRequest{kPrompt, o, 1});
    auto b = scheduler.submit(JobRequest{kPrompt, o, 1});
    auto c = scheduler.submit(JobRequest{kPrompt, o, 1});
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(c, nullptr) << "one running, one waiting: the third is refused";
    EXPECT_EQ(scheduler.stats().queued_jobs, 1);
    EXPECT_EQ(scheduler.stats().jobs_refused, 1);

    // Cancelling the running job lets the waiting one in; cancelling that one
    // empties the server.
    a->cancel();
    std::vector<JobEvent> events;
    while (a->wait(events, 100ms)) {
    }
    EXPECT_EQ(a->error(), "cancelled");
    // The engine thread admits the waiting job between steps; on a loaded
    // machine that can take a while, so poll (bounded) rather than guess.
    for (int i = 0; i < 3000 && (scheduler.stats().queued_jobs != 0 ||
                                 scheduler.stats().active_sequences != 1);
         ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(scheduler.stats().queued_jobs, 0);
    EXPECT_EQ(scheduler.stats().active_sequences, 1);
    b->cancel();
    while (b->wait(events, 100ms)) {
    }
    for (int i = 0; i < 3000 && (scheduler.stats().active_sequences != 0 ||
                                 scheduler.stats().kv_reserved_bytes != 0 ||
                                 scheduler.stats().jobs_cancelled != 2);
         ++i)
        std::this_thread::sleep_for(10ms);
    const SchedulerStats s = scheduler.stats();
    EXPECT_EQ(s.active_sequences, 0);
    EXPECT_EQ(s.kv_reserved_bytes, 0u);
    EXPECT_EQ(s.kv_allocated_bytes, 0u);
    EXPECT_EQ(s.jobs_cancelled, 2);
    // A job cancelled while it waits never runs.
    auto d = scheduler.submit(JobRequest{kPrompt, o, 1});
    auto e = scheduler.submit(JobRequest{kPrompt, o, 1});
    e->cancel();
    d->cancel();
    while (e->wait(events, 100ms)) {
    }
    EXPECT_EQ(e->error(), "cancelled");
}

TEST(Scheduler, MemoryLimitAdmitsWhatFitsAndRefusesWhatNeverFits) {
    SchedulerOptions so = scheduler_options(8, 16);
    GenerateOptions o = options("full", 0.7f, 300, 1);
    Scheduler probe(engine(), so);
    const uint64_t one = probe.reservation(JobRequest{kPrompt, o, 1});
    so.kv_memory = 2 * one + one / 2;  // room for two sequences
    Scheduler scheduler(engine(), so);
    EXPECT_EQ(scheduler.kv_limit_bytes(), so.kv_memory);
    std::vector<std::shared_ptr<Job>> jobs;
    for (int i = 0; i < 4; ++i) jobs.push_back(scheduler.submit(JobRequest{kPrompt, o, 1}));
    const SchedulerStats s = scheduler.stats();
    EXPECT_EQ(s.active_sequences, 2);
    EXPECT_EQ(s.queued_jobs, 2);
    EXPECT_EQ(s.kv_reserved_bytes, 2 * one);
    for (auto& j : jobs) EXPECT_EQ(collect(*j, 1).error, "");
    // n = 3 needs three sequences' memory: never admissible here.
    EXPECT_THROW(scheduler.submit(JobRequest{kPrompt, o, 3}), Error);
    // Requests that can never run are refused up front.
    EXPECT_THROW(scheduler.submit(JobRequest{{}, o, 1}), Error);
    EXPECT_THROW(scheduler.submit(JobRequest{kPrompt, o, 9}), Error);  // n > max_seqs
    GenerateOptions too_long = o;
    too_long.max_new_tokens = engine().config().max_position_embeddings;
    EXPECT_THROW(scheduler.submit(JobRequest{kPrompt, too_long, 1}), Error);
    EXPECT_THROW(scheduler.submit(JobRequest{{-1}, o, 1}), Error);
    GenerateOptions bad_kv = o;
    bad_kv.kv.budget = 10;
    EXPECT_THROW(scheduler.submit(JobRequest{kPrompt, bad_kv, 1}), Error);
}

// The default limit is max_seqs seats, a seat being a sequence whose cache
// holds budget + window slots.
TEST(Scheduler, DefaultLimitIsMaxSeqsSeats) {
    SchedulerOptions so = scheduler_options(3, 1);
    Scheduler scheduler(engine(), so);
    EXPECT_EQ(scheduler.kv_limit_bytes(), 3 * scheduler.seat_bytes());
    GenerateOptions o = options("full", 0.7f, 0, 1);
    o.kv = so.kv;
    o.kv_type = so.kv_type;
    o.max_new_tokens = so.kv.budget + so.kv.window - 1;
    const JobRequest seat{{1}, o, 1};
    EXPECT_EQ(scheduler.reservation(seat), scheduler.seat_bytes());
}

}  // namespace
}  // namespace vase
