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
// GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex = true.
extern const char* const kGpt2SplitRegex;

struct AddedToken {
    int32_t id = 0;
    std::string content;   // UTF-8 text matched verbatim in the input
    bool special = false;  // special tokens are skipped by decode(skip_special=true)
};

// Everything a tokenizer is made of, from tokenizer.json or GGUF metadata.
struct TokenizerSpec {
    // id -> token in byte-level (GPT-2 unicode) form; "" = unused id
    std::vector<std::string> vocab;
    std::vector<std::string> merges;  // "left right", by rank (index)
    std::vector<AddedToken> added;
    std::string split_regex = kQwen2SplitRegex;
    bool nfc = true;     // normalizer: Unicode NFC before the split (Qwen's tokenizer.json)
    std::string source;  // file the spec came from, for error messages
};

// Parses a tokenizer.json; throws vase::Error naming `source` and the problem
// (malformed JSON, a missing field, an id out of range or used twice, or a
// normalizer / pre-tokenizer / model option this byte-level BPE does not implement).
TokenizerSpec parse_hf_tokenizer_json(std::string_view json_text, const std::string& source);

// Encoding, as Hugging Face tokenizers does it for a byte-level BPE tokenizer.json:
//  1. Added tokens are found in the raw text, leftmost-longest (with parse_special = false
//     the special ones are left in the text; non-special ones such as <think> still match).
//  2. Each stretch between them is NFC-normalized (if spec.nfc), split by the regex
//     (matches and the gaps between them are pieces), and each piece is BPE-merged from
//     its bytes by merge rank.
// Input that is not valid UTF-8 (which HF cannot receive) does not fail: every invalid
// byte becomes its own single-byte token and splits the text like an added token, so
// decode(encode(x)) == x for any bytes x whose valid stretches are NFC.
class Tokenizer {
  public:
    explicit Tokenizer(TokenizerSpec spec);  // throws vase::Error on an inconsistent spec
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    // parse_special: match added/special tokens in the text (as HF does by default).
    std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
    // The pieces BPE sees in text without added tokens (raw bytes after NFC and the
    // regex split; an invalid byte is a piece of its own). For tests and debugging.
    std::vector<std::string> pre_tokenize(std::string_view text) const;
    // Concatenated bytes of the tokens; may end in an incomplete UTF-8 character.
    // Ids with no token (unused or out of range) add nothing, as in HF.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
    // The raw bytes of one token (special tokens: their text; "" for an id with no token).
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
// is complete. Everything it returns is valid UTF-8: bytes that can never form a
// character come out as U+FFFD, so the concatenated output equals
// to_valid_utf8(tokenizer.decode(ids)).
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

// `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD (one per maximal
// subpart, as Python's errors="replace" and Rust's from_utf8_lossy do).
std::string to_valid_utf8(std::string_view bytes);

}  // namespace vase
