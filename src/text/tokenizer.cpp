// Byte-level BPE (Qwen2/Qwen3 tokenizer.json). See tokenizer.h for the encoding steps.
#include "text/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "util/error.h"

namespace vase {

const char* const kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* const kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Ids beyond this are rejected: they would size the id tables absurdly. Ids may also
// leave no more than kMaxIdGap unused ids beyond the tokens there are.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;
constexpr int64_t kMaxIdGap = 65536;

// ---------------------------------------------------------------------------
// UTF-8

enum class Utf8Kind { kValid, kTruncated, kInvalid };

struct Utf8Char {
    Utf8Kind kind;
    size_t len;  // valid: the character's length; truncated: bytes present;
                 // invalid: the maximal subpart to replace (>= 1)
};

// Classifies the bytes at s[i] by the well-formed sequences of Unicode Table 3-7.
Utf8Char next_utf8(std::string_view s, size_t i) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80) return {Utf8Kind::kValid, 1};
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return {Utf8Kind::kInvalid, 1};
    }
    for (size_t k = 1; k < n; ++k) {
        if (i + k >= s.size()) return {Utf8Kind::kTruncated, k};
        const auto b = static_cast<uint8_t>(s[i + k]);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) return {Utf8Kind::kInvalid, k};
    }
    return {Utf8Kind::kValid, n};
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Appends the valid prefix of `bytes` (invalid parts as U+FFFD) to `out`; returns how
// many bytes were consumed. With hold_truncated, a trailing incomplete character is
// left unconsumed; without, it is replaced too.
size_t append_valid_utf8(std::string_view bytes, bool hold_truncated, std::string& out) {
    size_t i = 0;
    while (i < bytes.size()) {
        const Utf8Char c = next_utf8(bytes, i);
        if (c.kind == Utf8Kind::kValid) {
            out.append(bytes.substr(i, c.len));
        } else if (c.kind == Utf8Kind::kTruncated && hold_truncated) {
            break;
        } else {
            out.append(kReplacement);
        }
        i += c.len;
    }
    return i;
}

// ---------------------------------------------------------------------------
// GPT-2 byte <-> unicode mapping: printable Latin-1 bytes stand for themselves, the
// other 68 bytes map to U+0100.. in byte order, so every token is printable text.

struct ByteLevelMap {
    std::array<uint32_t, 256> char_of_byte{};
    std::unordered_map<uint32_t, uint8_t> byte_of_char;

    ByteLevelMap() {
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char_of_byte[b] = printable ? b : next++;
            byte_of_char[char_of_byte[b]] = static_cast<uint8_t>(b);
        }
    }
};

const ByteLevelMap& byte_level_map() {
    static const ByteLevelMap map;
    return map;
}

