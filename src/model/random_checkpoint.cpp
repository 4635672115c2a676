#include "model/random_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/gguf.h"
#include "model/gguf_qwen3.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/token_lookup.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/rng.h"

#ifndef VASE_SOURCE_DIR
#define VASE_SOURCE_DIR "."
#endif

namespace vase {
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Shapes

ModelConfig qwen3_shape(const std::string& name) {
    ModelConfig c;
    c.architecture = "qwen3";
    c.vocab_size = 151936;
    c.max_position_embeddings = 40960;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1000000.0;
    c.head_dim = 128;
    c.n_kv_heads = 8;
    c.tie_word_embeddings = true;
    if (name == "qwen3-0.6b") {
        c.hidden_size = 1024;
        c.intermediate_size = 3072;
        c.n_layers = 28;
        c.n_heads = 16;
    } else if (name == "qwen3-1.7b") {
        c.hidden_size = 2048;
        c.intermediate_size = 6144;
        c.n_layers = 28;
        c.n_heads = 16;
    } else if (name == "qwen3-4b") {
        c.hidden_size = 2560;
        c.intermediate_size = 9728;
        c.n_layers = 36;
        c.n_heads = 32;
    } else if (name == "tiny") {
        // The real vocabulary: the Qwen3 tokenizer produces ids up to 151668.
        c.hidden_size = 64;
        c.intermediate_size = 128;
        c.n_layers = 2;
        c.n_heads = 4;
        c.n_kv_heads = 2;
        c.head_dim = 16;
        c.tie_word_embeddings = false;
    } else {
        fail("unknown model shape '{}' (known: qwen3-0.6b, qwen3-1.7b, qwen3-4b, tiny)", name);
    }
    return c;
}

std::vector<std::string> qwen3_shape_names() {
    return {"qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "tiny"};
}

std::string default_tokenizer_dir() {
    if (const char* env = std::getenv("VASE_TOKENIZER_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return (fs::path(VASE_SOURCE_DIR) / "third_party" / "qwen3-tokenizer").string();
}

// ---------------------------------------------------------------------------------------------
// Values

namespace {

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Standard normals, two per 64-bit draw (Box-Muller keeping both values).
void fill_normal(Rng& rng, float* out, int64_t n, float mean, float stddev) {
    constexpr double kTwoPi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        uint64_t bits = rng.next_u64();
        double u1 = (static_cast<double>(bits >> 40) + 0.5) * 0x1.0p-24;  // (0, 1)
        double u2 = static_cast<double>(bits & 0xffffffu) * 0x1.0p-24;    // [0, 1)
        double r = std::sqrt(-2.0 * std::log(u1));
        double a = kTwoPi * u2;
        out[i] = mean + stddev * static_cast<float>(r * std::cos(a));
        if (i + 1 < n) out[i + 1] = mean + stddev * static_cast<float>(r * std::sin(a));
    }
}

}  // namespace

void random_tensor_rows(const std::string& name, const std::vector<int64_t>& shape,
                        const ModelConfig& config, uint64_t seed, int64_t first_row, int64_t n_rows,
                        float* out) {
    const int64_t cols = shape.back();
    float mean = 0.0f;
    float stddev = 0.02f;
    if (shape.size() == 1) {
        mean = 1.0f;
        stddev = 0.1f;
    } else if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
        stddev = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.hidden_size)));
    }
    const uint64_t tensor_seed = fnv1a(name) ^ (seed * 0x9e3779b97f4a7c15ull);
    for (int64_t r = 0; r < n_rows; ++r) {
        Rng rng = Rng::derive(tensor_seed, static_cast<uint64_t>(first_row + r));
        fill_normal(rng, out + r * cols, cols, mean, stddev);
    }
}

void quantize_q8_0(const float* x, int64_t n, BlockQ8_0* out) {
    for (int64_t b = 0; b < n / kQ8BlockSize; ++b) {
        const float* v = x + b * kQ8BlockSize;
        float amax = 0.0f;
        for (int k = 0; k < kQ8BlockSize; ++k) amax = std::max(amax, std::fabs(v[k]));
        // As ggml's reference quantizer: the f32 scale's inverse multiplies, and
        // std::round rounds half away from zero; the scale is stored as f16.
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].scale = f32_to_f16(d);
        for (int k = 0; k < kQ8BlockSize; ++k) {
            float q = std::round(v[k] * id);
            out[b].q[k] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
        }
    }
}

