// The metadata of a Qwen3 GGUF file as vase writes it (vase convert, vase
// make-model): architecture and shape (qwen3.*), sampling defaults
// (general.sampling.*) and the tokenizer (tokenizer.ggml.*) in the form that
// load_gguf and llama.cpp read back.
#pragma once

#include <cstdint>
#include <string>

#include "model/config.h"
#include "model/gguf.h"
#include "ops/dtype.h"
#include "text/tokenizer.h"

namespace vase {

// llama.cpp's LLAMA_FTYPE_* of a file whose matrices are `t` (informational).
uint32_t llama_file_type(DType t);

struct Qwen3GgufMetadata {
    std::string name;              // general.name
    DType file_type = DType::F32;  // the matrices' type
    ModelConfig config;
    // Sampling defaults (do_sample = false is written as temperature 0) and stop
    // ids: eos_token_ids[0] is the eos; <|im_end|> and <|endoftext|> are stops
    // load_gguf adds by itself, and one more id can be named (as eot).
    GenerationConfig generation;
    const TokenizerSpec* tokenizer = nullptr;
    std::string chat_template;  // "" = none
    std::string source;         // names the input in error messages
};

// Adds every metadata key of the file; fails (naming m.source) where GGUF cannot
// say what the checkpoint holds: a pre-tokenizer other than Qwen2's, or more
// stop ids than GGUF has keys for.
void add_qwen3_gguf_metadata(GgufWriter& w, const Qwen3GgufMetadata& m);

}  // namespace vase
