// The Qwen3 dense architecture as numbers. Every size (0.6B to 32B) is this
// struct with other values, read from config.json or GGUF metadata.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vase {

struct ModelConfig {
    std::string architecture = "qwen3";
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t n_layers = 0;
    int64_t n_heads = 0;     // query heads
    int64_t n_kv_heads = 0;  // GQA: n_heads % n_kv_heads == 0
    int64_t head_dim = 0;    // explicit in Qwen3 (not hidden_size / n_heads)
    int64_t max_position_embeddings = 40960;
    double rms_norm_eps = 1e-6;
    double rope_theta = 1000000.0;
    bool tie_word_embeddings = false;

    // Throws vase::Error (prefixed with `source`) if the numbers are inconsistent.
    void validate(const std::string& source) const;
};

// Defaults for sampling and stopping, from generation_config.json (Hugging
// Face) or GGUF metadata. Values not given there keep these defaults.
struct GenerationConfig {
    float temperature = 1.0f;
    float top_p = 1.0f;
    int top_k = 0;  // 0 = off
    float min_p = 0.0f;
    bool do_sample = true;
    std::vector<int32_t> eos_token_ids;
};

}  // namespace vase
