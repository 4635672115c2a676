// Byte-level BPE as Hugging Face's tokenizer.json defines it (Qwen2/Qwen3):
// added/special tokens matched first, a regex pre-split (PCRE2, Unicode
// categories), GPT-2 byte-to-unicode mapping, merges applied by rank.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vase {

// Qwen2/Qwen3 pre-tokenizer split pattern (GGUF `tokenizer.ggml.pre = qwen2`).
extern const char* const kQwen2SplitRegex;

struct AddedToken {
    int32_t id = 0;
    std::string content;   // UTF-8 text matched verbatim in the input
    bool special = false;  // special tokens are skipped by decode(skip_special=true)
};

// Everything a tokenizer is made of, from tokenizer.json or GGUF metadata.
struct TokenizerSpec {
    std::vector<std::string> vocab;   // id -> token in byte-level (GPT-2 unicode) form; "" = unused id
    std::vector<std::string> merges;  // "left right", by rank (index)
    std::vector<AddedToken> added;
    std::string split_regex = kQwen2SplitRegex;
    std::string source;  // file the spec came from, for error messages
};

// Parses a tokenizer.json; throws vase::Error naming `source` and the problem.
TokenizerSpec parse_hf_tokenizer_json(std::string_view json_text, const std::string& source);

class Tokenizer {
public:
    explicit Tokenizer(TokenizerSpec spec);  // throws vase::Error on an inconsistent spec
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    // parse_special: match added/special tokens in the text (as HF does by default).
    std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
    // Concatenated bytes of the tokens; may end in an incomplete UTF-8 character.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
    // The raw bytes of one token (special tokens: their text).
    std::string token_bytes(int32_t id) const;

    int32_t vocab_size() const;
    int32_t token_id(std::string_view token_text) const;  // -1 if not a single token
    bool is_special(int32_t id) const;
    const TokenizerSpec& spec() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text without ever emitting a partial UTF-8
// character: bytes of a character split across tokens are held back until it
// is complete.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
    std::string push(int32_t id);  // text now complete (may be empty)
    std::string flush();           // whatever is held back (invalid bytes as U+FFFD)

private:
    const Tokenizer* tokenizer_;
    bool skip_special_;
    std::string pending_;
};

}  // namespace vase
