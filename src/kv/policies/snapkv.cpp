// snapkv: SnapKV, "SnapKV: LLM Knows What You are Looking for Before
// Generation" (https://arxiv.org/abs/2404.14469), applied at every eviction
// pass (reference mode `attn`). Keeps the top-K candidates by the attention
// of the query window (spec section 3). Parameters: temperature, smooth
// (default on).
#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class SnapKvPolicy final : public EvictionPolicy {
  public:
    SnapKvPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, true) {}
    bool needs_queries() const override { return true; }
    bool reads_keys() const override { return false; }  // only to score attention

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        s.attention->score(v, h, params_.temperature, params_.resolved_smooth(), s.score.data());
        select_top_k(s.score.data(), v.n, keep, nullptr, s.order.data(), kept);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_snapkv_policy(const EvictionParams& p, const PolicyShape& s,
                                                   int threads) {
    return std::make_unique<SnapKvPolicy>(p, s, threads);
}

}  // namespace vase
