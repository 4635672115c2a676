// rkv: R-KV, redundancy-aware KV-cache compression for reasoning models
// (https://arxiv.org/abs/2505.24133), reference mode `attn_rkv`.
// Score = lambda * attention - (1 - lambda) * redundancy, where redundancy_i
// is the softmax over candidates of the mean cosine similarity of k_i to
// every candidate key (diagonal 0, mean over all n). Top-K.
// Parameters: lambda (0.5), temperature, smooth (default on; smooths the
// attention term only, as the reference does).
#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"

namespace vase {

namespace {

class RkvPolicy final : public EvictionPolicy {
  public:
    RkvPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, true) {}
    bool needs_queries() const override { return true; }

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        s.attention->score(v, h, params_.temperature, params_.resolved_smooth(), s.score.data());
        key_redundancy(v.keys + h * v.kv_head_stride, v.n, v.head_dim, s.dims.data(), s.key.data());
        const double lambda = params_.lambda;
        for (int64_t i = 0; i < v.n; ++i) {
            s.score[i] = lambda * s.score[i] - (1.0 - lambda) * s.key[i];
        }
        select_top_k(s.score.data(), v.n, keep, nullptr, s.order.data(), kept);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_rkv_policy(const EvictionParams& p, const PolicyShape& s,
                                                int threads) {
    return std::make_unique<RkvPolicy>(p, s, threads);
}

}  // namespace vase
