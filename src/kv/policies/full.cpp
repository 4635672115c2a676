// full: the baseline. Never evicts; the cache grows with the sequence.
// Parameters: none.
#include "kv/policy.h"
#include "util/error.h"

namespace vase {

namespace {

class FullPolicy final : public EvictionPolicy {
  public:
    FullPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, false) {}
    bool evicts() const override { return false; }

  protected:
    void select_head(const LayerView&, int64_t, int64_t, int64_t*, PolicyScratch&) override {
        fail("eviction policy 'full' never evicts; select() must not be called");
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_full_policy(const EvictionParams& p, const PolicyShape& s,
                                                 int threads) {
    return std::make_unique<FullPolicy>(p, s, threads);
}

}  // namespace vase
