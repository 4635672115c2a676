// A fixed set of worker threads, passed explicitly to every kernel that uses
// it (no global pool). run() and parallel_for() never allocate, so they can be
// used on the decode path.
//
// Decode issues a few hundred dispatches per token, tens of microseconds
// apart, so a dispatch must cost about a microsecond: workers spin on a
// generation counter for a short while after each task and only then block
// (futex via std::atomic::wait). The caller likewise spins, then blocks, until
// the workers are done. One thread at a time may call run(); the task must
// not throw.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace vase {

class ThreadPool {
  public:
    // n_threads counts the calling thread: ThreadPool(1) runs everything inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(thread_index, n_threads) once on every thread (the caller is
    // index 0) and returns when all have finished.
    template <typename F>
    void run(F&& fn) {
        using Fn = std::remove_reference_t<F>;
        auto trampoline = [](void* ctx, int index, int count) {
            (*static_cast<Fn*>(ctx))(index, count);
        };
        dispatch(trampoline, const_cast<void*>(static_cast<const void*>(&fn)));
    }

    // Splits [0, n) into one contiguous chunk per thread, chunk starts
    // aligned to `grain`; calls fn(begin, end) for each non-empty chunk.
    template <typename F>
    void parallel_for(int64_t n, int64_t grain, F&& fn) {
        if (n <= 0) return;
        if (grain < 1) grain = 1;
        int64_t n_grains = (n + grain - 1) / grain;
        if (n_grains == 1 || n_threads_ == 1) {  // nothing to share: no dispatch
            fn(int64_t{0}, n);
            return;
        }
        run([&](int index, int count) {
            int64_t g0 = n_grains * index / count;
            int64_t g1 = n_grains * (index + 1) / count;
            int64_t begin = g0 * grain;
            int64_t end = g1 * grain < n ? g1 * grain : n;
            if (begin < end) fn(begin, end);
        });
    }

  private:
    using Task = void (*)(void* ctx, int index, int count);
    void dispatch(Task task, void* ctx);
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    // Written by the caller before generation_ is bumped (release), read by
    // workers after they observe the new generation (acquire).
    Task task_ = nullptr;
    void* ctx_ = nullptr;
    bool stop_ = false;
    // Separate cache lines: workers poll generation_ while they decrement pending_.
    alignas(64) std::atomic<uint32_t> generation_{0};
    std::atomic<int> sleeping_workers_{0};
    alignas(64) std::atomic<int> pending_{0};
    std::atomic<int> caller_sleeping_{0};
};

}  // namespace vase