// The raw bytes a vocabulary entry stands for. As HF's ByteLevel decoder does, a
// token with a character outside the mapping is taken as its own UTF-8 text.
std::string byte_level_to_bytes(std::string_view token) {
    const auto& map = byte_level_map();
    std::string out;
    out.reserve(token.size());
    size_t i = 0;
    while (i < token.size()) {
        const Utf8Char c = next_utf8(token, i);
        if (c.kind != Utf8Kind::kValid) return std::string(token);
        uint32_t cp = 0;
        const auto* p = reinterpret_cast<const uint8_t*>(token.data() + i);
        switch (c.len) {
            case 1:
                cp = p[0];
                break;
            case 2:
                cp = (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
                break;
            case 3:
                cp = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
                break;
            default:
                cp = (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 |
                     (p[3] & 0x3Fu);
        }
        const auto it = map.byte_of_char.find(cp);
        if (it == map.byte_of_char.end()) return std::string(token);
        out.push_back(static_cast<char>(it->second));
        i += c.len;
    }
    return out;
}

// ---------------------------------------------------------------------------
// Regex

// HF compiles the pattern with Oniguruma, whose Unicode \s is the White_Space property.
// PCRE2's \s (UCP) also takes U+180E, so \s and \S are spelled out as White_Space
// (\S inside a character class is left to PCRE2: it cannot be spelled as a member).
std::string pcre2_pattern(std::string_view hf) {
    static constexpr std::string_view kWhiteSpace =
        R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < hf.size(); ++i) {
        const char c = hf[i];
        if (c == '\\' && i + 1 < hf.size()) {
            const char e = hf[++i];
            if (e == 's' && in_class) {
                out.append(kWhiteSpace);
            } else if (e == 's' || (e == 'S' && !in_class)) {
                out.append(e == 's' ? "[" : "[^").append(kWhiteSpace).append("]");
            } else {
                out.push_back('\\');
                out.push_back(e);
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out.push_back(c);
            // A ']' right after '[' or '[^' is a literal member.
            if (i + 1 < hf.size() && hf[i + 1] == '^') out.push_back(hf[++i]);
            if (i + 1 < hf.size() && hf[i + 1] == ']') out.push_back(hf[++i]);
            continue;
        }
        if (in_class && c == ']') in_class = false;
        out.push_back(c);
    }
    return out;
}

class SplitRegex {
  public:
    SplitRegex(const std::string& pattern, const std::string& source) {
        const std::string translated = pcre2_pattern(pattern);
        int error = 0;
        PCRE2_SIZE offset = 0;
        code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
        if (code_ == nullptr) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(error, message, sizeof(message));
            fail("{}: pre-tokenizer regex does not compile ({} at offset {}): {}", source,
                 reinterpret_cast<const char*>(message), offset, pattern);
        }
        // Without JIT support pcre2_match falls back to the interpreter by itself.
        pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
    }
    ~SplitRegex() { pcre2_code_free(code_); }
    SplitRegex(const SplitRegex&) = delete;
    SplitRegex& operator=(const SplitRegex&) = delete;

    // Calls piece(begin, end) for every match and every gap between matches, in order
    // (HF's Split with behavior "Isolated"). `text` must be valid UTF-8.
    template <typename F>
    void split(std::string_view text, F&& piece) const {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
        if (md == nullptr) throw std::bad_alloc();
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        size_t offset = 0, last = 0;
        while (offset <= text.size()) {
            int rc =
                pcre2_match(code_, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, md, nullptr);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
                rc = pcre2_match(code_, subject, text.size(), offset,
                                 PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
            }
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                pcre2_match_data_free(md);
                PCRE2_UCHAR message[256];
                pcre2_get_error_message(rc, message, sizeof(message));
                fail("tokenizer: pre-tokenizer regex failed at byte {} of a {}-byte text: {}",
                     offset, text.size(), reinterpret_cast<const char*>(message));
            }
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
            const size_t begin = ov[0], end = ov[1];
            if (begin > last) piece(last, begin);
            if (end > begin) piece(begin, end);
            last = end;
            if (end > begin) {
                offset = end;
            } else {  // empty match: step over one character
                if (end >= text.size()) break;
                offset = end + next_utf8(text, end).len;
            }
        }
        pcre2_match_data_free(md);
        if (last < text.size()) piece(last, text.size());
    }

  private:
    pcre2_code* code_ = nullptr;
};

// ---------------------------------------------------------------------------
// NFC

const icu::Normalizer2& nfc_normalizer() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status) || nfc == nullptr) {
        fail("tokenizer: ICU has no NFC normalizer ({})", u_errorName(status));
    }
    return *nfc;
}