void encode_values(const float* x, int64_t n, DType dtype, void* out) {
    switch (dtype) {
        case DType::F32:
            std::memcpy(out, x, static_cast<size_t>(n) * 4);
            return;
        case DType::F16: {
            auto* o = static_cast<uint16_t*>(out);
            for (int64_t i = 0; i < n; ++i) o[i] = f32_to_f16(x[i]);
            return;
        }
        case DType::BF16: {
            auto* o = static_cast<uint16_t*>(out);
            for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
            return;
        }
        case DType::Q8_0:
            quantize_q8_0(x, n, static_cast<BlockQ8_0*>(out));
            return;
    }
}

namespace {

// Rounds values to what `dtype` can hold (F32: unchanged; Q8_0: unchanged, as
// GGUF keeps norms in F32 next to Q8_0 matrices).
void round_to(float* x, int64_t n, DType dtype) {
    if (dtype == DType::F16) {
        for (int64_t i = 0; i < n; ++i) x[i] = f16_to_f32(f32_to_f16(x[i]));
    } else if (dtype == DType::BF16) {
        for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
    }
}

struct PlannedTensor {
    std::string name;
    std::vector<int64_t> shape;
    DType stored;
    uint64_t nbytes;
};

// Streams the values of every planned tensor through `sink(data, nbytes)`,
// about 1M values at a time. Values are rounded to `value_dtype` first, so a
// norm kept in F32 (GGUF) holds the same numbers as its BF16 twin (HF).
template <typename Sink>
void stream_tensors(const std::vector<PlannedTensor>& plan, const RandomCheckpointOptions& o,
                    Sink&& sink) {
    std::vector<float> values;
    std::vector<uint8_t> bytes;
    for (const PlannedTensor& t : plan) {
        const int64_t cols = t.shape.back();
        const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0];
        const int64_t chunk_rows = std::max<int64_t>(1, (int64_t{1} << 20) / cols);
        for (int64_t r = 0; r < rows; r += chunk_rows) {
            const int64_t n_rows = std::min(chunk_rows, rows - r);
            const int64_t n = n_rows * cols;
            values.resize(static_cast<size_t>(n));
            random_tensor_rows(t.name, t.shape, o.config, o.seed, r, n_rows, values.data());
            if (t.stored != o.dtype) round_to(values.data(), n, o.dtype);
            bytes.resize(dtype_row_bytes(t.stored, static_cast<uint64_t>(cols)) *
                         static_cast<size_t>(n_rows));
            encode_values(values.data(), n, t.stored, bytes.data());
            sink(bytes.data(), bytes.size());
        }
    }
}

std::vector<PlannedTensor> plan_tensors(const RandomCheckpointOptions& o, bool gguf) {
    std::vector<PlannedTensor> plan;
    for (ExpectedTensor& e : expected_tensors(o.config)) {
        PlannedTensor t;
        t.name = std::move(e.name);
        t.shape = std::move(e.shape);
        // GGUF keeps 1-D tensors (norms) in F32, as llama.cpp's converter does.
        t.stored = gguf && t.shape.size() == 1 ? DType::F32 : o.dtype;
        uint64_t rows = t.shape.size() == 1 ? 1 : static_cast<uint64_t>(t.shape[0]);
        t.nbytes = dtype_row_bytes(t.stored, static_cast<uint64_t>(t.shape.back())) * rows;
        plan.push_back(std::move(t));
    }
    return plan;
}

struct TokenizerFiles {
    std::string tokenizer_json;
    std::string tokenizer_config_json;  // "" if absent
    TokenizerSpec spec;
    HfTokenizerConfig config;
};

TokenizerFiles read_tokenizer_files(const std::string& dir) {
    const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
    std::error_code ec;
    if (!fs::exists(json_path, ec)) {
        fail(
            "{}: no tokenizer.json there. Give --tokenizer DIR (a directory with tokenizer.json "
            "and tokenizer_config.json) or set VASE_TOKENIZER_DIR; scripts/setup.sh installs the "
            "Qwen3 tokenizer into third_party/qwen3-tokenizer",
            dir);
    }
    TokenizerFiles t;
    t.tokenizer_json = read_text_file(json_path);
    t.spec = parse_hf_tokenizer_json(t.tokenizer_json, json_path);
    const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
    if (fs::exists(config_path, ec)) {
        t.tokenizer_config_json = read_text_file(config_path);
        t.config = parse_hf_tokenizer_config(t.tokenizer_config_json, config_path);
    }
    return t;
}

