// cur / cur_fixed: VaSE-DKV, the CUR-style key-value scoring of "Value-Aware
// Stochastic KV Cache Eviction for Reasoning Models"
// (https://arxiv.org/abs/2606.03928), after kvpress's CURPress; reference
// modes `cur_resample_gauss` and `cur_fixed_gauss`.
// G: [head_dim, 20], entries N(0, 1) / sqrt(20), shared by the KV heads of a
// layer; `cur` draws a new G for every layer at every pass, `cur_fixed` one
// per layer at its first pass. s_i = |k_i G|^2 * |v_i G|^2, normalised to sum
// 1 over the candidates; sinks (position < S) get 1.0. Top-K.
// Parameters: sinks, seed. set_projection() replaces the random G of a layer
// (used by `vase evict --projection` and the tests).
//
// The candidates may come in any order (needs_slot_order() is false): ties
// go to the lower position, the spec's lower index.
//
// When every raw score is 0 the normalisation is skipped (the reference
// would divide by 0 and produce NaN); the scores stay 0.
#include <algorithm>
#include <cmath>

#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/selector.h"
#include "util/error.h"

namespace vase {

namespace {

constexpr int64_t kRank = 20;
// Projection columns are padded with zeros to a multiple of this.
constexpr int64_t kColumnPad = 8;
// Labels of the per-layer projection streams, apart from the per-head streams.
constexpr uint64_t kProjectionStream = 0x43555200000000ull;  // "CUR"

int64_t padded(int64_t rank) {
    return (rank + kColumnPad - 1) / kColumnPad * kColumnPad;
}

class CurPolicy final : public EvictionPolicy {
  public:
    CurPolicy(const EvictionParams& p, const PolicyShape& s, int threads, bool fixed)
        : EvictionPolicy(p, s, threads, false),
          fixed_(fixed),
          rank_(kRank),
          stride_(padded(kRank)),
          g_(static_cast<size_t>(s.n_layers * s.head_dim * stride_)),
          drawn_(static_cast<size_t>(s.n_layers), 0),
          given_(static_cast<size_t>(s.n_layers), 0) {
        for (int64_t l = 0; l < s.n_layers; ++l) {
            layer_rngs_.push_back(
                Rng::derive(p.seed, kProjectionStream + static_cast<uint64_t>(l)));
        }
    }

    int64_t protected_slots() const override { return params_.sinks; }
    bool reads_cache_rows() const override { return true; }
    bool needs_slot_order() const override { return false; }

    void set_projection(int64_t layer, const float* g, int64_t rank) override {
        if (layer < 0 || layer >= shape_.n_layers) {
            fail("projection for layer {}: the policy has {} layers", layer, shape_.n_layers);
        }
        if (rank < 1 || rank > kMaxCurRank) {
            fail("projection rank {} must be between 1 and {}", rank, kMaxCurRank);
        }
        if (rank != rank_) {
            if (std::find(given_.begin(), given_.end(), 1) != given_.end()) {
                fail("projection rank {} differs from the rank {} given for another layer", rank,
                     rank_);
            }
            rank_ = rank;
            stride_ = padded(rank);
            g_.assign(static_cast<size_t>(shape_.n_layers * shape_.head_dim * stride_), 0.0f);
            std::fill(drawn_.begin(), drawn_.end(), 0);
        }
        float* dst = layer_g(layer);
        for (int64_t d = 0; d < shape_.head_dim; ++d) {
            for (int64_t c = 0; c < stride_; ++c) {
                dst[d * stride_ + c] = c < rank ? g[d * rank + c] : 0.0f;
            }
        }
        given_[layer] = 1;
    }

  protected:
    void begin_layer(const LayerView& v) override {
        const int64_t l = v.layer;
        if (given_[l] || (fixed_ && drawn_[l])) return;
        Rng& rng = layer_rngs_[l];
        const double scale = 1.0 / std::sqrt(static_cast<double>(rank_));
        float* g = layer_g(l);
        for (int64_t d = 0; d < shape_.head_dim; ++d) {
            for (int64_t c = 0; c < stride_; ++c) {
                g[d * stride_ + c] = c < rank_ ? static_cast<float>(rng.normal() * scale) : 0.0f;
            }
        }
        drawn_[l] = 1;
    }

    void select_head(const LayerView& v, int64_t h, int64_t keep, int64_t* kept,
                     PolicyScratch& s) override {
        const int64_t n = v.n;
        double* score = s.score.data();
        if (v.keys != nullptr) {
            cur_raw_scores(v.keys + h * v.kv_head_stride, v.values + h * v.kv_head_stride, n,
                           v.head_dim, layer_g(v.layer), stride_, s.proj.data(), score);
        } else {
            const uint64_t head_bytes =
                static_cast<uint64_t>(v.cache_head_rows * h) *
                dtype_row_bytes(v.cache_type, static_cast<uint64_t>(v.head_dim));
            cur_raw_scores(v.cache_type, static_cast<const uint8_t*>(v.cache_keys) + head_bytes,
                           static_cast<const uint8_t*>(v.cache_values) + head_bytes, n,
                           v.head_dim, layer_g(v.layer), stride_, s.rows.data(), s.proj.data(),
                           score);
        }
        double total = 0.0;
        for (int64_t i = 0; i < n; ++i) total += score[i];
        if (total > 0.0) {
            for (int64_t i = 0; i < n; ++i) score[i] /= total;
        }
        const int64_t* pos = v.positions + h * v.pos_head_stride;
        for (int64_t i = 0; i < n; ++i) {
            if (pos[i] < params_.sinks) score[i] = 1.0;
        }
        select_top_k(score, pos, n, keep, nullptr, s.order.data(), kept);
    }

  private:
    float* layer_g(int64_t layer) { return g_.data() + layer * shape_.head_dim * stride_; }

    bool fixed_;
    int64_t rank_;
    int64_t stride_;
    std::vector<float> g_;         // [n_layers, head_dim, stride_]
    std::vector<uint8_t> drawn_;   // [n_layers] cur_fixed: G drawn
    std::vector<uint8_t> given_;   // [n_layers] set_projection() was called
    std::vector<Rng> layer_rngs_;  // [n_layers]
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_cur_policy(const EvictionParams& p, const PolicyShape& s,
                                                int threads) {
    return std::make_unique<CurPolicy>(p, s, threads, p.policy == "cur_fixed");
}

}  // namespace vase
