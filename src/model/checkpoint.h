// A loaded checkpoint: configuration, tokenizer, chat template and
// memory-mapped weights, from a Hugging Face directory or a GGUF file.
#pragma once

#include <map>
#include <memory>
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
    std::string chat_template;            // Jinja source as shipped (may be empty)
    std::map<std::string, TensorView> tensors;  // keyed by Hugging Face name
    std::vector<std::unique_ptr<MappedFile>> files;

    // Throws vase::Error "PATH: missing tensor NAME" if absent.
    const TensorView& tensor(const std::string& name) const;
    bool has_tensor(const std::string& name) const { return tensors.count(name) != 0; }
};

// A directory is read as Hugging Face (config.json, *.safetensors, tokenizer.json,
// tokenizer_config.json, generation_config.json); a file as GGUF v3.
// Throws vase::Error naming the file and what is wrong or unsupported.
Checkpoint load_checkpoint(const std::string& path);
Checkpoint load_hf_directory(const std::string& dir);
Checkpoint load_gguf(const std::string& file);

}  // namespace vase
