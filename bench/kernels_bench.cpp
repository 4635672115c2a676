// Kernel speed at Qwen3-0.6B shapes (hidden 1024, intermediate 3072,
// vocabulary 151936). Counters:
//   GB/s     weight bytes read per second (the decode ceiling is the memory
//            bandwidth that vase_stream measures),
//   GFLOP/s  2 * rows * cols * batch per second.
// Decode reads every matrix from memory, not from the caches: "cold"
// benchmarks cycle through enough copies of the matrix (>= 512 MiB) that
// none is still cached when it comes round again.
//
//   vase_kernels_bench [--threads=N] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <sys/mman.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kv/cache.h"
#include "kv/eviction.h"
#include "kv/policy.h"
#include "kv/scoring.h"
#include "ops/kernels.h"
#include "util/rng.h"

namespace vase {
namespace {

int g_threads = 2;

ThreadPool& pool() {
    static ThreadPool p(g_threads);
    return p;
}

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};
using Bytes = std::unique_ptr<uint8_t, FreeDeleter>;

Bytes alloc_bytes(size_t n) {
    return Bytes(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64)));
}

// The same in 2 MB-aligned memory advised for transparent huge pages.
Bytes alloc_huge(size_t n) {
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t m = (n + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, m);
    if (p != nullptr) madvise(p, m, MADV_HUGEPAGE);
    return Bytes(static_cast<uint8_t*>(p));
}

// Copies of one random weight matrix, kept between benchmark runs of the same
// shape (filling hundreds of MiB is slower than the measurement).
struct MatrixSet {
    DType type;
    int64_t rows = 0, cols = 0;
    uint64_t bytes = 0;
    std::vector<Bytes> copies;
};

const MatrixSet& matrices(DType type, int64_t rows, int64_t cols, bool cold) {
    static MatrixSet set;
    constexpr uint64_t kColdBytes = uint64_t{512} << 20;
    const uint64_t bytes = rows * dtype_row_bytes(type, cols);
    const size_t n_copies = cold ? static_cast<size_t>((kColdBytes + bytes - 1) / bytes) : 1;
    if (set.type != type || set.rows != rows || set.cols != cols || set.copies.size() < n_copies) {
        set = MatrixSet{type, rows, cols, bytes, {}};
        Bytes first = alloc_bytes(bytes);
        Rng rng(1);
        std::vector<float> row(cols);
        for (int64_t r = 0; r < rows; ++r) {
            for (auto& v : row) v = static_cast<float>(rng.uniform() - 0.5);
            quantize_row(type, row.data(), cols, first.get() + r * dtype_row_bytes(type, cols));
        }
        for (size_t i = 1; i < n_copies; ++i) {
            set.copies.push_back(alloc_bytes(bytes));
            std::memcpy(set.copies.back().get(), first.get(), bytes);
        }
        set.copies.push_back(std::move(first));
    }
    return set;
}

// Args: dtype, rows, cols, batch, cold.
void BM_matmul(benchmark::State& state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t rows = state.range(1), cols = state.range(2), batch = state.range(3);
    const bool cold = state.range(4) != 0;
    const MatrixSet& w = matrices(type, rows, cols, cold);
    std::vector<float> x(batch * cols, 0.25f), y(batch * rows);
    size_t next = 0;
    for (auto _ : state) {
        const void* wp = w.copies[next].get();
        next = next + 1 == w.copies.size() ? 0 : next + 1;
        matmul(pool(), type, wp, rows, cols, x.data(), batch, y.data());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.bytes) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * rows * cols * batch,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(dtype_name(type)) + (cold ? " cold" : " hot") + " " +
                   simd_target_name());
}