// Special ids as Qwen3 ships them: generation stops at <|im_end|> (the chat
// turn end, tokenizer_config's eos_token) and <|endoftext|>; bos and padding
// are <|endoftext|> (Qwen3 adds no bos token).
struct SpecialIds {
    std::vector<int32_t> eos;  // first: the tokenizer's eos
    int32_t bos = -1;
};

SpecialIds special_ids(const TokenizerFiles& tok) {
    SpecialIds s;
    auto add = [&](int32_t id) {
        if (id >= 0 && std::find(s.eos.begin(), s.eos.end(), id) == s.eos.end())
            s.eos.push_back(id);
    };
    add(find_token_id(tok.spec, tok.config.eos_token));
    add(find_token_id(tok.spec, "<|im_end|>"));
    add(find_token_id(tok.spec, "<|endoftext|>"));
    s.bos = find_token_id(tok.spec, "<|endoftext|>");
    if (s.bos < 0 && !s.eos.empty()) s.bos = s.eos.back();
    return s;
}

void check_tokenizer_fits(const TokenizerSpec& spec, const ModelConfig& c) {
    int64_t max_id = static_cast<int64_t>(spec.vocab.size()) - 1;
    for (const AddedToken& a : spec.added) max_id = std::max<int64_t>(max_id, a.id);
    if (max_id >= c.vocab_size) {
        fail("{}: the tokenizer has ids up to {} but the model's vocab_size is {}", spec.source,
             max_id, c.vocab_size);
    }
}

const char* torch_dtype_name(DType t) {
    switch (t) {
        case DType::F32:
            return "float32";
        case DType::F16:
            return "float16";
        case DType::BF16:
            return "bfloat16";
        case DType::Q8_0:
            break;
    }
    return "?";
}

void write_text_file(const std::string& path, const std::string& text) {
    BinaryWriter out(path);
    out.put_bytes(text);
    out.close();
}

void write_hf(const RandomCheckpointOptions& o, const std::string& dir, const TokenizerFiles& tok) {
    if (o.dtype == DType::Q8_0) {
        fail("--dtype q8_0 needs --format gguf: safetensors has no Q8_0 type");
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir, ec)) fail("{}: cannot create directory", dir);
    // Weights of an earlier run would shadow or mix with the new ones.
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name == "model.safetensors" || name == "model.safetensors.index.json" ||
            (name.rfind("model-", 0) == 0 && entry.path().extension() == ".safetensors")) {
            fs::remove(entry.path(), ec);
        }
    }
    const ModelConfig& c = o.config;
    const SpecialIds ids = special_ids(tok);

    nlohmann::ordered_json config = {
        {"architectures", {"Qwen3ForCausalLM"}},
        {"attention_bias", false},
        {"attention_dropout", 0.0},
        {"bos_token_id", ids.bos >= 0 ? nlohmann::ordered_json(ids.bos) : nullptr},
        {"eos_token_id",
         ids.eos.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ids.eos[0])},
        {"head_dim", c.head_dim},
        {"hidden_act", "silu"},
        {"hidden_size", c.hidden_size},
        {"initializer_range", 0.02},
        {"intermediate_size", c.intermediate_size},
        {"max_position_embeddings", c.max_position_embeddings},
        {"max_window_layers", c.n_layers},
        {"model_type", "qwen3"},
        {"num_attention_heads", c.n_heads},
        {"num_hidden_layers", c.n_layers},
        {"num_key_value_heads", c.n_kv_heads},
        {"rms_norm_eps", c.rms_norm_eps},
        {"rope_scaling", nullptr},
        {"rope_theta", c.rope_theta},
        {"sliding_window", nullptr},
        {"tie_word_embeddings", c.tie_word_embeddings},
        {"torch_dtype", torch_dtype_name(o.dtype)},
        {"transformers_version", "4.51.0"},
        {"use_cache", true},
        {"use_sliding_window", false},
        {"vocab_size", c.vocab_size},
    };
    write_text_file((fs::path(dir) / "config.json").string(), config.dump(2) + "\n");

    nlohmann::ordered_json gen = {
        {"bos_token_id", ids.bos >= 0 ? nlohmann::ordered_json(ids.bos) : nullptr},
        {"do_sample", true},
        {"eos_token_id", ids.eos},
        {"pad_token_id", ids.bos >= 0 ? nlohmann::ordered_json(ids.bos) : nullptr},
        {"temperature", 0.6},
        {"top_k", 20},
        {"top_p", 0.95},
        {"transformers_version", "4.51.0"},
    };
    write_text_file((fs::path(dir) / "generation_config.json").string(), gen.dump(2) + "\n");
    write_text_file((fs::path(dir) / "tokenizer.json").string(), tok.tokenizer_json);
    if (!tok.tokenizer_config_json.empty()) {
        write_text_file((fs::path(dir) / "tokenizer_config.json").string(),
                        tok.tokenizer_config_json);
    }

    const std::vector<PlannedTensor> plan = plan_tensors(o, false);
    // Shards: consecutive tensors, a new file once the current one is full.
    std::vector<std::vector<PlannedTensor>> shards(1);
    uint64_t shard_size = 0;
    for (const PlannedTensor& t : plan) {
        if (o.shard_bytes > 0 && shard_size > 0 && shard_size + t.nbytes > o.shard_bytes) {
            shards.emplace_back();
            shard_size = 0;
        }
        shards.back().push_back(t);
        shard_size += t.nbytes;
    }
    const std::map<std::string, std::string> metadata = {{"format", "pt"}};
    if (o.shard_bytes == 0) {
        std::vector<SafetensorsWriter::Tensor> decl;
        for (const PlannedTensor& t : plan) decl.push_back({t.name, t.stored, t.shape});
        SafetensorsWriter w((fs::path(dir) / "model.safetensors").string(), decl, metadata);
        stream_tensors(plan, o, [&](const void* p, size_t n) { w.write(p, n); });
        w.finish();
        return;
    }
    nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
    uint64_t total = 0;
    for (size_t s = 0; s < shards.size(); ++s) {
        const std::string file =
            fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
        std::vector<SafetensorsWriter::Tensor> decl;
        for (const PlannedTensor& t : shards[s]) {
            decl.push_back({t.name, t.stored, t.shape});
            weight_map[t.name] = file;
            total += t.nbytes;
        }
        SafetensorsWriter w((fs::path(dir) / file).string(), decl, metadata);
        stream_tensors(shards[s], o, [&](const void* p, size_t n) { w.write(p, n); });
        w.finish();
    }
    nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}},
                                    {"weight_map", weight_map}};
    write_text_file((fs::path(dir) / "model.safetensors.index.json").string(),
                    index.dump(2) + "\n");
}

