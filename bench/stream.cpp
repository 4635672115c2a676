// STREAM-style memory bandwidth: the ceiling for decode, whose matvecs read
// every weight once per token. Kernels over arrays far larger than the caches:
//   read   s += a[i]             (bytes: 8 per element)
//   copy   b[i] = a[i]           (16: read + write, write-allocate not counted)
//   triad  a[i] = b[i] + q*c[i]  (24)
// Each thread owns a contiguous slice of every array (first touched by that
// thread). Prints best and median GB/s (1e9 bytes/s) over the repetitions.
//
//   vase_stream [--threads N] [--mib-per-array M] [--reps R]
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
    int threads = 2;
    int64_t mib_per_array = 512;  // three arrays: 1.5 GiB in all
    int reps = 10;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> long long {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "vase_stream: %s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return std::atoll(argv[++i]);
        };
        if (arg == "--threads") {
            o.threads = static_cast<int>(value());
        } else if (arg == "--mib-per-array") {
            o.mib_per_array = value();
        } else if (arg == "--reps") {
            o.reps = static_cast<int>(value());
        } else {
            std::fprintf(stderr,
                         "usage: vase_stream [--threads N] [--mib-per-array M] [--reps R]\n");
            std::exit(2);
        }
    }
    if (o.threads < 1 || o.mib_per_array < 1 || o.reps < 1) {
        std::fprintf(stderr, "vase_stream: --threads, --mib-per-array and --reps must be >= 1\n");
        std::exit(2);
    }
    return o;
}

// The read kernel: eight independent sums so the loop is bound by loads, not
// by add latency; integer adds so the compiler may vectorise freely.
__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t read_sum(const uint64_t* a,
                                                                               int64_t n) {
    uint64_t s[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += a[i + j];
    for (; i < n; ++i) s[0] += a[i];
    uint64_t t = 0;
    for (uint64_t v : s) t += v;
    return t;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void copy(const double* a, double* b,
                                                                       int64_t n) {
    for (int64_t i = 0; i < n; ++i) b[i] = a[i];
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void triad(double* a, const double* b,
                                                                        const double* c, double q,
                                                                        int64_t n) {
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
}

struct Aligned {
    void operator()(void* p) const { std::free(p); }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const int64_t n = o.mib_per_array * (1 << 20) / 8;  // elements per array
    const size_t bytes = static_cast<size_t>(n) * 8;
    std::unique_ptr<double, Aligned> a(static_cast<double*>(std::aligned_alloc(4096, bytes)));
    std::unique_ptr<double, Aligned> b(static_cast<double*>(std::aligned_alloc(4096, bytes)));
    std::unique_ptr<double, Aligned> c(static_cast<double*>(std::aligned_alloc(4096, bytes)));
    if (!a || !b || !c) {
        std::fprintf(stderr, "vase_stream: cannot allocate 3 x %lld MiB\n",
                     static_cast<long long>(o.mib_per_array));
        return 1;
    }

    enum Kernel { kInit, kRead, kCopy, kTriad };
    const char* names[] = {"init", "read", "copy", "triad"};
    const double bytes_per_elem[] = {24, 8, 16, 24};
    std::vector<uint64_t> sink(o.threads);

    // One pass of `kernel` over all arrays by all threads; returns seconds.
    auto pass = [&](Kernel kernel) {
        std::barrier start(o.threads + 1);
        std::vector<std::thread> threads;
        for (int t = 0; t < o.threads; ++t) {
            threads.emplace_back([&, t] {
                int64_t i0 = n * t / o.threads, i1 = n * (t + 1) / o.threads, len = i1 - i0;
                start.arrive_and_wait();
                switch (kernel) {
                    case kInit:
                        for (int64_t i = i0; i < i1; ++i)
                            a.get()[i] = 1.0, b.get()[i] = 2.0, c.get()[i] = 0.5;
                        break;
                    case kRead:
                        sink[t] += read_sum(reinterpret_cast<const uint64_t*>(a.get() + i0), len);
                        break;
                    case kCopy:
                        copy(a.get() + i0, b.get() + i0, len);
                        break;
                    case kTriad:
                        triad(a.get() + i0, b.get() + i0, c.get() + i0, 0.5, len);
                        break;
                }
            });
        }
        start.arrive_and_wait();
        auto t0 = std::chrono::steady_clock::now();
        for (auto& th : threads) th.join();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    pass(kInit);  // first touch: each thread's slice lands near it
    std::printf("vase_stream: %d threads, 3 arrays x %lld MiB, %d repetitions\n", o.threads,
                static_cast<long long>(o.mib_per_array), o.reps);
    std::printf("%-8s %12s %12s\n", "kernel", "best GB/s", "median GB/s");
    for (Kernel k : {kRead, kCopy, kTriad}) {
        std::vector<double> rates;
        for (int r = 0; r < o.reps; ++r) rates.push_back(bytes_per_elem[k] * n / pass(k) / 1e9);
        std::printf("%-8s %12.1f %12.1f\n", names[k], *std::max_element(rates.begin(), rates.end()),
                    median(rates));
    }
    uint64_t checksum = 0;
    for (uint64_t s : sink) checksum += s;
    return checksum == 42 ? 3 : 0;  // keeps the reads observable
}
