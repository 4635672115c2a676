// value_topk: the deterministic ablation of VaSE
// (https://arxiv.org/abs/2606.03928), reference mode `range_attn`: protect
// the n_large candidates with the largest value range (no sink protection),
// fill the other K - n_large by top attention score, no sampling.
// Parameters: n_large (B/4), temperature, smooth (default on).
#include <algorithm>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class ValueTopkPolicy final : public EvictionPolicy {
  public:
    ValueTopkPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, true), n_large_(p.resolved_n_large()) {}
    bool needs_queries() const override { return true; }
    bool reads_keys() const override { return false; }  // only to score attention
    int64_t protected_slots() const override { return n_large_; }

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        const int64_t n = v.n;
        value_magnitude(Magnitude::kRange, v.values + h * v.kv_head_stride, n, v.head_dim,
                        s.magnitude.data());
        const int64_t n_large =
            select_top_k(s.magnitude.data(), n, n_large_, nullptr, s.order.data(), kept);
        std::fill(s.taken.begin(), s.taken.begin() + n, uint8_t{0});
        mark_taken(kept, n_large, s.taken.data());
        s.attention->score(v, h, params_.temperature, params_.resolved_smooth(), s.score.data());
        select_top_k(s.score.data(), n, keep - n_large, s.taken.data(), s.order.data(),
                     kept + n_large);
    }

  private:
    int64_t n_large_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_value_topk_policy(const EvictionParams& p,
                                                       const PolicyShape& s, int threads) {
    return std::make_unique<ValueTopkPolicy>(p, s, threads);
}

}  // namespace vase
