// vase convert: a checkpoint vase can load (a Hugging Face Qwen3 directory, or
// a GGUF file) written as a GGUF v3 file that vase and llama.cpp load: the
// same configuration, tokenizer (tokenizer.ggml.*), chat template, sampling
// defaults and weights, optionally re-typed.
//
//   vase convert --model models/testbed --out testbed.gguf --dtype f32
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/gguf.h"
#include "model/random_checkpoint.h"
#include "ops/kernels.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct ConvertArgs {
    std::string model;
    std::string out;
    std::string dtype = "same";
};

// llama.cpp's LLAMA_FTYPE_* of a file whose matrices are `t` (informational).
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

int32_t find_token_id(const TokenizerSpec& spec, const std::string& text) {
    for (const AddedToken& a : spec.added) {
        if (a.content == text) return a.id;
    }
    for (size_t i = 0; i < spec.vocab.size(); ++i) {
        if (spec.vocab[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
}

// tokenizer.ggml.* as load_gguf reads them back: one entry per embedding row
// (unused ids as [PAD<id>]), added tokens typed control (special) or
// user-defined, the merges by rank, and the special ids.
void add_tokenizer(GgufWriter& w, const Checkpoint& ckpt) {
    const TokenizerSpec& spec = ckpt.tokenizer;
    if (spec.split_regex != kQwen2SplitRegex || !spec.nfc) {
        fail(
            "{}: the tokenizer's pre-tokenizer is not Qwen2's (NFC, then its split regex); GGUF "
            "can only name it as tokenizer.ggml.pre = qwen2 here",
            spec.source);
    }
    constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;
    const size_t n = static_cast<size_t>(ckpt.config.vocab_size);
    std::vector<std::string> tokens(n);
    std::vector<int32_t> types(n, kUnused);
    for (size_t i = 0; i < spec.vocab.size() && i < n; ++i) {
        if (spec.vocab[i].empty()) continue;
        tokens[i] = spec.vocab[i];
        types[i] = kNormal;
    }
    for (const AddedToken& a : spec.added) {
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

    // load_gguf stops at eos, eot, <|im_end|> and <|endoftext|>; a third stop
    // id of generation_config.json would have no GGUF key.
    const std::vector<int32_t>& eos = ckpt.generation.eos_token_ids;
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
            ckpt.path, extra.size());
    }
    if (!eos.empty()) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos[0]));
    if (!extra.empty()) w.add_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(extra[0]));
    const int32_t bos = endoftext >= 0 ? endoftext : (eos.empty() ? -1 : eos.back());
    if (bos >= 0) {
        w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
        w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(bos));
    }
    w.add_bool("tokenizer.ggml.add_bos_token", false);  // Qwen3 adds no bos token
    if (!ckpt.chat_template.empty()) w.add_string("tokenizer.chat_template", ckpt.chat_template);
}

DType parse_dtype(const std::string& s) {
    if (s == "f32") return DType::F32;
    if (s == "f16") return DType::F16;
    if (s == "bf16") return DType::BF16;
    if (s == "q8_0") return DType::Q8_0;
    fail("convert: --dtype must be same, f32, f16, bf16 or q8_0 (got '{}')", s);
}

