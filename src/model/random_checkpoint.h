// Random-weight Qwen3 checkpoints of real shapes, in both formats vase reads,
// for tests, benchmarks and side-by-side runs with llama.cpp / transformers.
// Weights are written tensor by tensor (an 8 GB checkpoint needs a few MB of
// memory) and depend only on the seed and the tensor's name, so the same seed
// gives the same values in a Hugging Face directory and in a GGUF file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "ops/dtype.h"
#include "text/tokenizer.h"

namespace vase {

// Named shapes: "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b" (the released
// architectures) and "tiny" (2 layers, hidden 64, the real 151936 vocabulary).
ModelConfig qwen3_shape(const std::string& name);  // throws vase::Error on an unknown name
std::vector<std::string> qwen3_shape_names();

enum class CheckpointFormat { HuggingFace, Gguf };

struct RandomCheckpointOptions {
    ModelConfig config;
    CheckpointFormat format = CheckpointFormat::HuggingFace;
    DType dtype = DType::BF16;  // of the matrices; Q8_0 only for GGUF
    uint64_t seed = 0;
    // tokenizer.json and tokenizer_config.json come from here (copied into a
    // Hugging Face directory, turned into tokenizer.ggml.* metadata for GGUF).
    std::string tokenizer_dir;
    std::string name = "vase-random-qwen3";  // general.name in GGUF
    // Hugging Face only: split the weights into shards of about this many
    // bytes with a model.safetensors.index.json (0 = one model.safetensors).
    uint64_t shard_bytes = 0;
};

// Writes a Hugging Face directory (created if needed; files in it are
// overwritten) or a GGUF file at `out`. Throws vase::Error naming the path.
void write_random_checkpoint(const RandomCheckpointOptions& options, const std::string& out);

// The values written for rows [first_row, first_row + n_rows) of a tensor
// (before rounding to the dtype), in PyTorch order; a 1-D tensor is one row.
// Each row has its own random stream, so any rows can be made independently.
// Linear weights ~ N(0, 0.02); embed_tokens and lm_head ~ N(0, 1/sqrt(hidden))
// so that logits of a random model have a standard deviation near 1; norm
// weights ~ 1 + N(0, 0.1), so that they are exercised.
void random_tensor_rows(const std::string& name, const std::vector<int64_t>& shape,
                        const ModelConfig& config, uint64_t seed, int64_t first_row, int64_t n_rows,
                        float* out);

// Where the tokenizer files are looked for by default: $VASE_TOKENIZER_DIR if
// set, else third_party/qwen3-tokenizer of the source tree vase was built from.
std::string default_tokenizer_dir();

// Q8_0 as GGUF stores it: per block of 32 values, d = max|x| / 127 stored as
// f16 and q = round(x / d) (half away from zero). `n` must be a multiple of 32.
void quantize_q8_0(const float* x, int64_t n, BlockQ8_0* out);
// Encodes `n` values as `dtype` bytes into `out` (dtype_row_bytes(dtype, n) bytes).
void encode_values(const float* x, int64_t n, DType dtype, void* out);

}  // namespace vase