// NFC of valid UTF-8 text. Returns false (and leaves `out` alone) if it is already NFC.
bool to_nfc(std::string_view text, std::string& out) {
    // Every code point below U+0300 (lead bytes below 0xCC) is NFC on its own and
    // cannot combine with what precedes it.
    if (std::none_of(text.begin(), text.end(),
                     [](char c) { return static_cast<uint8_t>(c) >= 0xCC; })) {
        return false;
    }
    const icu::Normalizer2& nfc = nfc_normalizer();
    UErrorCode status = U_ZERO_ERROR;
    const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
    if (nfc.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return false;
    status = U_ZERO_ERROR;
    out.clear();
    icu::StringByteSink<std::string> sink(&out);
    nfc.normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status)) fail("tokenizer: NFC normalization failed ({})", u_errorName(status));
    return true;
}

// ---------------------------------------------------------------------------
// tokenizer.json helpers

using Json = nlohmann::json;

const Json* find_member(const Json& object, const char* key) {
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

const Json& require_member(const Json& object, const char* key, const std::string& where,
                           const std::string& source) {
    const Json* value = find_member(object, key);
    if (value == nullptr) fail("{}: {} has no \"{}\"", source, where, key);
    return *value;
}

std::string require_string(const Json& value, const std::string& where, const std::string& source) {
    if (!value.is_string())
        fail("{}: {} should be a string, not {}", source, where, value.type_name());
    return value.get<std::string>();
}

int32_t require_id(const Json& value, const std::string& where, const std::string& source) {
    if (!value.is_number_integer()) {
        fail("{}: {} should be an integer token id, not {}", source, where, value.type_name());
    }
    const bool is_unsigned = value.is_number_unsigned();
    const int64_t id =
        is_unsigned
            ? static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), uint64_t{1} << 62))
            : value.get<int64_t>();
    if (id < 0 || id > kMaxTokenId) {
        fail("{}: {} is {}, outside 0..{}", source, where, id, kMaxTokenId);
    }
    return static_cast<int32_t>(id);
}

