#include "kv/registry.h"

#include <functional>
#include <string_view>
#include <utility>

#include "util/error.h"

namespace vase {

// Factories, one per file in kv/policies/.
using PolicyFactory = std::unique_ptr<EvictionPolicy> (*)(const EvictionParams&, const PolicyShape&,
                                                          int);
std::unique_ptr<EvictionPolicy> make_full_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_streaming_policy(const EvictionParams&, const PolicyShape&,
                                                      int);
std::unique_ptr<EvictionPolicy> make_random_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_snapkv_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_attn_sample_policy(const EvictionParams&, const PolicyShape&,
                                                        int);
std::unique_ptr<EvictionPolicy> make_rkv_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_vase_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_value_topk_policy(const EvictionParams&, const PolicyShape&,
                                                       int);
std::unique_ptr<EvictionPolicy> make_cur_policy(const EvictionParams&, const PolicyShape&, int);
std::unique_ptr<EvictionPolicy> make_evict_large_policy(const EvictionParams&, const PolicyShape&,
                                                        int);
std::unique_ptr<EvictionPolicy> make_quest_policy(const EvictionParams&, const PolicyShape&, int);

namespace {

const std::pair<std::string_view, PolicyFactory> kRegistry[] = {
    {"full", make_full_policy},
    {"streaming", make_streaming_policy},
    {"random", make_random_policy},
    {"snapkv", make_snapkv_policy},
    {"attn_sample", make_attn_sample_policy},
    {"rkv", make_rkv_policy},
    {"vase", make_vase_policy},
    {"vase_l2", make_vase_policy},
    {"vase_var", make_vase_policy},
    {"vase_nosink", make_vase_policy},
    {"value_topk", make_value_topk_policy},
    {"cur", make_cur_policy},
    {"cur_fixed", make_cur_policy},
    {"evict_large", make_evict_large_policy},
    {"quest", make_quest_policy},
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_policy(const EvictionParams& params, int64_t n_layers,
                                            int64_t n_kv_heads, int64_t head_dim,
                                            int64_t max_candidates, int64_t n_q_heads,
                                            int64_t max_queries, int n_threads) {
    PolicyShape shape;
    shape.n_layers = n_layers;
    shape.n_kv_heads = n_kv_heads;
    shape.n_q_heads = n_q_heads;
    shape.head_dim = head_dim;
    shape.max_candidates = max_candidates;
    shape.max_queries = max_queries;
    for (const auto& [name, factory] : kRegistry) {
        if (name == params.policy) return factory(params, shape, n_threads);
    }
    params.validate();  // throws the message that lists the valid names
    fail("eviction policy '{}' is not registered", params.policy);
}

}  // namespace vase
