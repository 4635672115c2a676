#include "model/config.h"

#include "util/error.h"

namespace vase {

void ModelConfig::validate(const std::string& source) const {
    if (architecture != "qwen3") {
        fail("{}: unsupported architecture '{}': vase runs the Qwen3 dense architecture (qwen3)",
             source, architecture);
    }
    auto positive = [&](int64_t v, const char* name, int64_t limit) {
        if (v <= 0 || v > limit) fail("{}: {} = {} is out of range (1..{})", source, name, v, limit);
    };
    positive(vocab_size, "vocab_size", int64_t{1} << 24);
    positive(hidden_size, "hidden_size", int64_t{1} << 16);
    positive(intermediate_size, "intermediate_size", int64_t{1} << 18);
    positive(n_layers, "num_hidden_layers", 1024);
    positive(n_heads, "num_attention_heads", 1024);
    positive(n_kv_heads, "num_key_value_heads", 1024);
    positive(head_dim, "head_dim", 1024);
    positive(max_position_embeddings, "max_position_embeddings", int64_t{1} << 24);
    if (n_heads % n_kv_heads != 0) {
        fail("{}: num_attention_heads ({}) is not a multiple of num_key_value_heads ({})", source,
             n_heads, n_kv_heads);
    }
    if (head_dim % 2 != 0) fail("{}: head_dim ({}) must be even for RoPE", source, head_dim);
    if (!(rms_norm_eps > 0.0) || rms_norm_eps > 1.0) {
        fail("{}: rms_norm_eps = {} is out of range (0, 1]", source, rms_norm_eps);
    }
    if (!(rope_theta > 1.0) || rope_theta > 1e12) {
        fail("{}: rope_theta = {} is out of range (1, 1e12]", source, rope_theta);
    }
}

}  // namespace vase
