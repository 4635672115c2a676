// A loaded checkpoint: configuration, tokenizer, chat template and
// memory-mapped weights, from a Hugging Face directory or a GGUF file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/tensor.h"
#include "text/tokenizer.h"
#include "util/mapped_file.h"

namespace vase {

struct Checkpoint {
    std::string path;
    std::string format;  // "safetensors" or "gguf"
    ModelConfig config;
    GenerationConfig generation;
    TokenizerSpec tokenizer;
    std::string chat_template;                  // Jinja source as shipped (may be empty)
    std::map<std::string, TensorView> tensors;  // keyed by Hugging Face name
    std::vector<std::unique_ptr<MappedFile>> files;

    // Throws vase::Error "PATH: missing tensor NAME" if absent.
    const TensorView& tensor(const std::string& name) const;
    bool has_tensor(const std::string& name) const { return tensors.count(name) != 0; }
};

struct LoadOptions {
    // Scan every weight for NaN/Inf (reads all pages of the weights once; about
    // 0.2 s per GB once the file is in the page cache).
    bool check_finite = true;
};

// A directory is read as Hugging Face (config.json, *.safetensors, tokenizer.json,
// tokenizer_config.json, generation_config.json); a file as GGUF v3 (or v2).
// Throws vase::Error naming the file and what is wrong or unsupported.
// Tensors are keyed by Hugging Face name in PyTorch shape order (see
// expected_tensors); lm_head.weight is absent when tie_word_embeddings.
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options = {});
Checkpoint load_hf_directory(const std::string& dir, const LoadOptions& options = {});
Checkpoint load_gguf(const std::string& file, const LoadOptions& options = {});

// Only the tokenizer of a checkpoint: a directory -> its tokenizer.json, a
// .json file -> that file, a GGUF file -> its tokenizer.ggml.* metadata (the
// weights are not read). Throws vase::Error naming the path.
TokenizerSpec load_tokenizer_spec(const std::string& path);

// The tensors a Qwen3 checkpoint of this configuration must have, by Hugging
// Face name, with their PyTorch shapes ([out, in] for a Linear weight).
struct ExpectedTensor {
    std::string name;
    std::vector<int64_t> shape;
};
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Hugging Face name of a GGUF tensor name (blk.3.attn_q.weight ->
// model.layers.3.self_attn.q_proj.weight), or nullopt if it is not a Qwen3 tensor.
std::optional<std::string> hf_name_of_gguf(const std::string& gguf_name);
std::optional<std::string> gguf_name_of_hf(const std::string& hf_name);

// Index of the first NaN or Inf element of a tensor (for Q8_0: the first
// element of a block whose scale is NaN/Inf), or -1 if all are finite.
int64_t find_non_finite(const TensorView& tensor);

}  // namespace vase
