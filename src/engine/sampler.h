// Next-token sampling: greedy, or temperature then top-k, top-p and min-p in
// the order Hugging Face's generate() applies its logits warpers. Buffers are
// allocated once per sampler; sample() never touches the heap.
#pragma once

#include "util/rng.h"

#include <cstdint>
#include <vector>

namespace vase {

struct SamplingParams {
    float temperature = 0.6f;  // logits are divided by it; <= 0: greedy (argmax)
    int top_k = 20;            // keep the k highest logits (and ties of the k-th); 0: off
    float top_p = 0.95f;       // keep the fewest most likely tokens holding top_p; 1: off
    float min_p = 0.0f;        // keep tokens with prob >= min_p * max prob; 0: off
    uint64_t seed = 0;         // same seed, same draws

    // Throws vase::Error naming the first parameter out of range.
    void validate() const;
    bool greedy() const { return temperature <= 0.0f; }
};

struct TokenProb {
    int32_t id;
    double prob;
};

class Sampler {
  public:
    Sampler(int64_t vocab_size, SamplingParams params);  // validates params

    // Draws the next token from logits [vocab_size]. Greedy picks the highest
    // logit, the lowest id among equals. NaN logits count as -inf; throws
    // vase::Error if no token has a logit above -inf.
    int32_t sample(const float* logits);

    // The tokens sample() can draw and their probabilities after every filter,
    // most likely first (ties: lower id first). Allocates; for tests and
    // diagnostics. Does not advance the random stream.
    std::vector<TokenProb> distribution(const float* logits);

    void reseed(uint64_t seed) { rng_.reseed(seed); }
    const SamplingParams& params() const { return params_; }
    int64_t vocab_size() const { return vocab_size_; }

  private:
    // A surviving token; `weight` holds the logit, then exp((logit - max) / T).
    struct Candidate {
        float weight;
        int32_t id;
    };

    int32_t argmax(const float* logits) const;
    float top_k_threshold(const float* logits);
    size_t top_p_keep(size_t n, double target);
    // Applies every filter; the survivors are cand_[0, n), n returned.
    size_t filter(const float* logits);

    int64_t vocab_size_;
    SamplingParams params_;
    Rng rng_;
    std::vector<Candidate> cand_;  // [vocab_size]
    std::vector<float> kth_;       // [top_k] heap, or [vocab_size] for large k
};

}  // namespace vase
