// Spec section 1: nothing is allocated while decoding. The global operator
// new is replaced by one that counts; 1,200 decode steps with evictions
// (budget 64, window 16: a pass every 16 steps) must allocate nothing after
// the first token.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "engine/generator.h"
#include "test_model.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace vase {
namespace {

class NoAllocation : public ::testing::TestWithParam<const char*> {};

TEST_P(NoAllocation, DecodeStepsWithEvictionsAllocateNothing) {
    Engine engine(testing::tiny_model_dir(), 2);
    GenerateOptions o;
    o.max_new_tokens = 1300;
    o.ignore_eos = true;
    o.sampling.temperature = 0.7f;
    o.sampling.top_k = 20;
    o.sampling.top_p = 0.95f;
    o.kv.policy = GetParam();
    o.kv.budget = 64;
    o.kv.window = 16;
    o.kv.n_large = 16;
    const std::vector<int32_t> prompt = {9707, 11, 1879, 0, 40, 1079, 264, 1273};
    Generator gen(engine, o, static_cast<int64_t>(prompt.size()), 2);
    gen.prefill(prompt);
    gen.sample(0);
    gen.sample(1);
    gen.step();  // the first token
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 1200; ++i) {
        gen.sample(0);
        gen.sample(1);
        gen.step();
    }
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << GetParam();
    EXPECT_GE(gen.cache_stats(0).eviction_passes, 60) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Policies, NoAllocation,
                         ::testing::Values("vase", "cur", "cur_fixed", "rkv", "snapkv", "attn_sample",
                                           "streaming", "random", "vase_nosink", "value_topk",
                                           "evict_large", "vase_l2", "vase_var"));

}  // namespace
}  // namespace vase
