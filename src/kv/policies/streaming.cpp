// streaming: StreamingLLM, "Efficient Streaming Language Models with
// Attention Sinks" (https://arxiv.org/abs/2309.17453). Keeps the first S
// tokens of the sequence (the attention sinks) and the K - S most recent
// candidates. Parameters: sinks (S).
#include <limits>

#include "kv/policy.h"
#include "kv/selector.h"

namespace vase {

namespace {

class StreamingPolicy final : public EvictionPolicy {
  public:
    StreamingPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, false) {}
    int64_t protected_slots() const override { return params_.sinks; }
    // Recency is read from positions, so the candidates may come in any order.
    bool needs_slot_order() const override { return false; }
    bool reads_rows() const override { return false; }

  protected:
    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        const int64_t* pos = v.positions + h * v.pos_head_stride;
        double* key = s.score.data();
        // Recency is the position; sinks rank above everything.
        for (int64_t i = 0; i < v.n; ++i) {
            key[i] = pos[i] < params_.sinks ? std::numeric_limits<double>::infinity()
                                            : static_cast<double>(pos[i]);
        }
        select_top_k(key, pos, v.n, keep, nullptr, s.order.data(), kept);
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_streaming_policy(const EvictionParams& p, const PolicyShape& s,
                                                      int threads) {
    return std::make_unique<StreamingPolicy>(p, s, threads);
}

}  // namespace vase