void write_gguf(const RandomCheckpointOptions& o, const std::string& file,
                const TokenizerFiles& tok) {
    const ModelConfig& c = o.config;
    GgufWriter w(file);
    Qwen3GgufMetadata meta;
    meta.name = o.name;
    meta.file_type = o.dtype;
    meta.config = c;
    // Qwen3's generation_config.json.
    meta.generation.temperature = 0.6f;
    meta.generation.top_p = 0.95f;
    meta.generation.top_k = 20;
    meta.generation.eos_token_ids = special_ids(tok).eos;
    meta.tokenizer = &tok.spec;
    meta.chat_template = tok.config.chat_template;
    meta.source = file;
    add_qwen3_gguf_metadata(w, meta);

    const std::vector<PlannedTensor> plan = plan_tensors(o, true);
    for (const PlannedTensor& t : plan) {
        w.add_tensor(*gguf_name_of_hf(t.name), t.stored, t.shape);
    }
    w.write_header();
    stream_tensors(plan, o, [&](const void* p, size_t n) { w.write(p, n); });
    w.finish();
}

}  // namespace

void write_random_checkpoint(const RandomCheckpointOptions& o, const std::string& out) {
    o.config.validate("random checkpoint");
    if (o.dtype == DType::Q8_0 && o.config.hidden_size % kQ8BlockSize != 0) {
        fail("--dtype q8_0 needs hidden_size a multiple of 32 (got {})", o.config.hidden_size);
    }
    if (o.dtype == DType::Q8_0 && o.config.intermediate_size % kQ8BlockSize != 0) {
        fail("--dtype q8_0 needs intermediate_size a multiple of 32 (got {})",
             o.config.intermediate_size);
    }
    if (o.dtype == DType::Q8_0 && (o.config.n_heads * o.config.head_dim) % kQ8BlockSize != 0) {
        fail("--dtype q8_0 needs heads x head_dim a multiple of 32");
    }
    const std::string tok_dir = o.tokenizer_dir.empty() ? default_tokenizer_dir() : o.tokenizer_dir;
    TokenizerFiles tok = read_tokenizer_files(tok_dir);
    check_tokenizer_fits(tok.spec, o.config);
    if (o.format == CheckpointFormat::HuggingFace) {
        write_hf(o, out, tok);
    } else {
        write_gguf(o, out, tok);
    }
}

}  // namespace vase