void matmul_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dtype", "rows", "cols", "batch", "cold"});
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
        for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1024, 1024},
                                  {3072, 1024},
                                  {1024, 3072},
                                  {151936, 1024}}) {
            for (int64_t batch : {1, 16}) {
                b->Args({static_cast<int64_t>(t), rows, cols, batch, 1});
            }
        }
    }
    // Hot: the matrix stays in L2/L3, so the figure is the kernel's arithmetic limit.
    for (DType t : {DType::F32, DType::BF16, DType::Q8_0}) {
        for (int64_t batch : {1, 16}) b->Args({static_cast<int64_t>(t), 256, 1024, batch, 0});
    }
}
BENCHMARK(BM_matmul)->Apply(matmul_args)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Prefill: one chunk of 512 activation rows against each weight shape of a
// Qwen3-0.6B layer (the weights are read once per call; the figure is
// arithmetic, GFLOP/s). Args: dtype, rows, cols, batch, bf16 (1 = the
// AVX-512 BF16 path where the CPU has it, 0 = switched off).
void BM_prefill_matmul(benchmark::State& state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t rows = state.range(1), cols = state.range(2), batch = state.range(3);
    enable_bf16_gemm(state.range(4) != 0);
    const MatrixSet& w = matrices(type, rows, cols, false);
    std::vector<float> x(batch * cols), y(batch * rows);
    Rng rng(4);
    for (auto& v : x) v = static_cast<float>(rng.uniform() - 0.5);
    for (auto _ : state) {
        matmul(pool(), type, w.copies[0].get(), rows, cols, x.data(), batch, y.data());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * rows * cols * batch,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    const bool bf16_x = (type == DType::BF16 || type == DType::Q8_0) &&
                        batch >= kBf16GemmMinBatch && bf16_gemm_enabled();
    state.SetLabel(std::string(dtype_name(type)) + (bf16_x ? " bf16-x" : " f32-x") + " " +
                   simd_target_name());
    enable_bf16_gemm(true);
}

void prefill_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dtype", "rows", "cols", "batch", "bf16"});
    for (auto [rows, cols] :
         {std::pair<int64_t, int64_t>{2048, 1024}, {1024, 1024}, {3072, 1024}, {1024, 3072}}) {
        b->Args({static_cast<int64_t>(DType::BF16), rows, cols, 512, 1});
        b->Args({static_cast<int64_t>(DType::BF16), rows, cols, 512, 0});
        b->Args({static_cast<int64_t>(DType::F16), rows, cols, 512, 0});
        b->Args({static_cast<int64_t>(DType::Q8_0), rows, cols, 512, 1});
        b->Args({static_cast<int64_t>(DType::Q8_0), rows, cols, 512, 0});
    }
    // Small batches (several sequences decoding): where the bf16 path starts.
    for (int64_t batch : {8, 16}) {
        b->Args({static_cast<int64_t>(DType::BF16), 3072, 1024, batch, 1});
        b->Args({static_cast<int64_t>(DType::BF16), 3072, 1024, batch, 0});
    }
}
BENCHMARK(BM_prefill_matmul)->Apply(prefill_args)->UseRealTime()->Unit(benchmark::kMillisecond);

