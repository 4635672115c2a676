#include "model/checkpoint.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/token_lookup.h"
#include "util/error.h"

namespace vase {
namespace fs = std::filesystem;

const TensorView& Checkpoint::tensor(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) fail("{}: missing tensor {}", path, name);
    return it->second;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
    const int64_t q_dim = c.n_heads * c.head_dim;
    const int64_t kv_dim = c.n_kv_heads * c.head_dim;
    std::vector<ExpectedTensor> out;
    out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
    for (int64_t i = 0; i < c.n_layers; ++i) {
        std::string p = fmt::format("model.layers.{}.", i);
        out.push_back({p + "input_layernorm.weight", {c.hidden_size}});
        out.push_back({p + "self_attn.q_proj.weight", {q_dim, c.hidden_size}});
        out.push_back({p + "self_attn.k_proj.weight", {kv_dim, c.hidden_size}});
        out.push_back({p + "self_attn.v_proj.weight", {kv_dim, c.hidden_size}});
        out.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, q_dim}});
        out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
        out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
        out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
        out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
        out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
        out.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
    }
    out.push_back({"model.norm.weight", {c.hidden_size}});
    if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
    return out;
}

namespace {

// GGUF block tensor suffix <-> Hugging Face layer tensor suffix.
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

// "PREFIX<digits>.REST" -> (number, REST); false if it does not match.
bool split_layer(const std::string& name, const std::string& prefix, int64_t* layer,
                 std::string* rest) {
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    size_t p = prefix.size();
    size_t q = p;
    while (q < name.size() && q - p < 9 && name[q] >= '0' && name[q] <= '9') ++q;
    if (q == p || q >= name.size() || name[q] != '.') return false;
    if (name[p] == '0' && q - p > 1) return false;  // no leading zeros
    *layer = std::stoll(name.substr(p, q - p));
    *rest = name.substr(q + 1);
    return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

std::optional<std::string> hf_name_of_gguf(const std::string& name) {
    for (const auto& [g, h] : kGlobalNames) {
        if (name == g) return std::string(h);
    }
    int64_t layer;
    std::string rest;
    if (split_layer(name, "blk.", &layer, &rest)) {
        for (const auto& [g, h] : kLayerNames) {
            if (rest == g) return fmt::format("model.layers.{}.{}", layer, h);
        }
    }
    return std::nullopt;
}

std::optional<std::string> gguf_name_of_hf(const std::string& name) {
    for (const auto& [g, h] : kGlobalNames) {
        if (name == h) return std::string(g);
    }
    int64_t layer;
    std::string rest;
    if (split_layer(name, "model.layers.", &layer, &rest)) {
        for (const auto& [g, h] : kLayerNames) {
            if (rest == h) return fmt::format("blk.{}.{}", layer, g);
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// NaN/Inf scan. It reads every weight once at load, so it is a tight loop over
// the bit patterns: all-ones exponent means Inf or NaN. Chunks are reduced
// with OR (which vectorizes) and only a bad chunk is searched element by element.

namespace {

constexpr int64_t kScanChunk = 4096;

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

template <typename Bits, Bits kExponent>
int64_t scan_bits(const uint8_t* data, int64_t n) {
    for (int64_t begin = 0; begin < n; begin += kScanChunk) {
        const int64_t end = std::min(n, begin + kScanChunk);
        unsigned bad = 0;
        for (int64_t i = begin; i < end; ++i) {
            Bits b = sizeof(Bits) == 2 ? load_u16(data + 2 * i) : load_u32(data + 4 * i);
            bad |= (b & kExponent) == kExponent;
        }
        if (bad != 0) {
            for (int64_t i = begin; i < end; ++i) {
                Bits b = sizeof(Bits) == 2 ? load_u16(data + 2 * i) : load_u32(data + 4 * i);
                if ((b & kExponent) == kExponent) return i;
            }
        }
    }
    return -1;
}

}  // namespace

int64_t find_non_finite(const TensorView& t) {
    const auto* data = static_cast<const uint8_t*>(t.data);
    const int64_t n = t.numel();
    switch (t.dtype) {
        case DType::F32:
            return scan_bits<uint32_t, 0x7f800000u>(data, n);
        case DType::F16:
            return scan_bits<uint16_t, 0x7c00>(data, n);
        case DType::BF16:
            return scan_bits<uint16_t, 0x7f80>(data, n);
        case DType::Q8_0: {
            const int64_t blocks = n / kQ8BlockSize;
            for (int64_t b = 0; b < blocks; ++b) {
                uint16_t scale = load_u16(data + b * sizeof(BlockQ8_0));
                if ((scale & 0x7c00) == 0x7c00) return b * kQ8BlockSize;
            }
            return -1;
        }
    }
    return -1;
}

namespace {

struct LoadedTensor {
    TensorView view;
    std::string file;  // for messages
};

// Checks presence, shape and finiteness of every tensor the config needs and
// moves them into the checkpoint; extra tensors are dropped.
void adopt_tensors(Checkpoint& ckpt, std::map<std::string, LoadedTensor>& found,
                   const std::string& missing_source, const std::string& config_source,
                   const LoadOptions& options) {
    for (const ExpectedTensor& e : expected_tensors(ckpt.config)) {
        auto it = found.find(e.name);
        if (it == found.end()) {
            fail("{}: missing tensor {} (shape {} expected from {})", missing_source, e.name,
                 shape_str(e.shape), config_source);
        }
        const LoadedTensor& t = it->second;
        if (t.view.shape != e.shape) {
            fail("{}: tensor {} has shape {}, expected {} from {}", t.file, e.name,
                 shape_str(t.view.shape), shape_str(e.shape), config_source);
        }
        if (options.check_finite) {
            int64_t bad = find_non_finite(t.view);
            if (bad >= 0) fail("{}: tensor {} contains NaN/Inf at element {}", t.file, e.name, bad);
        }
        ckpt.tensors[e.name] = t.view;
    }
}

void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size,
                     const std::string& source) {
    for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size) {
            fail("{}: end-of-sequence token id {} is outside the vocabulary (size {})", source, id,
                 vocab_size);
        }
    }
}

void add_unique(std::vector<int32_t>& ids, int32_t id) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

std::string join_path(const std::string& dir, const char* name) {
    return (fs::path(dir) / name).string();
}

TokenizerSpec read_hf_tokenizer(const std::string& file) {
    return parse_hf_tokenizer_json(read_text_file(file), file);
}

// A shard file name from the index: a plain name inside the directory.
void check_shard_name(const std::string& name, const std::string& index_path) {
    if (name.empty() || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name == "." || name == "..") {
        fail(
            "{}: weight_map names the file \"{}\", which is not a plain file name in the "
            "directory",
            index_path, name);
    }
}

}  // namespace

Checkpoint load_hf_directory(const std::string& dir, const LoadOptions& options) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail("{}: not a directory", dir);
    Checkpoint ckpt;
    ckpt.path = dir;
    ckpt.format = "safetensors";

    const std::string config_path = join_path(dir, "config.json");
    if (!fs::exists(config_path, ec)) {
        fail("{}: no config.json: not a Hugging Face model directory", dir);
    }
    HfConfig hf = parse_hf_config(read_text_file(config_path), config_path);
    ckpt.config = hf.model;
    ckpt.config.validate(config_path);

    const std::string tokenizer_path = join_path(dir, "tokenizer.json");
    if (!fs::exists(tokenizer_path, ec)) fail("{}: no tokenizer.json in the model directory", dir);
    ckpt.tokenizer = read_hf_tokenizer(tokenizer_path);
    // Every id the tokenizer can produce must have an embedding row.
    int64_t max_id = static_cast<int64_t>(ckpt.tokenizer.vocab.size()) - 1;
    for (const AddedToken& a : ckpt.tokenizer.added) max_id = std::max<int64_t>(max_id, a.id);
    if (max_id >= ckpt.config.vocab_size) {
        fail("{}: the tokenizer has ids up to {} but config.json says vocab_size = {}",
             tokenizer_path, max_id, ckpt.config.vocab_size);
    }

    HfTokenizerConfig tok_config;
    const std::string tok_config_path = join_path(dir, "tokenizer_config.json");
    if (fs::exists(tok_config_path, ec)) {
        tok_config = parse_hf_tokenizer_config(read_text_file(tok_config_path), tok_config_path);
        ckpt.chat_template = tok_config.chat_template;
    }

    const std::string gen_path = join_path(dir, "generation_config.json");
    std::string eos_source = config_path;
    if (fs::exists(gen_path, ec)) {
        ckpt.generation = parse_hf_generation_config(read_text_file(gen_path), gen_path);
        eos_source = gen_path;
    }
    if (ckpt.generation.eos_token_ids.empty()) {
        ckpt.generation.eos_token_ids = hf.eos_token_ids;
        eos_source = config_path;
    }
    check_token_ids(ckpt.generation.eos_token_ids, ckpt.config.vocab_size, eos_source);
    if (!tok_config.eos_token.empty()) {
        int32_t id = find_token_id(ckpt.tokenizer, tok_config.eos_token);
        if (id >= 0 && id < ckpt.config.vocab_size) add_unique(ckpt.generation.eos_token_ids, id);
    }

    // Weights: one file, or shards listed by an index.
    std::map<std::string, LoadedTensor> found;
    std::string weights_source;
    auto add_file = [&](const std::string& file, const std::map<std::string, std::string>* owner,
                        const std::string& shard) {
        ckpt.files.push_back(std::make_unique<MappedFile>(file));
        const MappedFile& mapped = *ckpt.files.back();
        for (SafetensorsEntry& e : read_safetensors(mapped)) {
            if (owner != nullptr) {
                auto it = owner->find(e.name);
                if (it != owner->end() && it->second != shard)
                    continue;  // the index says elsewhere
            }
            DType dtype;
            bool wanted = true;
            if (!safetensors_dtype(e.dtype, &dtype)) {
                // Tensors vase will not use may have any dtype; checked below for used ones.
                wanted = false;
                for (const ExpectedTensor& x : expected_tensors(ckpt.config)) {
                    if (x.name == e.name) {
                        fail("{}: tensor {} has dtype {}; vase reads F32, F16 and BF16", file,
                             e.name, e.dtype);
                    }
                }
            }
            if (!wanted) continue;
            LoadedTensor t;
            t.view.name = e.name;
            t.view.dtype = dtype;
            t.view.shape = e.shape;
            t.view.data = e.data;
            t.view.nbytes = e.nbytes;
            t.file = file;
            auto [it, inserted] = found.emplace(e.name, std::move(t));
            if (!inserted) {
                fail("{}: tensor {} is also in {}", file, e.name, it->second.file);
            }
        }
    };

    const std::string single = join_path(dir, "model.safetensors");
    const std::string index_path = join_path(dir, "model.safetensors.index.json");
    if (fs::exists(single, ec)) {
        weights_source = single;
        add_file(single, nullptr, "");
    } else if (fs::exists(index_path, ec)) {
        weights_source = index_path;
        nlohmann::json index;
        try {
            index = nlohmann::json::parse(read_text_file(index_path));
        } catch (const nlohmann::json::exception& e) {  // also out_of_range for 1e999
            fail("{}: invalid JSON: {}", index_path, e.what());
        }
        if (!index.is_object() || !index.contains("weight_map") ||
            !index["weight_map"].is_object()) {
            fail("{}: expected an object with a \"weight_map\" object", index_path);
        }
        std::map<std::string, std::string> owner;
        std::vector<std::string> shards;
        for (const auto& [name, file] : index["weight_map"].items()) {
            if (!file.is_string()) {
                fail("{}: weight_map entry {} must be a file name string", index_path, name);
            }
            std::string shard = file.get<std::string>();
            check_shard_name(shard, index_path);
            owner[name] = shard;
            if (std::find(shards.begin(), shards.end(), shard) == shards.end()) {
                shards.push_back(shard);
            }
        }
        if (shards.empty()) fail("{}: weight_map is empty", index_path);
        for (const std::string& shard : shards) {
            add_file((fs::path(dir) / shard).string(), &owner, shard);
        }
        for (const auto& [name, shard] : owner) {
            if (found.count(name) == 0) {
                fail("{}: tensor {} is listed in {} but not present in that file", index_path, name,
                     shard);
            }
        }
    } else {
        fail("{}: no model.safetensors or model.safetensors.index.json in the model directory",
             dir);
    }
    // With tied embeddings the output projection is the embedding; a stored
    // lm_head.weight is redundant and not exposed (the forward pass uses embed_tokens).
    adopt_tensors(ckpt, found, weights_source, "config.json", options);
    return ckpt;
}

// ---------------------------------------------------------------------------------------------
// GGUF

namespace {

constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;
constexpr int32_t kTokenUnused = 5;
constexpr uint64_t kMaxVocab = uint64_t{1} << 24;

TokenizerSpec tokenizer_from_gguf(const GgufFile& g) {
    const std::string& path = g.path();
    std::string model = g.get_string("tokenizer.ggml.model");
    if (model != "gpt2") {
        fail(
            "{}: tokenizer.ggml.model = {} is not supported (vase reads byte-level BPE, "
            "\"gpt2\")",
            path, model);
    }
    TokenizerSpec spec;
    spec.source = path;
    std::string pre = g.has("tokenizer.ggml.pre") ? g.get_string("tokenizer.ggml.pre") : "";
    if (pre == "qwen2") {
        spec.split_regex = kQwen2SplitRegex;
        spec.nfc = true;  // Qwen's tokenizer.json normalizes with NFC before the split
    } else {
        fail("{}: tokenizer.ggml.pre = \"{}\" is not supported (vase knows \"qwen2\")", path, pre);
    }
    const GgufValue& tokens = g.get_array("tokenizer.ggml.tokens", GgufType::String);
    if (tokens.count == 0 || tokens.count > kMaxVocab) {
        fail("{}: tokenizer.ggml.tokens has {} entries (must be 1..{})", path, tokens.count,
             kMaxVocab);
    }
    const GgufValue* types = nullptr;
    if (g.has("tokenizer.ggml.token_type")) {
        types = &g.get_array("tokenizer.ggml.token_type", GgufType::I32);
        if (types->count != tokens.count) {
            fail("{}: tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
                 path, types->count, tokens.count);
        }
    }
    spec.vocab.resize(tokens.count);
    for (uint64_t i = 0; i < tokens.count; ++i) {
        int32_t type = kTokenNormal;
        if (types != nullptr) std::memcpy(&type, types->elements + 4 * i, 4);
        const std::string_view text = tokens.strings[i];
        if (type == kTokenControl || type == kTokenUserDefined) {
            spec.added.push_back(
                {static_cast<int32_t>(i), std::string(text), type == kTokenControl});
        } else if (type != kTokenUnused) {
            spec.vocab[i] = std::string(text);
        }
    }
    const GgufValue& merges = g.get_array("tokenizer.ggml.merges", GgufType::String);
    spec.merges.reserve(merges.count);
    for (std::string_view m : merges.strings) spec.merges.emplace_back(m);
    return spec;
}

int64_t meta_int(const GgufFile& g, const std::string& key) {
    uint64_t v = g.get_uint(key);
    if (v > (uint64_t{1} << 40)) fail("{}: metadata {} = {} is out of range", g.path(), key, v);
    return static_cast<int64_t>(v);
}

}  // namespace

Checkpoint load_gguf(const std::string& file, const LoadOptions& options) {
    GgufFile g(file);
    Checkpoint ckpt;
    ckpt.path = file;
    ckpt.format = "gguf";

    std::string arch = g.get_string("general.architecture");
    if (arch == "qwen3moe") {
        fail(
            "{}: Qwen3 MoE (general.architecture qwen3moe) is not supported: vase runs the dense "
            "Qwen3 architecture only",
            file);
    }
    if (arch != "qwen3") {
        fail("{}: unsupported architecture {} (general.architecture): vase runs qwen3 only", file,
             arch);
    }
    const std::string p = "qwen3.";
    if (g.has(p + "expert_count") && g.get_uint(p + "expert_count") > 0) {
        fail("{}: Qwen3 MoE ({}expert_count > 0) is not supported", file, p);
    }
    if (g.has(p + "rope.scaling.type")) {
        std::string type = g.get_string(p + "rope.scaling.type");
        if (type != "none") {
            fail(
                "{}: unsupported rope scaling type {} ({}rope.scaling.type): vase implements "
                "plain RoPE only",
                file, type, p);
        }
    }

    ModelConfig& c = ckpt.config;
    c.architecture = "qwen3";
    c.max_position_embeddings = meta_int(g, p + "context_length");
    c.hidden_size = meta_int(g, p + "embedding_length");
    c.n_layers = meta_int(g, p + "block_count");
    c.intermediate_size = meta_int(g, p + "feed_forward_length");
    c.n_heads = meta_int(g, p + "attention.head_count");
    c.n_kv_heads = g.has(p + "attention.head_count_kv") ? meta_int(g, p + "attention.head_count_kv")
                                                        : c.n_heads;
    if (g.has(p + "attention.key_length")) {
        c.head_dim = meta_int(g, p + "attention.key_length");
    } else {
        if (c.n_heads <= 0) fail("{}: {}attention.head_count is 0", file, p);
        c.head_dim = c.hidden_size / c.n_heads;
    }
    if (g.has(p + "attention.value_length") &&
        meta_int(g, p + "attention.value_length") != c.head_dim) {
        fail(
            "{}: {}attention.value_length ({}) differs from key_length ({}); Qwen3 has one "
            "head_dim",
            file, p, meta_int(g, p + "attention.value_length"), c.head_dim);
    }
    c.rms_norm_eps = g.get_float(p + "attention.layer_norm_rms_epsilon");
    // llama.cpp's default when the key is absent; the files we write always carry it.
    c.rope_theta = g.has(p + "rope.freq_base") ? g.get_float(p + "rope.freq_base") : 10000.0;

    ckpt.tokenizer = tokenizer_from_gguf(g);
    c.vocab_size = static_cast<int64_t>(ckpt.tokenizer.vocab.size());
    c.tie_word_embeddings = true;
    for (const GgufTensorInfo& t : g.tensors()) {
        if (t.name == "output.weight") c.tie_word_embeddings = false;
    }
    c.validate(file);
    if (g.has("tokenizer.chat_template")) {
        ckpt.chat_template = g.get_string("tokenizer.chat_template");
    }

    // Qwen3's recommended sampling (its generation_config.json), unless the
    // file carries llama.cpp's general.sampling.* keys.
    GenerationConfig& gen = ckpt.generation;
    gen.temperature = 0.6f;
    gen.top_p = 0.95f;
    gen.top_k = 20;
    gen.min_p = 0.0f;
    gen.do_sample = true;
    if (g.has("general.sampling.temp")) {
        gen.temperature = static_cast<float>(g.get_float("general.sampling.temp"));
    }
    if (g.has("general.sampling.top_p")) {
        gen.top_p = static_cast<float>(g.get_float("general.sampling.top_p"));
    }
    if (g.has("general.sampling.min_p")) {
        gen.min_p = static_cast<float>(g.get_float("general.sampling.min_p"));
    }
    if (g.has("general.sampling.top_k")) {
        int64_t k = g.get_int("general.sampling.top_k");
        if (k < 0 || k > std::numeric_limits<int32_t>::max()) {
            fail("{}: general.sampling.top_k = {} is out of range", file, k);
        }
        gen.top_k = static_cast<int>(k);
    }
    if (!(gen.temperature >= 0.0f) || !(gen.top_p > 0.0f && gen.top_p <= 1.0f) ||
        !(gen.min_p >= 0.0f && gen.min_p <= 1.0f)) {
        fail("{}: general.sampling.* values out of range (temp {}, top_p {}, min_p {})", file,
             gen.temperature, gen.top_p, gen.min_p);
    }
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
        if (!g.has(key)) continue;
        uint64_t id = g.get_uint(key);
        if (id >= static_cast<uint64_t>(c.vocab_size)) {
            fail("{}: {} = {} is outside the vocabulary (size {})", file, key, id, c.vocab_size);
        }
        add_unique(gen.eos_token_ids, static_cast<int32_t>(id));
    }
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.padding_token_id"}) {
        if (g.has(key) && g.get_uint(key) >= static_cast<uint64_t>(c.vocab_size)) {
            fail("{}: {} = {} is outside the vocabulary (size {})", file, key, g.get_uint(key),
                 c.vocab_size);
        }
    }
    // llama.cpp ends generation at either of these for Qwen3 (it marks both as
    // end-of-generation tokens), whatever the eos id says; do the same.
    for (const char* text : {"<|im_end|>", "<|endoftext|>"}) {
        int32_t id = find_token_id(ckpt.tokenizer, text);
        if (id >= 0) add_unique(gen.eos_token_ids, id);
    }

    std::map<std::string, LoadedTensor> found;
    for (const GgufTensorInfo& t : g.tensors()) {
        std::optional<std::string> hf = hf_name_of_gguf(t.name);
        if (!hf) continue;  // e.g. rope_freqs.weight: not part of Qwen3
        LoadedTensor lt;
        switch (t.ggml_type) {
            case kGgmlTypeF32:
                lt.view.dtype = DType::F32;
                break;
            case kGgmlTypeF16:
                lt.view.dtype = DType::F16;
                break;
            case kGgmlTypeBF16:
                lt.view.dtype = DType::BF16;
                break;
            case kGgmlTypeQ8_0:
                lt.view.dtype = DType::Q8_0;
                break;
            default:
                fail("{}: tensor {} has type {}; vase reads F32, F16, BF16 and Q8_0", file, t.name,
                     ggml_type_name(t.ggml_type));
        }
        lt.view.name = *hf;
        lt.view.shape.assign(t.ne.rbegin(), t.ne.rend());
        lt.view.data = g.file_data() + t.offset;
        lt.view.nbytes = t.nbytes;
        lt.file = file;
        found.emplace(*hf, std::move(lt));
    }
    // GGUF names in messages would be friendlier, but the forward pass and the
    // shape checks speak Hugging Face names; the mapping is in hf_name_of_gguf.
    adopt_tensors(ckpt, found, file, "the GGUF metadata", options);
    ckpt.files.push_back(g.take_file());
    return ckpt;
}

