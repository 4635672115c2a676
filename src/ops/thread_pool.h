// A fixed set of worker threads, passed explicitly to every kernel that uses
// it (no global pool). run() and parallel_for() never allocate, so they can be
// used on the decode path.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
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
        auto trampoline = [](void* ctx, int index, int count) { (*static_cast<F*>(ctx))(index, count); };
        dispatch(trampoline, static_cast<void*>(&fn));
    }

    // Splits [0, n) into one contiguous chunk per thread, chunk starts
    // aligned to `grain`; calls fn(begin, end) for each non-empty chunk.
    template <typename F>
    void parallel_for(int64_t n, int64_t grain, F&& fn) {
        if (n <= 0) return;
        if (grain < 1) grain = 1;
        int64_t n_grains = (n + grain - 1) / grain;
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
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    Task task_ = nullptr;
    void* ctx_ = nullptr;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace vase
