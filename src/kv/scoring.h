// Candidate scores shared by the eviction policies: attention over the query
// window (spec section 3), value magnitudes, key redundancy (R-KV), CUR
// projections, and Quest's page bounds. All buffers are allocated at
// construction; nothing here allocates per call.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/policy.h"

namespace vase {

// Spec section 3 for one KV head:
//   a[t][i] = softmax_i(q_t . k_i / (sqrt(head_dim) * T))  for each query head j of the group
//   s_j[i]  = mean_t a[t][i]
//   s[i]    = mean_j s_j[i], then (if smooth) avg-pool k=5, zero pad 2, divide by 5.
// Smoothing after the group mean equals the spec's order (both are linear).
// Dot products and exponentials run in float (vectorised); softmax sums and
// the group mean in double. exp underflow is flushed: a logit more than ~87
// below its row's maximum gets attention exactly 0 (as float32 softmax does).
class AttentionScorer {
  public:
    AttentionScorer(int64_t head_dim, int64_t max_candidates, int64_t max_queries);

    // out: [view.n]. Needs view.n_queries >= 1. Reads view.window_scores
    // when given (sums made while decoding) instead of the keys and queries.
    void score(const LayerView& view, int64_t kv_head, float temperature, bool smooth, double* out);

  private:
    int64_t head_dim_;
    int64_t max_candidates_;
    int64_t max_lanes_;              // max_queries rounded up to kLanes
    std::vector<float> q_t_;         // [head_dim, lanes] scaled queries, transposed
    std::vector<float> logits_;      // [max_candidates, lanes] logits, then exp
    std::vector<float> col_max_;     // [lanes]
    std::vector<double> col_sum_;    // [lanes]
    std::vector<float> col_weight_;  // [lanes] 1 / (sum * n_queries); 0 on padding
    std::vector<double> group_sum_;  // [max_candidates]
};

// Spec section 3 summed while decoding. A decode step whose token lies in the
// next eviction's window attends, among its slots, to every candidate of that
// eviction (slots [0, n_candidates), all older than the window); its share of
// the window scores can be taken from its own softmax instead of being
// recomputed when the eviction runs. With p: [group, n_slots] the attention
// of the step's query heads (attend_group's scores on return), adds for each
// head g of the group
//   acc[i] += softmax over i < n_candidates of (q_g . k_i) * scale / temperature.
// With temperature 1 that is p_g[i] / sum_{c < n_candidates} p_g[c]. Where p
// cannot carry the candidates' relative sizes (their largest p below
// kWindowReuseMin: the window's own slots took nearly all the attention), or
// temperature != 1, the candidates' logits are recomputed from q ([group,
// head_dim]) and keys ([n_slots, head_dim] of kv_type), exactly as the scorer
// does. p is overwritten.
inline constexpr float kWindowReuseMin = 1e-12f;
void accumulate_window_attention(float* p, int64_t group, int64_t n_slots, int64_t n_candidates,
                                 const float* q, const void* keys, DType kv_type, int64_t head_dim,
                                 float scale, float temperature, float* acc);

// 1-D average pooling, kernel 5, zero padding 2, always divided by 5. out != in.
void smooth_scores(const double* in, int64_t n, double* out);

enum class Magnitude { kRange, kL2, kVariance };

// out[i] = magnitude of value vector i (values: [n, head_dim]):
// max - min, L2 norm, or variance (unbiased, n - 1, as torch.var; the
// divisor does not change any ranking). Computed in double.
void value_magnitude(Magnitude kind, const float* values, int64_t n, int64_t head_dim, double* out);

// R-KV redundancy (keys: [n, head_dim]): with khat_i = k_i / (|k_i| + 1e-8),
// r_i = mean_j cos(k_j, k_i) over all n columns with the diagonal set to 0,
// then out = softmax(r). Uses sum_j khat_j . khat_i - khat_i . khat_i, which
// equals the column sum of the zero-diagonal matrix: O(n d), not O(n^2 d).
// key_sum: [head_dim] scratch.
void key_redundancy(const float* keys, int64_t n, int64_t head_dim, double* key_sum, double* out);

// CUR scores before normalisation: out[i] = |k_i G|^2 * |v_i G|^2, with
// g: [head_dim, g_stride] row-major (columns >= rank are zero padding).
// proj: [2 * kCurRows * g_stride] scratch.
inline constexpr int64_t kCurRows = 8;  // rows projected together (one load of g each)
void cur_raw_scores(const float* keys, const float* values, int64_t n, int64_t head_dim,
                    const float* g, int64_t g_stride, float* proj, double* out);
// The same over 16-bit (F16 or BF16) rows, converted kCurBlock at a time into
// rows ([2 * kCurBlock * head_dim] scratch): the scores of the f32 copy exactly.
void cur_raw_scores(DType type, const void* keys, const void* values, int64_t n,
                    int64_t head_dim, const float* g, int64_t g_stride, float* rows, float* proj,
                    double* out);

// ---- Quest (selection, never eviction; spec section 6) ----
// Keys are grouped into pages of kQuestPageSize consecutive tokens; per page
// and dimension the cache keeps the min and max key. At each decode step and
// for each query head, a page's upper bound is sum_d max(q_d min_d, q_d max_d);
// the step attends to the top pages holding `budget` tokens plus the current
// (last, possibly partial) page. Layers < kQuestDenseLayers attend densely.
inline constexpr int64_t kQuestPageSize = 16;
inline constexpr int64_t kQuestDenseLayers = 2;

inline int64_t quest_pages(int64_t n_tokens) {
    return (n_tokens + kQuestPageSize - 1) / kQuestPageSize;
}

// Recomputes the bounds of every page. keys: [n_tokens, head_dim];
// page_min, page_max: [quest_pages(n_tokens), head_dim].
void quest_page_bounds(const float* keys, int64_t n_tokens, int64_t head_dim, float* page_min,
                       float* page_max);

// Updates the bounds after token `index` (key: [head_dim]) was appended:
// starts page index / kQuestPageSize when index is its first token.
void quest_add_token(const float* key, int64_t index, int64_t head_dim, float* page_min,
                     float* page_max);

// Chooses the pages one query attends to among the quest_pages(n_tokens)
// pages: the last page always, plus the ceil(budget / kQuestPageSize) other
// pages with the largest upper bound (ties to the lower page), or every page
// when they are fewer. Writes the page indices ascending to pages_out and
// returns their number. bound: [pages] scratch, order: [pages] scratch.
int64_t quest_select_pages(const float* query, const float* page_min, const float* page_max,
                           int64_t n_tokens, int64_t head_dim, int64_t budget, double* bound,
                           int64_t* order, int64_t* pages_out);

}  // namespace vase
