// The JSON files of a Hugging Face directory on arbitrary bytes: config.json
// (then ModelConfig::validate and the tensor list it implies),
// generation_config.json and tokenizer_config.json, plus a shard index as
// load_hf_directory reads it. Each must parse or throw vase::Error.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "model/checkpoint.h"
#include "model/hf_config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        vase::HfConfig hf = vase::parse_hf_config(text, "config.json");
        hf.model.validate("config.json");
        // validate() bounds the sizes, so the tensor list stays small enough to build.
        const std::vector<vase::ExpectedTensor> expected = vase::expected_tensors(hf.model);
        FUZZ_CHECK(expected.size() == static_cast<size_t>(11 * hf.model.n_layers + 2 +
                                                          (hf.model.tie_word_embeddings ? 0 : 1)));
        for (const vase::ExpectedTensor& t : expected) {
            for (int64_t d : t.shape) FUZZ_CHECK(d > 0);
        }
    } catch (const vase::Error&) {
    }
    try {
        vase::GenerationConfig g = vase::parse_hf_generation_config(text, "generation_config.json");
        FUZZ_CHECK(g.temperature >= 0.0f && g.top_p > 0.0f && g.top_p <= 1.0f);
        FUZZ_CHECK(g.min_p >= 0.0f && g.min_p <= 1.0f && g.top_k >= 0);
        for (int32_t id : g.eos_token_ids) FUZZ_CHECK(id >= 0);
    } catch (const vase::Error&) {
    }
    try {
        vase::parse_hf_tokenizer_config(text, "tokenizer_config.json");
    } catch (const vase::Error&) {
    }
    return 0;
}