bool optional_bool(const Json& object, const char* key, bool fallback, const std::string& where,
                   const std::string& source) {
    const Json* value = find_member(object, key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail("{}: {}.{} should be true or false", source, where, key);
    return value->get<bool>();
}

std::string type_of(const Json& object, const std::string& where, const std::string& source) {
    if (!object.is_object()) fail("{}: {} should be an object", source, where);
    return require_string(require_member(object, "type", where, source), where + ".type", source);
}

// Fills spec.nfc from "normalizer".
void parse_normalizer(const Json* normalizer, TokenizerSpec& spec) {
    spec.nfc = false;
    if (normalizer == nullptr) return;
    const std::string type = type_of(*normalizer, "normalizer", spec.source);
    if (type == "NFC") {
        spec.nfc = true;
    } else if (type == "Sequence") {
        const Json& list = require_member(*normalizer, "normalizers", "normalizer", spec.source);
        if (!list.is_array()) fail("{}: normalizer.normalizers should be a list", spec.source);
        for (const Json& item : list) {
            const std::string t = type_of(item, "normalizer.normalizers[]", spec.source);
            if (t != "NFC") {
                fail("{}: normalizer {} is not supported (only NFC)", spec.source, t);
            }
            spec.nfc = true;
        }
    } else {
        fail("{}: normalizer {} is not supported (only NFC)", spec.source, type);
    }
}

// Fills spec.split_regex from "pre_tokenizer": a Split(Regex, Isolated) followed by a
// ByteLevel without its own regex, or a lone ByteLevel with GPT-2's regex.
void parse_pre_tokenizer(const Json* pre, TokenizerSpec& spec) {
    const std::string& source = spec.source;
    if (pre == nullptr) fail("{}: no pre_tokenizer; a byte-level one is required", source);
    std::vector<const Json*> steps;
    if (type_of(*pre, "pre_tokenizer", source) == "Sequence") {
        const Json& list = require_member(*pre, "pretokenizers", "pre_tokenizer", source);
        if (!list.is_array()) fail("{}: pre_tokenizer.pretokenizers should be a list", source);
        for (const Json& item : list) steps.push_back(&item);
    } else {
        steps.push_back(pre);
    }
    std::string regex;
    bool byte_level = false;
    for (const Json* step : steps) {
        const std::string where = "pre_tokenizer";
        const std::string type = type_of(*step, where, source);
        if (type == "Split") {
            if (byte_level || !regex.empty()) {
                fail("{}: pre_tokenizer: only one Split, before ByteLevel, is supported", source);
            }
            const Json& pattern = require_member(*step, "pattern", "Split", source);
            if (!pattern.is_object() || find_member(pattern, "Regex") == nullptr) {
                fail("{}: pre_tokenizer Split: only a {{\"Regex\": ...}} pattern is supported",
                     source);
            }
            regex = require_string(pattern["Regex"], "Split.pattern.Regex", source);
            if (regex.empty()) fail("{}: pre_tokenizer Split has an empty regex", source);
            const Json* behavior = find_member(*step, "behavior");
            if (behavior != nullptr &&
                require_string(*behavior, "Split.behavior", source) != "Isolated") {
                fail("{}: pre_tokenizer Split behavior {} is not supported (only Isolated)", source,
                     behavior->get<std::string>());
            }
            if (optional_bool(*step, "invert", false, "Split", source)) {
                fail("{}: pre_tokenizer Split with invert = true is not supported", source);
            }
        } else if (type == "ByteLevel") {
            if (byte_level) fail("{}: pre_tokenizer has two ByteLevel steps", source);
            byte_level = true;
            if (optional_bool(*step, "add_prefix_space", false, "ByteLevel", source)) {
                fail("{}: ByteLevel add_prefix_space = true is not supported", source);
            }
            if (optional_bool(*step, "use_regex", true, "ByteLevel", source)) {
                if (!regex.empty()) {
                    fail("{}: ByteLevel with use_regex after a Split is not supported", source);
                }
                regex = kGpt2SplitRegex;
            }
        } else {
            fail("{}: pre_tokenizer {} is not supported (Split and ByteLevel are)", source, type);
        }
    }
    if (!byte_level) fail("{}: pre_tokenizer has no ByteLevel step; not a byte-level BPE", source);
    if (regex.empty()) fail("{}: pre_tokenizer has no split regex", source);
    spec.split_regex = regex;
}

void parse_model(const Json& model, TokenizerSpec& spec) {
    const std::string& source = spec.source;
    if (!model.is_object()) fail("{}: \"model\" should be an object", source);
    if (const Json* type = find_member(model, "type")) {
        const std::string t = require_string(*type, "model.type", source);
        if (t != "BPE") fail("{}: model type {} is not supported (only BPE)", source, t);
    }
    if (optional_bool(model, "byte_fallback", false, "model", source)) {
        fail("{}: model.byte_fallback = true is not supported", source);
    }
    if (optional_bool(model, "ignore_merges", false, "model", source)) {
        fail("{}: model.ignore_merges = true is not supported", source);
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const Json* value = find_member(model, key);
        if (value != nullptr &&
            !require_string(*value, fmt::format("model.{}", key), source).empty()) {
            fail("{}: model.{} is not supported", source, key);
        }
    }
    if (const Json* dropout = find_member(model, "dropout")) {
        if (!dropout->is_number() || dropout->get<double>() != 0.0) {
            fail("{}: model.dropout is not supported", source);
        }
    }

    const Json& vocab = require_member(model, "vocab", "model", source);
    if (!vocab.is_object()) fail("{}: model.vocab should be an object (token -> id)", source);
    int64_t max_id = -1;
    std::vector<std::pair<int32_t, std::string>> entries;
    entries.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        const Json& value = it.value();
        // The common case first: formatting a name for every entry would cost more
        // than the parse.
        const int32_t id =
            value.is_number_unsigned() && value.get<uint64_t>() <= kMaxTokenId
                ? static_cast<int32_t>(value.get<uint64_t>())
                : require_id(value, fmt::format("model.vocab[\"{}\"]", it.key()), source);
        entries.emplace_back(id, it.key());
        max_id = std::max<int64_t>(max_id, id);
    }
    // Ids index tables, so a few huge ids must not make them huge.
    if (max_id >= static_cast<int64_t>(entries.size()) + kMaxIdGap) {
        fail("{}: model.vocab: ids go up to {} for {} tokens; they should be dense", source, max_id,
             entries.size());
    }
    spec.vocab.assign(static_cast<size_t>(max_id + 1), std::string());
    std::vector<bool> used(spec.vocab.size(), false);
    for (auto& [id, token] : entries) {
        if (used[id]) {
            fail("{}: model.vocab gives id {} to both \"{}\" and \"{}\"", source, id,
                 spec.vocab[id], token);
        }
        used[id] = true;
        spec.vocab[id] = std::move(token);
    }

    const Json& merges = require_member(model, "merges", "model", source);
    if (!merges.is_array()) fail("{}: model.merges should be a list", source);
    spec.merges.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const Json& merge = merges[rank];
        if (merge.is_string()) {
            spec.merges.push_back(merge.get<std::string>());
        } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                   merge[1].is_string()) {
            spec.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
        } else {
            fail("{}: model.merges[{}] should be \"left right\" or [\"left\", \"right\"]", source,
                 rank);
        }
    }
}

