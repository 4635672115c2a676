// random: keeps K candidates uniformly at random, without replacement (a
// baseline of the VaSE paper, https://arxiv.org/abs/2606.03928).
// Parameters: seed.
#include <algorithm>

#include "kv/policy.h"
#include "kv/selector.h"

namespace vase {

namespace {

class RandomPolicy final : public EvictionPolicy {
  public:
    RandomPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, false) {}
    bool reads_rows() const override { return false; }

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        std::fill(s.score.begin(), s.score.begin() + v.n, 1.0);
        sample_without_replacement(s.score.data(), v.n, keep, nullptr, rng(v.layer, h),
                                   s.key.data(), s.order.data(), kept);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_random_policy(const EvictionParams& p, const PolicyShape& s,
                                                   int threads) {
    return std::make_unique<RandomPolicy>(p, s, threads);
}

}  // namespace vase
