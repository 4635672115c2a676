// The real Qwen3 tokenizer (third_party/qwen3-tokenizer/tokenizer.json, built
// once) encoding arbitrary bytes, valid UTF-8 or not. Checks: ids in range;
// without special-token matching, decoding gives back exactly the pre-tokenized
// (NFC-normalized) bytes; streaming decoding gives the same text as decoding
// all at once with invalid bytes replaced. Without the tokenizer file the target
// does nothing (scripts/setup.sh installs it).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string_view>

#include "fuzz_util.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace {

std::unique_ptr<vase::Tokenizer> g_tokenizer;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const std::string path = std::string(VASE_TOKENIZER_DIR) + "/tokenizer.json";
    if (!std::filesystem::exists(path)) {
        std::fprintf(stderr, "fuzz_tokenizer: %s is absent; nothing to fuzz\n", path.c_str());
        return 0;
    }
    g_tokenizer = std::make_unique<vase::Tokenizer>(
        vase::parse_hf_tokenizer_json(vase::read_text_file(path), path));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!g_tokenizer) return 0;
    const vase::Tokenizer& tok = *g_tokenizer;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const std::vector<int32_t> plain = tok.encode(text, /*parse_special=*/false);
    std::string pieces;
    for (const std::string& p : tok.pre_tokenize(text)) pieces += p;
    FUZZ_CHECK(tok.decode(plain) == pieces);

    const std::vector<int32_t> ids = tok.encode(text, /*parse_special=*/true);
    for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size());
    const std::string decoded = tok.decode(ids);
    vase::StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    const std::string valid = vase::to_valid_utf8(decoded);
    FUZZ_CHECK(streamed == valid);
    FUZZ_CHECK(vase::to_valid_utf8(valid) == valid);
    (void)tok.decode(ids, /*skip_special=*/true);
    return 0;
}