void parse_added_tokens(const Json* added, TokenizerSpec& spec) {
    const std::string& source = spec.source;
    if (added == nullptr) return;
    if (!added->is_array()) fail("{}: added_tokens should be a list", source);
    std::unordered_map<int32_t, size_t> index_of_id;
    for (size_t i = 0; i < added->size(); ++i) {
        const Json& item = (*added)[i];
        const std::string where = fmt::format("added_tokens[{}]", i);
        if (!item.is_object()) fail("{}: {} should be an object", source, where);
        AddedToken token;
        token.id = require_id(require_member(item, "id", where, source), where + ".id", source);
        token.content = require_string(require_member(item, "content", where, source),
                                       where + ".content", source);
        if (token.content.empty()) fail("{}: {}.content is empty", source, where);
        token.special = optional_bool(item, "special", false, where, source);
        for (const char* key : {"lstrip", "rstrip", "single_word"}) {
            if (optional_bool(item, key, false, where, source)) {
                fail("{}: {} (\"{}\") has {} = true, which is not supported", source, where,
                     token.content, key);
            }
        }
        const auto [it, fresh] = index_of_id.emplace(token.id, i);
        if (!fresh) {
            fail("{}: added_tokens[{}] and added_tokens[{}] both have id {}", source, it->second, i,
                 token.id);
        }
        spec.added.push_back(std::move(token));
    }
}

struct Merge {
    int32_t rank;
    int32_t id;  // the merged token
};

uint64_t pair_key(int32_t left, int32_t right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

}  // namespace

std::string to_valid_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    append_valid_utf8(bytes, false, out);
    return out;
}

TokenizerSpec parse_hf_tokenizer_json(std::string_view json_text, const std::string& source) {
    TokenizerSpec spec;
    spec.source = source;
    Json root;
    try {
        root = Json::parse(json_text.begin(), json_text.end());
    } catch (const Json::exception& e) {
        fail("{}: not valid JSON: {}", source, e.what());
    }
    if (!root.is_object()) fail("{}: a tokenizer.json should hold a JSON object", source);
    try {
        parse_model(require_member(root, "model", "the file", source), spec);
        parse_added_tokens(find_member(root, "added_tokens"), spec);
        parse_normalizer(find_member(root, "normalizer"), spec);
        parse_pre_tokenizer(find_member(root, "pre_tokenizer"), spec);
        if (const Json* decoder = find_member(root, "decoder")) {
            const std::string type = type_of(*decoder, "decoder", source);
            if (type != "ByteLevel") {
                fail("{}: decoder {} is not supported (only ByteLevel)", source, type);
            }
        }
    } catch (const Json::exception& e) {  // a type mismatch the checks above missed
        fail("{}: unexpected tokenizer.json content: {}", source, e.what());
    }
    return spec;
}

