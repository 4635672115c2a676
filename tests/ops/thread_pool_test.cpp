// ThreadPool: every index runs exactly once per dispatch, parallel_for covers
// its range exactly once with grain-aligned chunks, results written by
// workers are visible to the caller, and workers that fell asleep wake up.
#include "ops/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace vase {
namespace {

class ThreadPoolTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolTest, RunCallsEveryIndexOnce) {
    ThreadPool pool(GetParam());
    ASSERT_EQ(pool.size(), GetParam());
    std::vector<std::atomic<int>> calls(GetParam());
    std::atomic<int> bad_count{0};
    for (int rep = 0; rep < 100; ++rep) {
        pool.run([&](int index, int count) {
            if (count != GetParam()) ++bad_count;
            ++calls[index];
        });
    }
    EXPECT_EQ(bad_count.load(), 0);
    for (auto& c : calls) EXPECT_EQ(c.load(), 100);
}

TEST_P(ThreadPoolTest, ParallelForCoversRangeOnceWithAlignedChunks) {
    ThreadPool pool(GetParam());
    for (int64_t n : {0, 1, 2, 5, 16, 17, 100, 1001}) {
        for (int64_t grain : {0, 1, 4, 16, 64}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            std::atomic<int> misaligned{0};
            pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
                if (grain > 1 && begin % grain != 0) ++misaligned;
                for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
            });
            EXPECT_EQ(misaligned.load(), 0) << n << " " << grain;
            for (int64_t i = 0; i < n; ++i) {
                ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << grain << " " << i;
            }
        }
    }
}

TEST_P(ThreadPoolTest, WorkerResultsVisibleAfterEachDispatch) {
    // Plain (non-atomic) writes by the workers must be visible to the caller
    // after run() returns: run() is a full barrier. Many quick dispatches.
    ThreadPool pool(GetParam());
    std::vector<int64_t> slot(static_cast<size_t>(GetParam()), 0);
    int64_t expected = 0;
    for (int64_t rep = 1; rep <= 3000; ++rep) {
        pool.run([&](int index, int) { slot[static_cast<size_t>(index)] += rep; });
        expected += rep;
    }
    for (int64_t v : slot) EXPECT_EQ(v, expected);
}

TEST_P(ThreadPoolTest, WakesWorkersThatFellAsleep) {
    // Pauses longer than the spin time send workers (and the caller) to the
    // blocking path; every dispatch must still complete.
    ThreadPool pool(GetParam());
    std::atomic<int> total{0};
    for (int rep = 0; rep < 5; ++rep) {
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        pool.run([&](int, int) { total += 1; });
    }
    // A task on a worker that outlasts the caller's spin: the caller blocks.
    pool.run([&](int index, int count) {
        if (index == count - 1) std::this_thread::sleep_for(std::chrono::milliseconds(3));
        total += 1;
    });
    EXPECT_EQ(total.load(), 6 * GetParam());
}

TEST_P(ThreadPoolTest, AcceptsNamedCallables) {
    ThreadPool pool(GetParam());
    std::atomic<int> sum{0};
    auto add = [&](int index, int) { sum += index + 1; };
    pool.run(add);  // an lvalue, not a temporary
    const auto range = [&](int64_t begin, int64_t end) { sum += static_cast<int>(end - begin); };
    pool.parallel_for(10, 1, range);
    int n = GetParam();
    EXPECT_EQ(sum.load(), n * (n + 1) / 2 + 10);
}

TEST_P(ThreadPoolTest, DestroysPoolWithSpinningOrSleepingWorkers) {
    // The destructor must wake and join workers in either state (a hang
    // here fails through the test timeout).
    std::atomic<int> calls{0};
    {
        ThreadPool pool(GetParam());
        pool.run([&](int, int) { ++calls; });
    }
    {
        ThreadPool pool(GetParam());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        pool.run([&](int, int) { ++calls; });
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(calls.load(), 2 * GetParam());
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadPoolTest, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& info) {
                             return std::to_string(info.param) + "threads";
                         });

TEST(ThreadPool, NonPositiveSizeMeansInline) {
    ThreadPool pool(0);
    EXPECT_EQ(pool.size(), 1);
    int calls = 0;
    pool.run([&](int index, int count) { calls += (index == 0 && count == 1); });
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace vase
