#include "ops/thread_pool.h"

#include <chrono>
#include <thread>

namespace vase {
namespace {

// How long a thread busy-waits before it blocks. Long enough to bridge the
// gaps between the kernels of one decode step, short enough not to burn a
// core when the pool is idle.
constexpr auto kSpinTime = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Spins until done() or kSpinTime has passed; returns done(). After a few
// pauses (~0.5 us) it yields between polls: on a busy machine the scheduler
// often puts the pool's threads on one core, and then the thread we wait
// for runs only when we give the core up. On an idle core yield returns at once.
template <typename Done>
bool spin_until(Done done) {
    auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 1;; ++i) {
        if (done()) return true;
        if (i < 16) {
            cpu_relax();
            continue;
        }
        std::this_thread::yield();
        if ((i & 15) == 0 && std::chrono::steady_clock::now() - start > kSpinTime) return done();
    }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    if (workers_.empty()) return;
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes stop_
    generation_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::dispatch(Task task, void* ctx) {
    if (n_threads_ == 1) {
        task(ctx, 0, 1);
        return;
    }
    task_ = task;
    ctx_ = ctx;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    // seq_cst pairs with the sleeping_workers_ increment in worker(): either
    // the worker sees the new generation or we see it asleep and wake it.
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleeping_workers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();

    task(ctx, 0, n_threads_);

    auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (spin_until(all_done)) return;
    caller_sleeping_.store(1, std::memory_order_seq_cst);
    for (int p; (p = pending_.load(std::memory_order_seq_cst)) != 0;) pending_.wait(p);
    caller_sleeping_.store(0, std::memory_order_relaxed);
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
        if (!spin_until(changed)) {
            sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
            while (generation_.load(std::memory_order_seq_cst) == seen) generation_.wait(seen);
            sleeping_workers_.fetch_sub(1, std::memory_order_relaxed);
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_) return;
        task_(ctx_, index, n_threads_);
        // acq_rel: our writes (the task's results) happen before the caller's
        // acquire load of pending_ == 0.
        if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
            caller_sleeping_.load(std::memory_order_seq_cst)) {
            pending_.notify_one();
        }
    }
}

}  // namespace vase
