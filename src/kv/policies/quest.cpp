// quest: Quest, "Quest: Query-Aware Sparsity for Efficient Long-Context LLM
// Inference" (https://arxiv.org/abs/2406.10774). A selection baseline, not
// an eviction: the cache keeps every token; each decode step attends to the
// pages (16 tokens) whose upper-bound score is largest, holding `budget`
// tokens, plus the current page; the first two layers attend densely.
// The policy object never evicts; the attention calls the page functions
// declared in kv/scoring.h. Parameters: budget.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"
#include "util/error.h"

namespace vase {

namespace {

class QuestPolicy final : public EvictionPolicy {
  public:
    QuestPolicy(const EvictionParams& p, const PolicyShape& s, int threads)
        : EvictionPolicy(p, s, threads, false) {}
    bool evicts() const override { return false; }

  protected:
    void select_head(const LayerView&, int64_t, int64_t, int64_t*, PolicyScratch&) override {
        fail("eviction policy 'quest' never evicts; use quest_select_pages() at attention time");
    }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_quest_policy(const EvictionParams& p, const PolicyShape& s,
                                                  int threads) {
    return std::make_unique<QuestPolicy>(p, s, threads);
}

void quest_add_token(const float* key, int64_t index, int64_t head_dim, float* page_min,
                     float* page_max) {
    const int64_t page = index / kQuestPageSize;
    float* lo = page_min + page * head_dim;
    float* hi = page_max + page * head_dim;
    if (index % kQuestPageSize == 0) {
        std::copy(key, key + head_dim, lo);
        std::copy(key, key + head_dim, hi);
        return;
    }
    for (int64_t d = 0; d < head_dim; ++d) {
        lo[d] = std::min(lo[d], key[d]);
        hi[d] = std::max(hi[d], key[d]);
    }
}

void quest_page_bounds(const float* keys, int64_t n_tokens, int64_t head_dim, float* page_min,
                       float* page_max) {
    for (int64_t i = 0; i < n_tokens; ++i) {
        quest_add_token(keys + i * head_dim, i, head_dim, page_min, page_max);
    }
}

int64_t quest_select_pages(const float* query, const float* page_min, const float* page_max,
                           int64_t n_tokens, int64_t head_dim, int64_t budget, double* bound,
                           int64_t* order, int64_t* pages_out) {
    const int64_t n_pages = quest_pages(n_tokens);
    if (n_pages == 0) return 0;
    const int64_t current = n_pages - 1;
    const int64_t want = (std::max<int64_t>(budget, 0) + kQuestPageSize - 1) / kQuestPageSize;
    if (want >= current) {
        for (int64_t p = 0; p < n_pages; ++p) pages_out[p] = p;
        return n_pages;
    }
    for (int64_t p = 0; p < current; ++p) {
        const float* lo = page_min + p * head_dim;
        const float* hi = page_max + p * head_dim;
        double s = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) {
            s += std::max(static_cast<double>(query[d]) * lo[d],
                          static_cast<double>(query[d]) * hi[d]);
        }
        bound[p] = s;
    }
    const int64_t m = select_top_k(bound, current, want, nullptr, order, pages_out);
    std::sort(pages_out, pages_out + m);
    pages_out[m] = current;
    return m + 1;
}

}  // namespace vase
