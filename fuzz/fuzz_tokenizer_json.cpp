// parse_hf_tokenizer_json on arbitrary bytes, then a Tokenizer built from the
// spec encoding and decoding a short text. Seeds are small hand-made
// tokenizer.json files (the real one is 11 MB; fuzz_tokenizer encodes with it).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace {

// GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards.
std::string to_byte_level(std::string_view bytes) {
    static const auto table = [] {
        std::vector<uint32_t> cp(256);
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            cp[b] = printable ? b : next++;
        }
        return cp;
    }();
    std::string out;
    for (unsigned char b : bytes) {
        const uint32_t c = table[b];
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    vase::TokenizerSpec spec;
    try {
        spec = vase::parse_hf_tokenizer_json(text, "tokenizer.json");
    } catch (const vase::Error&) {
        return 0;
    }
    const std::vector<std::string> vocab = spec.vocab;
    try {
        vase::Tokenizer tokenizer(std::move(spec));
        // Decoding gives the text back when every vocabulary entry is in
        // byte-level form and no added token reuses a vocabulary id (HF decodes
        // other tokens verbatim too, so the round trip is not promised then).
        bool byte_level = true;
        for (size_t id = 0; id < vocab.size() && byte_level; ++id) {
            if (vocab[id].empty()) continue;
            byte_level =
                to_byte_level(tokenizer.token_bytes(static_cast<int32_t>(id))) == vocab[id];
        }
        const std::string sample = "Hi there!  1234 <think>x</think>\n\tdone";
        for (bool special : {true, false}) {
            const std::vector<int32_t> ids = tokenizer.encode(sample, special);
            for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size());
            const std::string decoded = tokenizer.decode(ids);
            if (byte_level) FUZZ_CHECK(decoded == sample);
        }
    } catch (const vase::Error&) {
    }
    return 0;
}
