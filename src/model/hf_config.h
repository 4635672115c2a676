// The JSON files of a Hugging Face model directory: config.json,
// generation_config.json and tokenizer_config.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace vase {

// What config.json says. Fails (naming `source`) on MoE, on any architecture
// other than Qwen3ForCausalLM, on rope_scaling and on malformed values; the
// returned ModelConfig is not yet validate()d.
struct HfConfig {
    ModelConfig model;
    std::vector<int32_t> eos_token_ids;  // config.json's eos_token_id (int or list)
    std::optional<int32_t> bos_token_id;
};
HfConfig parse_hf_config(std::string_view json_text, const std::string& source);

// generation_config.json; keys not present keep GenerationConfig's defaults.
GenerationConfig parse_hf_generation_config(std::string_view json_text, const std::string& source);

struct HfTokenizerConfig {
    std::string chat_template;  // "" if none
    std::string eos_token;      // "" if none
    std::string bos_token;      // "" if none
};
HfTokenizerConfig parse_hf_tokenizer_config(std::string_view json_text, const std::string& source);

}  // namespace vase
