// evict_large: ablation of VaSE (https://arxiv.org/abs/2606.03928),
// reference mode `evict_large_range`: keep the K candidates with the
// smallest value range (ties: lower index). No sink protection (sinks tend to
// have small values anyway). Parameters: none.
#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class EvictLargePolicy final : public EvictionPolicy {
  public:
    EvictLargePolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, false) {}

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        double* key = s.magnitude.data();
        value_magnitude(Magnitude::kRange, v.values + h * v.kv_head_stride, v.n, v.head_dim, key);
        for (int64_t i = 0; i < v.n; ++i) key[i] = -key[i];
        select_top_k(key, v.n, keep, nullptr, s.order.data(), kept);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_evict_large_policy(const EvictionParams& p,
                                                        const PolicyShape& s, int threads) {
    return std::make_unique<EvictLargePolicy>(p, s, threads);
}

}  // namespace vase