// ---------------------------------------------------------------------------
// Tokenizer

struct Tokenizer::Impl {
    TokenizerSpec spec;
    std::vector<std::string> bytes;                     // id -> raw bytes ("" = no token)
    std::vector<uint8_t> special;                       // id -> 1 if a special added token
    std::unordered_map<std::string, int32_t> by_bytes;  // raw bytes -> id
    std::array<int32_t, 256> byte_id{};                 // single byte -> its token
    std::unordered_map<uint64_t, Merge> merges;         // (left, right) -> merge
    std::unique_ptr<SplitRegex> regex;

    // Added tokens, longest first, grouped by first byte for the scan.
    struct Added {
        std::string content;
        int32_t id;
        bool special;
    };
    std::array<std::vector<Added>, 256> added_by_first;

    // Piece -> ids. Pieces repeat a lot (words, indentation); guarded for const use
    // from several threads.
    static constexpr size_t kMaxCached = size_t{1} << 18;
    static constexpr size_t kMaxCachedPiece = 128;
    mutable std::mutex cache_mutex;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

    void bpe(std::string_view piece, std::vector<int32_t>& out) const;
    void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
    void encode_text(std::string_view text, std::vector<int32_t>& out) const;
    template <typename F>
    void for_each_piece(std::string_view text, F&& piece) const;
};

// Merges the bytes of one piece by rank: always the lowest-ranked adjacent pair,
// leftmost first among equals (HF's Word::merge_all), with a heap and a linked list.
void Tokenizer::Impl::bpe(std::string_view piece, std::vector<int32_t>& out) const {
    const size_t n = piece.size();
    struct Symbol {
        int32_t id;
        int32_t prev, next;  // -1 at the ends
    };
    std::vector<Symbol> sym(n);
    for (size_t i = 0; i < n; ++i) {
        sym[i] = {byte_id[static_cast<uint8_t>(piece[i])], static_cast<int32_t>(i) - 1,
                  i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
    }
    struct Candidate {
        int32_t rank, left, right;
        int32_t left_id, right_id, merged;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : left > o.left;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = sym[left].next;
        if (right < 0) return;
        const auto it = merges.find(pair_key(sym[left].id, sym[right].id));
        if (it == merges.end()) return;
        heap.push({it->second.rank, left, right, sym[left].id, sym[right].id, it->second.id});
    };
    for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        // Stale if either side has merged since the candidate was pushed.
        if (sym[c.left].id != c.left_id || sym[c.left].next != c.right ||
            sym[c.right].id != c.right_id) {
            continue;
        }
        sym[c.left].id = c.merged;
        sym[c.left].next = sym[c.right].next;
        if (sym[c.right].next >= 0) sym[sym[c.right].next].prev = c.left;
        sym[c.right].id = -1;  // removed
        consider(sym[c.left].prev);
        consider(c.left);
    }
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.size() == 1) {
        out.push_back(byte_id[static_cast<uint8_t>(piece[0])]);
        return;
    }
    if (piece.size() > kMaxCachedPiece) {
        bpe(piece, out);
        return;
    }
    const std::string key(piece);
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        const auto it = cache.find(key);
        if (it != cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int32_t> ids;
    bpe(piece, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kMaxCached) cache.clear();
    cache.emplace(key, std::move(ids));
}

