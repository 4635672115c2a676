// attn_sample: draws K candidates without replacement, each draw with
// probability proportional to the attention score of the query window (an
// ablation of the VaSE paper, https://arxiv.org/abs/2606.03928).
// Parameters: temperature, smooth (default on), seed.
//
// The spec's fill rule (too few positive scores) names "the highest-magnitude
// remaining ones", but this mode measures no magnitude: it fills with the
// remaining candidates of lowest index (the tie rule). Scores are only 0 when
// float exp underflows (a logit ~87 below its row maximum).
#include <algorithm>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class AttnSamplePolicy final : public EvictionPolicy {
  public:
    AttnSamplePolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, true) {}
    bool needs_queries() const override { return true; }
    bool reads_keys() const override { return false; }  // only to score attention

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        s.attention->score(v, h, params_.temperature, params_.resolved_smooth(), s.score.data());
        const int64_t drawn =
            sample_without_replacement(s.score.data(), v.n, keep, nullptr, rng(v.layer, h),
                                       s.key.data(), s.order.data(), kept);
        if (drawn == keep) return;
        std::fill(s.taken.begin(), s.taken.begin() + v.n, uint8_t{0});
        mark_taken(kept, drawn, s.taken.data());
        for (int64_t i = 0; i < v.n; ++i) s.key[i] = 0.0;  // all tie: lowest index first
        select_top_k(s.key.data(), v.n, keep - drawn, s.taken.data(), s.order.data(), kept + drawn);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_attn_sample_policy(const EvictionParams& p,
                                                        const PolicyShape& s, int threads) {
    return std::make_unique<AttnSamplePolicy>(p, s, threads);
}

}  // namespace vase
