// vase make-model: write a random-weight Qwen3 checkpoint of a real shape, as
// a Hugging Face directory or a GGUF file (loadable by llama.cpp too).
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct MakeModelArgs {
    std::string shape;
    std::string out;
    std::string format = "hf";
    std::string dtype = "bf16";
    uint64_t seed = 0;
    std::string tokenizer;
    std::string name;
    double shard_mb = 0;
    std::optional<int64_t> hidden, layers, heads, kv_heads, head_dim, intermediate, vocab;
    std::optional<double> rope_theta;
    bool tie = false;
    bool no_tie = false;
};

DType parse_dtype(const std::string& s) {
    if (s == "f32") return DType::F32;
    if (s == "f16") return DType::F16;
    if (s == "bf16") return DType::BF16;
    if (s == "q8_0") return DType::Q8_0;
    fail("--dtype {}: expected f32, f16, bf16 or q8_0", s);
}

void run_make_model(const MakeModelArgs& a) {
    RandomCheckpointOptions o;
    o.config = qwen3_shape(a.shape);
    if (a.format == "hf") {
        o.format = CheckpointFormat::HuggingFace;
    } else if (a.format == "gguf") {
        o.format = CheckpointFormat::Gguf;
    } else {
        fail("--format {}: expected hf or gguf", a.format);
    }
    o.dtype = parse_dtype(a.dtype);
    if (o.dtype == DType::Q8_0 && o.format != CheckpointFormat::Gguf) {
        fail("--dtype q8_0 needs --format gguf (safetensors has no Q8_0)");
    }
    ModelConfig& c = o.config;
    if (a.hidden) c.hidden_size = *a.hidden;
    if (a.layers) c.n_layers = *a.layers;
    if (a.heads) c.n_heads = *a.heads;
    if (a.kv_heads) c.n_kv_heads = *a.kv_heads;
    if (a.head_dim) c.head_dim = *a.head_dim;
    if (a.intermediate) c.intermediate_size = *a.intermediate;
    if (a.vocab) c.vocab_size = *a.vocab;
    if (a.rope_theta) c.rope_theta = *a.rope_theta;
    if (a.tie && a.no_tie) fail("give --tie or --no-tie, not both");
    if (a.tie) c.tie_word_embeddings = true;
    if (a.no_tie) c.tie_word_embeddings = false;
    c.validate("make-model");
    o.seed = a.seed;
    o.tokenizer_dir = a.tokenizer;
    o.name = a.name.empty() ? "vase-random-" + a.shape : a.name;
    if (a.shard_mb < 0) fail("--shard-mb must be >= 0");
    o.shard_bytes = static_cast<uint64_t>(a.shard_mb * 1024 * 1024);

    uint64_t params = 0;
    for (const ExpectedTensor& t : expected_tensors(c)) {
        uint64_t n = 1;
        for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
        params += n;
    }
    std::fprintf(
        stderr, "make-model: %s, %lld layers, hidden %lld, %.3f B parameters, %s, %s -> %s\n",
        a.shape.c_str(), static_cast<long long>(c.n_layers), static_cast<long long>(c.hidden_size),
        static_cast<double>(params) * 1e-9, a.dtype.c_str(), a.format.c_str(), a.out.c_str());
    auto start = std::chrono::steady_clock::now();
    write_random_checkpoint(o, a.out);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "make-model: wrote %s in %.1f s\n", a.out.c_str(), seconds);
}

}  // namespace

void register_make_model(CLI::App& app) {
    auto args = std::make_shared<MakeModelArgs>();
    CLI::App* cmd = app.add_subcommand(
        "make-model",
        "Write a random-weight Qwen3 checkpoint (Hugging Face directory or GGUF file)");
    cmd->add_option("--shape", args->shape, "qwen3-0.6b, qwen3-1.7b, qwen3-4b or tiny")->required();
    cmd->add_option("--out", args->out, "Output directory (hf) or file (gguf)")->required();
    cmd->add_option("--format", args->format, "hf or gguf")->capture_default_str();
    cmd->add_option("--dtype", args->dtype, "f32, f16, bf16, or q8_0 (gguf only)")
        ->capture_default_str();
    cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
    cmd->add_option("--tokenizer", args->tokenizer,
                    "Directory with tokenizer.json and tokenizer_config.json (default: "
                    "$VASE_TOKENIZER_DIR, else " +
                        default_tokenizer_dir() + ")");
    cmd->add_option("--name", args->name, "general.name of a GGUF file");
    cmd->add_option("--shard-mb", args->shard_mb,
                    "hf: split weights into shards of about this many MiB (0 = one file)");
    cmd->add_option("--hidden", args->hidden, "Override hidden_size");
    cmd->add_option("--layers", args->layers, "Override num_hidden_layers");
    cmd->add_option("--heads", args->heads, "Override num_attention_heads");
    cmd->add_option("--kv-heads", args->kv_heads, "Override num_key_value_heads");
    cmd->add_option("--head-dim", args->head_dim, "Override head_dim");
    cmd->add_option("--intermediate", args->intermediate, "Override intermediate_size");
    cmd->add_option("--vocab", args->vocab, "Override vocab_size");
    cmd->add_option("--rope-theta", args->rope_theta, "Override rope_theta");
    cmd->add_flag("--tie", args->tie, "Tie lm_head to the embedding");
    cmd->add_flag("--no-tie", args->no_tie, "Separate lm_head");
    cmd->callback([args] { run_make_model(*args); });
}

}  // namespace vase::cli
