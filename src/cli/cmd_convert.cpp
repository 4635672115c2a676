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
#include "model/gguf_qwen3.h"
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
        Qwen3GgufMetadata meta;
        meta.name = name;
        meta.file_type = file_type;
        meta.config = c;
        meta.generation = ckpt.generation;
        meta.tokenizer = &ckpt.tokenizer;
        meta.chat_template = ckpt.chat_template;
        meta.source = ckpt.path;
        add_qwen3_gguf_metadata(w, meta);
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