namespace {
bool has_gguf_magic(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    char magic[4] = {};
    size_t n = std::fread(magic, 1, 4, f);
    std::fclose(f);
    return n == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}
}  // namespace

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return load_hf_directory(path, options);
    if (!fs::exists(path, ec)) fail("{}: no such file or directory", path);
    const fs::path p(path);
    if (p.extension() == ".safetensors" || p.extension() == ".json") {
        fail("{}: give the model directory ({}), not a file inside it", path,
             p.parent_path().empty() ? "." : p.parent_path().string());
    }
    return load_gguf(path, options);
}

TokenizerSpec load_tokenizer_spec(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        const std::string file = join_path(path, "tokenizer.json");
        if (!fs::exists(file, ec)) fail("{}: no tokenizer.json in this directory", path);
        return read_hf_tokenizer(file);
    }
    if (!fs::exists(path, ec)) fail("{}: no such file or directory", path);
    if (fs::path(path).extension() == ".json") return read_hf_tokenizer(path);
    if (!has_gguf_magic(path)) {
        fail("{}: not a tokenizer: expected a model directory, a tokenizer.json or a GGUF file",
             path);
    }
    GgufFile g(path);  // maps the file but touches only the metadata pages
    return tokenizer_from_gguf(g);
}

int32_t find_token_id(const TokenizerSpec& spec, std::string_view text) {
    if (text.empty()) return -1;
    for (const AddedToken& a : spec.added) {
        if (a.content == text) return a.id;
    }
    for (size_t i = 0; i < spec.vocab.size(); ++i) {
        if (spec.vocab[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
}

}  // namespace vase