// The matmuls of one decode step of Qwen3-0.6B (28 layers of q, k, v, o,
// gate, up, down, then the 151936-row lm_head), every matrix distinct, so
// the step streams the whole model (1.19 GB BF16, 0.63 GB Q8_0) as real
// decode does. Tokens/s here is the ceiling the matmuls leave for decode.
// Arg huge: the weights in 4 KB pages (0, as the engine's file map) or in
// transparent huge pages (1); compare the two with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N.
// On 2026-12-02 they differed by less than the host's noise (medians within
// -16 % to +10 % of each other, either way round), so the engine keeps
// mapping its weights. Arg offset: every matrix starts that many bytes past a
// 64-byte line; 32 is where a GGUF file with the default alignment puts its
// tensors (and where the engine reads them from its map).
void BM_decode_matmuls(benchmark::State& state) {
    const auto type = static_cast<DType>(state.range(0));
    const bool huge = state.range(1) != 0;
    const int64_t offset = state.range(2);
    struct Shape {
        int64_t rows, cols;
    };
    std::vector<Shape> shapes;
    for (int layer = 0; layer < 28; ++layer) {
        for (Shape sh : {Shape{2048, 1024}, Shape{1024, 1024}, Shape{1024, 1024}, Shape{1024, 2048},
                         Shape{3072, 1024}, Shape{3072, 1024}, Shape{1024, 3072}}) {
            shapes.push_back(sh);
        }
    }
    shapes.push_back({151936, 1024});
    static DType cached_type[2][2] = {{DType::F32, DType::F32}, {DType::F32, DType::F32}};
    static std::vector<Bytes> weight_sets[2][2];
    std::vector<Bytes>& weights = weight_sets[huge][offset != 0];
    DType& cached = cached_type[huge][offset != 0];
    uint64_t total = 0;
    for (const Shape& sh : shapes) total += sh.rows * dtype_row_bytes(type, sh.cols);
    if (weights.empty() || cached != type) {
        weights.clear();
        cached = type;
        Rng rng(3);
        std::vector<float> row(3072);
        for (const Shape& sh : shapes) {
            const uint64_t stride = dtype_row_bytes(type, sh.cols);
            const size_t bytes = sh.rows * stride + 64;
            weights.push_back(huge ? alloc_huge(bytes) : alloc_bytes(bytes));
            for (int64_t r = 0; r < sh.rows; ++r) {
                for (int64_t c = 0; c < sh.cols; ++c)
                    row[c] = static_cast<float>(rng.uniform() - 0.5);
                quantize_row(type, row.data(), sh.cols, weights.back().get() + offset + r * stride);
            }
        }
    }
    std::vector<float> x(3072, 0.1f), y(151936);
    for (auto _ : state) {
        for (size_t i = 0; i < shapes.size(); ++i) {
            matmul(pool(), type, weights[i].get() + offset, shapes[i].rows, shapes[i].cols,
                   x.data(), 1, y.data());
        }
        benchmark::ClobberMemory();
    }
    state.counters["tok/s"] =
        benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(total) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(dtype_name(type)) + (huge ? " huge pages " : " 4K pages ") +
                   std::to_string(shapes.size()) + " matmuls " + simd_target_name());
}
BENCHMARK(BM_decode_matmuls)
    ->ArgNames({"dtype", "huge", "offset"})
    ->ArgsProduct({{static_cast<int64_t>(DType::BF16), static_cast<int64_t>(DType::Q8_0),
                    static_cast<int64_t>(DType::F16)},
                   {0, 1},
                   {0, 32}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Reference for the GB/s of cold matmuls, measured by the same harness: every
// pool thread sums its share of a 512 MiB buffer (like vase_stream's read).
void BM_read_bandwidth(benchmark::State& state) {
    constexpr int64_t kFloats = int64_t{128} << 20;  // 512 MiB
    static Bytes buffer = [] {
        Bytes b = alloc_bytes(kFloats * 4);
        std::memset(b.get(), 0, kFloats * 4);
        return b;
    }();
    const float* p = reinterpret_cast<const float*>(buffer.get());
    for (auto _ : state) {
        pool().parallel_for(kFloats, 1 << 16, [&](int64_t begin, int64_t end) {
            float s = dot(p + begin, p + begin, end - begin);
            benchmark::DoNotOptimize(s);
        });
    }
    state.counters["GB/s"] =
        benchmark::Counter(4e-9 * kFloats, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::to_string(pool().size()) + " threads");
}
BENCHMARK(BM_read_bandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);

// One query group over a slot cache. Args: kv dtype, n_slots, group, copies.
// With copies > 1 the call cycles through that many separate caches, so that,
// as in a real decode step (28 layers x 8 KV heads), the keys and values come
// from memory and not from a cache that the previous iteration warmed.
void BM_attend_group(benchmark::State& state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t n_slots = state.range(1), group = state.range(2), head_dim = 128;
    const int64_t copies = state.range(3);
    const uint64_t bytes = dtype_row_bytes(type, n_slots * head_dim);
    std::vector<Bytes> k, v;
    std::vector<float> tmp(n_slots * head_dim), q(group * head_dim, 0.1f);
    Rng rng(2);
    for (auto& t : tmp) t = static_cast<float>(rng.uniform() - 0.5);
    for (int64_t c = 0; c < copies; ++c) {
        k.push_back(alloc_bytes(bytes));
        v.push_back(alloc_bytes(bytes));
        quantize_row(type, tmp.data(), n_slots * head_dim, k.back().get());
        quantize_row(type, tmp.data(), n_slots * head_dim, v.back().get());
    }
    std::vector<float> scores(group * n_slots), out(group * head_dim);
    int64_t c = 0;
    for (auto _ : state) {
        attend_group(q.data(), group, k[c].get(), v[c].get(), type, n_slots, head_dim, 0.088f,
                     scores.data(), out.data());
        benchmark::DoNotOptimize(out.data());
        c = (c + 1) % copies;
    }
    state.counters["GB/s"] = benchmark::Counter(2e-9 * static_cast<double>(bytes),
                                                benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(dtype_name(type)) + " " + simd_target_name() +
                   (copies > 1 ? " from memory" : " cached"));
}
BENCHMARK(BM_attend_group)
    ->ArgNames({"dtype", "slots", "group", "copies"})
    ->Args({static_cast<int64_t>(DType::F16), 4096, 2, 1})
    ->Args({static_cast<int64_t>(DType::BF16), 4096, 2, 1})
    ->Args({static_cast<int64_t>(DType::F32), 4096, 2, 1})
    ->Args({static_cast<int64_t>(DType::F16), 512, 2, 1})
    ->Args({static_cast<int64_t>(DType::F16), 2112, 2, 64})
    ->Args({static_cast<int64_t>(DType::F16), 16384, 2, 16})
    ->Args({static_cast<int64_t>(DType::BF16), 16384, 2, 16})
    ->Unit(benchmark::kMicrosecond);

// The cost of one pool dispatch with an empty task.
void BM_dispatch(benchmark::State& state) {
    int64_t sum = 0;
    for (auto _ : state) {
        pool().run([&](int index, int) {
            if (index == 0) ++sum;
        });
    }
    benchmark::DoNotOptimize(sum);
    state.SetLabel(std::to_string(pool().size()) + " threads");
}
BENCHMARK(BM_dispatch)->UseRealTime();

// Small vector kernels of one decode step at 0.6B sizes.
void BM_rmsnorm(benchmark::State& state) {
    std::vector<float> x(1024, 0.5f), w(1024, 1.0f), out(1024);
    for (auto _ : state) {
        rmsnorm(x.data(), w.data(), 1024, 1e-6f, out.data());
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_rmsnorm);

void BM_rope(benchmark::State& state) {
    std::vector<float> x(16 * 128, 0.5f), inv_freq(64);
    for (int i = 0; i < 64; ++i) inv_freq[i] = static_cast<float>(std::pow(1e6, -i / 64.0));
    for (auto _ : state) {
        rope(x.data(), 16, 128, 12345, inv_freq.data());
        benchmark::DoNotOptimize(x.data());
    }
}
BENCHMARK(BM_rope);

void BM_silu_mul(benchmark::State& state) {
    std::vector<float> g(3072, 0.5f), u(3072, 1.0f), out(3072);
    for (auto _ : state) {
        silu_mul(g.data(), u.data(), 3072, out.data());
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_silu_mul);

// CUR scores (the `cur` policy's pass) of one KV head's 16-bit cache rows:
// 4,160 slots (budget 4,096 plus a window of 64), head_dim 128, rank 20
// padded to 24 columns. A pass runs this for every layer and KV head.
void BM_cur_scores(benchmark::State& state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t n = state.range(1), head_dim = 128, stride = 24;
    const uint64_t bytes = dtype_row_bytes(type, n * head_dim);
    std::vector<float> tmp(n * head_dim), g(head_dim * stride, 0.0f);
    Rng rng(3);
    for (auto& t : tmp) t = static_cast<float>(rng.uniform() - 0.5);
    for (int64_t d = 0; d < head_dim; ++d) {
        for (int64_t c = 0; c < 20; ++c) g[d * stride + c] = static_cast<float>(rng.normal());
    }
    Bytes k = alloc_bytes(bytes), v = alloc_bytes(bytes);
    quantize_row(type, tmp.data(), n * head_dim, k.get());
    quantize_row(type, tmp.data(), n * head_dim, v.get());
    std::vector<float> rows(2 * kCurBlock * head_dim), proj(2 * kCurRows * stride);
    std::vector<double> out(n);
    for (auto _ : state) {
        cur_raw_scores(type, k.get(), v.get(), n, head_dim, g.data(), stride, rows.data(),
                       proj.data(), out.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["rows/s"] =
        benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(dtype_name(type)));
}
BENCHMARK(BM_cur_scores)
    ->ArgNames({"dtype", "slots"})
    ->Args({static_cast<int64_t>(DType::F16), 4160})
    ->Args({static_cast<int64_t>(DType::BF16), 4160})
    ->Unit(benchmark::kMicrosecond);

// One whole eviction pass (Evictor::run_pass: choosing and compacting) at the
// issue's setting: Qwen3-0.6B's 28 layers x 8 KV heads x head_dim 128, an F16
// cache of 4,160 slots (budget 4,096 + window 64), both threads. Each
// iteration commits the window's 64 slots again (their old rows) so the next
// pass sees 4,160 slots; the rows stay random. Attention-scored policies are
// left out: here their window sums are never made, so they would score the
// window at the pass, which decoding spares them. Arg: policy index.
const char* const kPassPolicies[] = {"cur", "cur_fixed", "streaming", "random"};

void BM_eviction_pass(benchmark::State& state) {
    const std::string policy = kPassPolicies[state.range(0)];
    KvCacheShape shape;
    shape.n_layers = 28;
    shape.n_kv_heads = 8;
    shape.n_q_heads = 16;
    shape.head_dim = 128;
    shape.capacity = 4096 + 64;
    shape.kv_type = DType::F16;
    static std::unique_ptr<KvCache> cache;
    if (!cache) {
        cache = std::make_unique<KvCache>(shape);
        Rng rng(4);
        std::vector<float> k(8 * 128), v(8 * 128);
        for (int64_t t = 0; t < shape.capacity; ++t) {
            for (int64_t l = 0; l < shape.n_layers; ++l) {
                for (auto& x : k) x = static_cast<float>(rng.normal());
                for (auto& x : v) x = static_cast<float>(rng.normal());
                cache->write(l, 0, t, k.data(), v.data());
            }
            cache->commit(1);
        }
    }
    EvictionParams params;
    params.policy = policy;
    params.budget = 4096;
    params.window = 64;
    params.seed = 1;
    Evictor evictor(params, shape, pool().size());
    static int64_t next_position = shape.capacity;
    for (auto _ : state) {
        state.PauseTiming();
        // The window's slots get the next positions, so positions stay ascending.
        for (int64_t l = 0; l < shape.n_layers; ++l) {
            for (int64_t h = 0; h < shape.n_kv_heads; ++h) {
                int64_t* pos = cache->positions(l, h);
                for (int64_t i = cache->size(); i < shape.capacity; ++i) {
                    pos[i] = next_position + (i - cache->size());
                }
            }
        }
        next_position += shape.capacity - cache->size();
        cache->commit(shape.capacity - cache->size());
        state.ResumeTiming();
        evictor.after_decode_step(*cache, 1 << 20, &pool());
    }
    state.counters["pass_ms"] =
        benchmark::Counter(1e3 * evictor.stats().evict_seconds /
                           std::max<int64_t>(1, evictor.stats().eviction_passes));
    state.SetLabel(policy + ", " + std::to_string(pool().size()) + " threads");
}
BENCHMARK(BM_eviction_pass)
    ->ArgName("policy")
    ->DenseRange(0, 3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vase

int main(int argc, char** argv) {
    // Our own flag first; the rest goes to Google Benchmark.
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--threads=", 10) == 0) {
            vase::g_threads = std::atoi(argv[i] + 10);
            if (vase::g_threads < 1) vase::g_threads = 1;
        } else {
            rest.push_back(argv[i]);
        }
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