void convert(const ConvertArgs& a) {
    const bool same = a.dtype == "same";
    const DType matrix_type = same ? DType::F32 : parse_dtype(a.dtype);
    if (std::filesystem::exists(a.out) && std::filesystem::equivalent(a.out, a.model)) {
        fail("convert: --out {} is the input checkpoint", a.out);
    }
    Checkpoint ckpt = load_checkpoint(a.model);
    const ModelConfig& c = ckpt.config;

    // Each tensor's stored type: 1-D tensors (norms) in F32 as llama.cpp's
    // converter keeps them, matrices as asked.
    struct Planned {
        const TensorView* view;
        std::string gguf_name;
        DType type;
    };
    std::vector<Planned> plan;
    DType file_type = matrix_type;
    for (const ExpectedTensor& e : expected_tensors(c)) {
        const TensorView& t = ckpt.tensor(e.name);
        DType type = t.shape.size() == 1 ? DType::F32 : (same ? t.dtype : matrix_type);
        if (type == DType::Q8_0 && t.shape.back() % kQ8BlockSize != 0) {
            fail("convert: --dtype q8_0 needs rows that are a multiple of {} values, but {} has {}",
                 kQ8BlockSize, e.name, t.shape.back());
        }
        if (same && t.shape.size() > 1) file_type = t.dtype;
        plan.push_back({&t, *gguf_name_of_hf(e.name), type});
    }

    // Written next to the target and renamed at the end, so a failed run leaves
    // no half-written file under the asked name.
    const std::string tmp = a.out + ".tmp";
    try {
        GgufWriter w(tmp);
        std::string name = std::filesystem::path(a.model).filename().string();
        if (name.empty()) name = std::filesystem::path(a.model).parent_path().filename().string();
        w.add_string("general.architecture", "qwen3");
        w.add_string("general.type", "model");
        w.add_string("general.name", name);
        w.add_u32("general.file_type", llama_file_type(file_type));
        if (file_type == DType::Q8_0) w.add_u32("general.quantization_version", 2);
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
        // generation_config.json's sampling, as llama.cpp's general.sampling.* keys
        // (do_sample = false is greedy: temperature 0).
        const GenerationConfig& g = ckpt.generation;
        w.add_f32("general.sampling.temp", g.do_sample ? g.temperature : 0.0f);
        w.add_f32("general.sampling.top_p", g.top_p);
        w.add_f32("general.sampling.min_p", g.min_p);
        w.add_i32("general.sampling.top_k", g.top_k);
        add_tokenizer(w, ckpt);
        for (const Planned& p : plan) w.add_tensor(p.gguf_name, p.type, p.view->shape);
        w.write_header();

        // Row by row through f32 (exact for every source type), then encoded.
        std::vector<float> row;
        std::vector<uint8_t> bytes;
        for (const Planned& p : plan) {
            const TensorView& t = *p.view;
            const int64_t cols = t.shape.back();
            const int64_t rows = t.numel() / std::max<int64_t>(cols, 1);
            const uint64_t in_row = dtype_row_bytes(t.dtype, static_cast<uint64_t>(cols));
            const auto* src = static_cast<const uint8_t*>(t.data);
            if (p.type == t.dtype) {
                w.write(src, in_row * static_cast<uint64_t>(rows));
                continue;
            }
            row.resize(static_cast<size_t>(cols));
            bytes.resize(dtype_row_bytes(p.type, static_cast<uint64_t>(cols)));
            for (int64_t r = 0; r < rows; ++r) {
                dequantize_row(t.dtype, src + in_row * static_cast<uint64_t>(r), cols, row.data());
                encode_values(row.data(), cols, p.type, bytes.data());
                w.write(bytes.data(), bytes.size());
            }
        }
        w.finish();
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, a.out, ec);
    if (ec) fail("{}: cannot move {} there: {}", a.out, tmp, ec.message());
    std::fprintf(stderr, "convert: wrote %s (%zu tensors, %s)\n", a.out.c_str(), plan.size(),
                 std::string(dtype_name(file_type)).c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
    auto a = std::make_shared<ConvertArgs>();
    CLI::App* cmd = app.add_subcommand(
        "convert",
        "Write a checkpoint (Hugging Face Qwen3 directory or GGUF) as a GGUF file with its\n"
        "tokenizer, chat template and sampling defaults");
    cmd->add_option("-m,--model", a->model, "Hugging Face model directory (or a GGUF file)")
        ->required();
    cmd->add_option("-o,--out", a->out, "GGUF file to write")->required();
    cmd->add_option(
           "--dtype", a->dtype,
           "Type of the matrices: same (as stored), f32, f16, bf16 or q8_0; norms stay f32")
        ->capture_default_str();
    cmd->callback([a] { convert(*a); });
}

}  // namespace vase::cli
