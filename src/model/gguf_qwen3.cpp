#include "model/gguf_qwen3.h"

#include <vector>

#include "model/token_lookup.h"
#include "util/error.h"

namespace vase {

uint32_t llama_file_type(DType t) {
    switch (t) {
        case DType::F32:
            return 0;
        case DType::F16:
            return 1;
        case DType::Q8_0:
            return 7;
        case DType::BF16:
            return 32;
    }
    return 0;
}

namespace {

// tokenizer.ggml.*: one entry per embedding row (unused ids as [PAD<id>]),
// added tokens typed control (special) or user-defined, the merges by rank,
// and the special ids.
void add_tokenizer(GgufWriter& w, const Qwen3GgufMetadata& m) {
    const TokenizerSpec& spec = *m.tokenizer;
    if (spec.split_regex != kQwen2SplitRegex || !spec.nfc) {
        fail(
            "{}: the tokenizer's pre-tokenizer is not Qwen2's (NFC, then its split regex); GGUF "
            "can only name it as tokenizer.ggml.pre = qwen2 here",
            spec.source);
    }
    constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;
    const size_t n = static_cast<size_t>(m.config.vocab_size);
    std::vector<std::string> tokens(n);
    std::vector<int32_t> types(n, kUnused);
    for (size_t i = 0; i < spec.vocab.size() && i < n; ++i) {
        if (spec.vocab[i].empty()) continue;
        tokens[i] = spec.vocab[i];
        types[i] = kNormal;
    }
    for (const AddedToken& a : spec.added) {
        if (a.id < 0 || static_cast<size_t>(a.id) >= n) {
            fail("{}: added token id {} is outside the model's vocabulary of {}", spec.source,
                 a.id, n);
        }
        tokens[static_cast<size_t>(a.id)] = a.content;
        types[static_cast<size_t>(a.id)] = a.special ? kControl : kUserDefined;
    }
    for (size_t i = 0; i < n; ++i) {
        if (types[i] == kUnused) tokens[i] = fmt::format("[PAD{}]", i);
    }
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "qwen2");
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_string_array("tokenizer.ggml.merges", spec.merges);

    // load_gguf stops at eos, eot, <|im_end|> and <|endoftext|>; one more stop
    // id would have no GGUF key.
    const std::vector<int32_t>& eos = m.generation.eos_token_ids;
    const int32_t im_end = find_token_id(spec, "<|im_end|>");
    const int32_t endoftext = find_token_id(spec, "<|endoftext|>");
    std::vector<int32_t> extra;  // stop ids besides eos[0] that load_gguf would not add
    for (size_t i = 1; i < eos.size(); ++i) {
        if (eos[i] != im_end && eos[i] != endoftext && eos[i] != eos[0]) extra.push_back(eos[i]);
    }
    if (extra.size() > 1) {
        fail(
            "{}: {} stop tokens besides the first, <|im_end|> and <|endoftext|>; GGUF can name "
            "one more (tokenizer.ggml.eot_token_id)",
            m.source, extra.size());
    }
    if (!eos.empty()) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos[0]));
    if (!extra.empty()) w.add_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(extra[0]));
    // Qwen3's bos and padding are <|endoftext|>; it adds no bos token.
    const int32_t bos = endoftext >= 0 ? endoftext : (eos.empty() ? -1 : eos.back());
    if (bos >= 0) {
        w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
        w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(bos));
    }
    w.add_bool("tokenizer.ggml.add_bos_token", false);
    if (!m.chat_template.empty()) w.add_string("tokenizer.chat_template", m.chat_template);
}

}  // namespace

void add_qwen3_gguf_metadata(GgufWriter& w, const Qwen3GgufMetadata& m) {
    const ModelConfig& c = m.config;
    w.add_string("general.architecture", "qwen3");
    w.add_string("general.type", "model");
    w.add_string("general.name", m.name);
    w.add_u32("general.file_type", llama_file_type(m.file_type));
    if (m.file_type == DType::Q8_0) w.add_u32("general.quantization_version", 2);
    w.add_u32("qwen3.context_length", static_cast<uint32_t>(c.max_position_embeddings));
    w.add_u32("qwen3.embedding_length", static_cast<uint32_t>(c.hidden_size));
    w.add_u32("qwen3.block_count", static_cast<uint32_t>(c.n_layers));
    w.add_u32("qwen3.feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
    w.add_u32("qwen3.attention.head_count", static_cast<uint32_t>(c.n_heads));
    w.add_u32("qwen3.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
    w.add_u32("qwen3.attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32("qwen3.attention.value_length", static_cast<uint32_t>(c.head_dim));
    w.add_f32("qwen3.attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
    w.add_f32("qwen3.rope.freq_base", static_cast<float>(c.rope_theta));
    // generation_config.json's sampling as llama.cpp's general.sampling.* keys.
    const GenerationConfig& g = m.generation;
    w.add_f32("general.sampling.temp", g.do_sample ? g.temperature : 0.0f);
    w.add_f32("general.sampling.top_p", g.top_p);
    w.add_f32("general.sampling.min_p", g.min_p);
    w.add_i32("general.sampling.top_k", g.top_k);
    add_tokenizer(w, m);
}

}  // namespace vase