// Calls piece(bytes, is_invalid_byte) for each piece of text between added tokens:
// valid stretches are NFC-normalized and split by the regex; each byte of invalid
// UTF-8 is a piece of its own and splits the text around it.
template <typename F>
void Tokenizer::Impl::for_each_piece(std::string_view text, F&& piece) const {
    auto valid = [&](std::string_view stretch) {
        std::string normalized;
        if (spec.nfc && to_nfc(stretch, normalized)) stretch = normalized;
        regex->split(stretch,
                     [&](size_t begin, size_t end) { piece(stretch.substr(begin, end - begin)); });
    };
    size_t start = 0, i = 0;
    while (i < text.size()) {
        const Utf8Char c = next_utf8(text, i);
        if (c.kind == Utf8Kind::kValid) {
            i += c.len;
            continue;
        }
        if (i > start) valid(text.substr(start, i - start));
        const size_t bad = c.kind == Utf8Kind::kTruncated ? text.size() - i : c.len;
        for (size_t k = 0; k < bad; ++k) piece(text.substr(i + k, 1));
        i += bad;
        start = i;
    }
    if (i > start) valid(text.substr(start, i - start));
}

void Tokenizer::Impl::encode_text(std::string_view text, std::vector<int32_t>& out) const {
    for_each_piece(text, [&](std::string_view piece) { encode_piece(piece, out); });
}

