// vase: VaSE-AttnV, "Value-Aware Stochastic KV Cache Eviction for Reasoning
// Models" (https://arxiv.org/abs/2606.03928), reference mode
// `range_sink_sample_attn`; also its variants
//   vase_l2     value magnitude by L2 norm  (reference `l2_sink_sample_attn`)
//   vase_var    value magnitude by variance (reference `var_sink_sample_attn`)
//   vase_nosink without sink protection     (reference `range_sample_attn`)
// Per KV head:
//   1. magnitude_i = max_d v_i[d] - min_d v_i[d] (or L2 / variance); sinks
//      (position < S) get +inf unless vase_nosink;
//   2. L = the n_large candidates of largest magnitude (ties: lower index);
//   3. attention scores (spec section 3), 0 on L;
//   4. K - n_large draws without replacement proportional to the scores; if
//      fewer candidates have a positive score, all of them plus the
//      highest-magnitude remaining ones;
//   5. keep L and the draws.
// Parameters: n_large (B/4), sinks, temperature, smooth (default on), seed.
#include <algorithm>
#include <limits>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class VasePolicy final : public EvictionPolicy {
  public:
    VasePolicy(const EvictionParams& p, const PolicyShape& s, int threads, Magnitude magnitude,
               bool protect_sinks)
        : EvictionPolicy(p, s, threads, true),
          magnitude_(magnitude),
          protect_sinks_(protect_sinks),
          n_large_(p.resolved_n_large()) {}
    bool needs_queries() const override { return true; }
    bool reads_keys() const override { return false; }  // only to score attention
    int64_t protected_slots() const override { return n_large_; }

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        const int64_t n = v.n;
        double* magnitude = s.magnitude.data();
        value_magnitude(magnitude_, v.values + h * v.kv_head_stride, n, v.head_dim, magnitude);
        if (protect_sinks_) {
            const int64_t* pos = v.positions + h * v.pos_head_stride;
            for (int64_t i = 0; i < n; ++i) {
                if (pos[i] < params_.sinks) magnitude[i] = std::numeric_limits<double>::infinity();
            }
        }
        const int64_t n_large = select_top_k(magnitude, n, n_large_, nullptr, s.order.data(), kept);

        double* score = s.score.data();
        s.attention->score(v, h, params_.temperature, params_.resolved_smooth(), score);
        uint8_t* taken = s.taken.data();
        std::fill(taken, taken + n, uint8_t{0});
        mark_taken(kept, n_large, taken);
        for (int64_t i = 0; i < n_large; ++i) score[kept[i]] = 0.0;

        const int64_t n_draw = keep - n_large;
        const int64_t drawn = sample_without_replacement(
            score, n, n_draw, taken, rng(v.layer, h), s.key.data(), s.order.data(), kept + n_large);
        if (drawn == n_draw) return;
        mark_taken(kept + n_large, drawn, taken);
        select_top_k(magnitude, n, n_draw - drawn, taken, s.order.data(), kept + n_large + drawn);
    }

  private:
    Magnitude magnitude_;
    bool protect_sinks_;
    int64_t n_large_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_vase_policy(const EvictionParams& p, const PolicyShape& s,
                                                 int threads) {
    if (p.policy == "vase_l2")
        return std::make_unique<VasePolicy>(p, s, threads, Magnitude::kL2, true);
    if (p.policy == "vase_var") {
        return std::make_unique<VasePolicy>(p, s, threads, Magnitude::kVariance, true);
    }
    if (p.policy == "vase_nosink") {
        return std::make_unique<VasePolicy>(p, s, threads, Magnitude::kRange, false);
    }
    return std::make_unique<VasePolicy>(p, s, threads, Magnitude::kRange, true);
}

}  // namespace vase
