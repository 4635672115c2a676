// What a request reserves at admission covers what its sequences really
// allocate: the global operator new counts live heap bytes, and the peak a
// job adds while it runs (caches, eviction scratch, samplers, decoders, text,
// events) must stay within Scheduler::reservation(), for every policy and
// cache type.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>

#include "../engine/test_model.h"
#include "engine/scheduler.h"
#include "kv/params.h"

namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void count(int64_t delta) {
    const int64_t now = g_live.fetch_add(delta) + delta;
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
}
}  // namespace

void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    count(static_cast<int64_t>(malloc_usable_size(p)));
    return p;
}
void* operator new[](std::size_t size) {
    return operator new(size);
}
void operator delete(void* p) noexcept {
    if (p == nullptr) return;
    count(-static_cast<int64_t>(malloc_usable_size(p)));
    std::free(p);
}
void operator delete[](void* p) noexcept {
    operator delete(p);
}
void operator delete(void* p, std::size_t) noexcept {
    operator delete(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    operator delete(p);
}

namespace vase {
namespace {

using namespace std::chrono_literals;

struct Case {
    std::string policy;
    DType kv_type;
    float temperature;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    for (auto name : eviction_policy_names()) {
        out.push_back({std::string(name), DType::F16, 0.7f});
        // f32 caches need no f32 copies for eviction; greedy needs no sampler buffers.
        if (name == "full" || name == "vase" || name == "quest")
            out.push_back({std::string(name), DType::F32, 0.0f});
    }
    return out;
}

// One test over every case: one process, one model (gtest_discover_tests runs
// each test in a process of its own).
void check(const Case& c) {
    SCOPED_TRACE(c.policy + (c.kv_type == DType::F16 ? " f16" : " f32"));
    static Engine engine(testing::tiny_model_dir(), 2);
    static Scheduler scheduler(engine, [] {
        SchedulerOptions so;
        so.max_seqs = 4;
        so.kv.budget = 64;
        so.kv.window = 16;
        return so;
    }());
    GenerateOptions o;
    o.max_new_tokens = 120;  // passes at 80, 96, 112 slots
    o.ignore_eos = true;
    o.sampling.temperature = c.temperature;
    o.sampling.top_k = 300;  // the sampler's larger top-k buffer
    o.kv.policy = c.policy;
    o.kv.budget = 64;
    o.kv.window = 16;
    o.kv.n_large = 16;
    o.kv_type = c.kv_type;
    const std::vector<int32_t> prompt = {9707, 11,   1879, 0,   40,   1079,
                                         264,  1273, 315,  279, 1849, 13};
    JobRequest request{prompt, o, 2};
    const uint64_t reserved = scheduler.reservation(request);

    std::vector<JobEvent> events;
    events.reserve(1024);
    const int64_t before = g_live.load();
    g_peak = before;
    auto job = scheduler.submit(request);
    ASSERT_NE(job, nullptr);
    while (job->wait(events, 50ms)) events.clear();
    ASSERT_EQ(job->error(), "");
    events.clear();
    const int64_t added = g_peak.load() - before;
    EXPECT_GT(static_cast<uint64_t>(added), reserved / 4)
        << "the reservation is not far off either";
    EXPECT_LE(static_cast<uint64_t>(added), reserved)
        << c.policy << ": the job allocated " << added << " bytes at its peak but reserved "
        << reserved;
}

TEST(Reservation, CoversPeakAllocationsOfEveryPolicy) {
    for (const Case& c : cases()) check(c);
}

}  // namespace
}  // namespace vase