Tokenizer::Tokenizer(TokenizerSpec spec_in) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.spec = std::move(spec_in);
    const TokenizerSpec& spec = m.spec;
    const std::string& source = spec.source.empty() ? "tokenizer" : spec.source;

    if (spec.vocab.size() > static_cast<size_t>(kMaxTokenId) + 1) {
        fail("{}: {} vocabulary entries is more than {}", source, spec.vocab.size(),
             kMaxTokenId + 1);
    }
    size_t size = spec.vocab.size();
    for (const AddedToken& a : spec.added) {
        if (a.id < 0 || a.id > kMaxTokenId) {
            fail("{}: added token \"{}\" has id {}, outside 0..{}", source, a.content, a.id,
                 kMaxTokenId);
        }
        if (a.content.empty()) fail("{}: added token {} has empty content", source, a.id);
        size = std::max(size, static_cast<size_t>(a.id) + 1);
    }
    if (size > spec.vocab.size() + spec.added.size() + kMaxIdGap) {
        fail("{}: added token ids go up to {} for {} tokens; they should be dense", source,
             size - 1, spec.vocab.size() + spec.added.size());
    }
    m.bytes.assign(size, std::string());
    m.special.assign(size, 0);

    // Vocabulary: byte-level strings -> raw bytes; the first id wins a duplicate.
    std::unordered_map<std::string_view, int32_t> by_text;  // byte-level form -> id
    by_text.reserve(spec.vocab.size());
    m.by_bytes.reserve(size);
    for (size_t id = 0; id < spec.vocab.size(); ++id) {
        const std::string& token = spec.vocab[id];
        if (token.empty()) continue;
        by_text.emplace(token, static_cast<int32_t>(id));
        m.bytes[id] = byte_level_to_bytes(token);
        m.by_bytes.emplace(m.bytes[id], static_cast<int32_t>(id));
    }
    const auto& map = byte_level_map();
    for (int b = 0; b < 256; ++b) {
        const auto it = m.by_bytes.find(std::string(1, static_cast<char>(b)));
        if (it == m.by_bytes.end()) {
            fail(
                "{}: the vocabulary has no token for byte 0x{:02X} (U+{:04X}); "
                "not a byte-level BPE vocabulary",
                source, b, map.char_of_byte[b]);
        }
        m.byte_id[b] = it->second;
    }

    // Merges: "left right" by rank; as in HF a repeated pair keeps its last rank.
    m.merges.reserve(spec.merges.size());
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
        const std::string& merge = spec.merges[rank];
        const size_t space = merge.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == merge.size() ||
            merge.find(' ', space + 1) != std::string::npos) {
            fail("{}: merge {} (\"{}\") is not two tokens separated by one space", source, rank,
                 merge);
        }
        const std::string_view left(merge.data(), space);
        const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
        const std::string joined = std::string(left) + std::string(right);
        int32_t ids[3];
        const std::string_view parts[3] = {left, right, joined};
        for (int k = 0; k < 3; ++k) {
            const auto it = by_text.find(parts[k]);
            if (it == by_text.end()) {
                fail("{}: merge {} (\"{}\"): \"{}\" is not in the vocabulary", source, rank, merge,
                     parts[k]);
            }
            ids[k] = it->second;
        }
        if (rank > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
            fail("{}: too many merges", source);
        }
        m.merges[pair_key(ids[0], ids[1])] = Merge{static_cast<int32_t>(rank), ids[2]};
    }

    // Added tokens override whatever the vocabulary says about their ids.
    std::unordered_map<int32_t, const AddedToken*> added_ids;
    std::unordered_map<std::string_view, int32_t> added_contents;
    for (const AddedToken& a : spec.added) {
        if (!added_ids.emplace(a.id, &a).second) {
            fail("{}: two added tokens have id {}", source, a.id);
        }
        if (!added_contents.emplace(a.content, a.id).second) {
            fail("{}: added token \"{}\" appears twice", source, a.content);
        }
        m.bytes[a.id] = a.content;
        m.special[a.id] = a.special ? 1 : 0;
        m.by_bytes[a.content] = a.id;
        m.added_by_first[static_cast<uint8_t>(a.content[0])].push_back(
            {a.content, a.id, a.special});
    }
    for (auto& list : m.added_by_first) {
        std::stable_sort(list.begin(), list.end(), [](const Impl::Added& x, const Impl::Added& y) {
            return x.content.size() > y.content.size();
        });
    }

    m.regex = std::make_unique<SplitRegex>(spec.split_regex, source);
    if (spec.nfc) nfc_normalizer();  // fail now, not at the first encode, if ICU lacks it
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
    const Impl& m = *impl_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 1);
    // Leftmost-longest scan for added tokens (HF's AhoCorasick LeftmostLongest); a special
    // token with parse_special = false is found but left in the text, as in HF.
    size_t start = 0, i = 0;
    while (i < text.size()) {
        const auto& candidates = m.added_by_first[static_cast<uint8_t>(text[i])];
        const Impl::Added* hit = nullptr;
        for (const Impl::Added& a : candidates) {
            if (text.compare(i, a.content.size(), a.content) == 0) {
                hit = &a;
                break;
            }
        }
        if (hit == nullptr) {
            ++i;
            continue;
        }
        if (hit->special && !parse_special) {
            i += hit->content.size();
            continue;
        }
        if (i > start) m.encode_text(text.substr(start, i - start), out);
        out.push_back(hit->id);
        i += hit->content.size();
        start = i;
    }
    if (text.size() > start) m.encode_text(text.substr(start), out);
    return out;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
    std::vector<std::string> pieces;
    impl_->for_each_piece(text, [&](std::string_view piece) { pieces.emplace_back(piece); });
    return pieces;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
    const Impl& m = *impl_;
    std::string out;
    for (const int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= m.bytes.size()) continue;
        if (skip_special && m.special[id]) continue;
        out += m.bytes[id];
    }
    return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= impl_->bytes.size()) return std::string();
    return impl_->bytes[id];
}

int32_t Tokenizer::vocab_size() const {
    return static_cast<int32_t>(impl_->bytes.size());
}

int32_t Tokenizer::token_id(std::string_view token_text) const {
    const auto it = impl_->by_bytes.find(std::string(token_text));
    return it == impl_->by_bytes.end() ? -1 : it->second;
}

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id];
}

const TokenizerSpec& Tokenizer::spec() const {
    return impl_->spec;
}

// ---------------------------------------------------------------------------
// StreamDecoder

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
    if (skip_special_ && tokenizer_->is_special(id)) return std::string();
    pending_ += tokenizer_->token_bytes(id);
    std::string out;
    pending_.erase(0, append_valid_utf8(pending_, true, out));
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    append_valid_utf8(pending_, false, out);
    pending_.clear();
    return out;
}

}  // namespace vase
