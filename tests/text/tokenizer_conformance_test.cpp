// Conformance of vase's tokenizer with the real Qwen3 tokenizer on the committed corpus
// (tests/data/tokenizer_corpus): tokenizer_peer.mjs wrote the ids of the JavaScript
// Qwen3 tokenizer (and of Hugging Face's Rust tokenizers when installed) for every
// text to VASE_PEER_IDS; this test encodes the same texts in one process and requires
// identical id sequences and decode(encode(x)) == NFC(x).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/tokenizer.h"
#include "util/mapped_file.h"

namespace vase {
namespace {

using Ids = std::vector<int32_t>;

struct PeerText {
    std::string name;  // "file.txt#index" or "file.txt#all"
    std::string text;
    std::string nfc;  // the peer's String.prototype.normalize("NFC")
    Ids ids;          // JavaScript tokenizer
    Ids hf_ids;       // Hugging Face tokenizers (Rust); empty when not installed
    bool has_hf = false;
};

std::vector<PeerText> read_peer_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        ADD_FAILURE() << path << " is missing: it is written by the ctest test "
                      << "tokenizer_peer_ids (node tests/text/tokenizer_peer.mjs); "
                      << "run `ctest -R tokenizer` rather than this binary alone";
        return {};
    }
    std::vector<PeerText> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line);
        PeerText t;
        t.name = j.at("name").get<std::string>();
        t.text = j.at("text").get<std::string>();
        t.nfc = j.at("nfc").get<std::string>();
        t.ids = j.at("ids").get<Ids>();
        if (j.contains("hf_ids")) {
            t.hf_ids = j.at("hf_ids").get<Ids>();
            t.has_hf = true;
        }
        out.push_back(std::move(t));
    }
    return out;
}

// Printable form of a token's bytes, for mismatch reports.
std::string show(const Tokenizer& tok, int32_t id) {
    std::string out = std::to_string(id) + ":'";
    for (const char c : to_valid_utf8(tok.token_bytes(id))) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string describe_mismatch(const Tokenizer& tok, const PeerText& t, const Ids& ours,
                              const Ids& theirs, const char* peer) {
    size_t first = 0;
    while (first < ours.size() && first < theirs.size() && ours[first] == theirs[first]) ++first;
    std::string s = t.name + ": differs from " + peer + " at token " + std::to_string(first) +
                    " (vase " + std::to_string(ours.size()) + " tokens, " + peer + " " +
                    std::to_string(theirs.size()) + ")\n  vase:";
    for (size_t i = first; i < ours.size() && i < first + 6; ++i) s += " " + show(tok, ours[i]);
    s += "\n  peer:";
    for (size_t i = first; i < theirs.size() && i < first + 6; ++i) {
        s += " " + show(tok, theirs[i]);
    }
    return s;
}

TEST(TokenizerConformance, MatchesTheQwen3TokenizerOnTheCorpus) {
    const std::string path = std::string(VASE_TOKENIZER_DIR) + "/tokenizer.json";
    const Tokenizer tok(parse_hf_tokenizer_json(read_text_file(path), path));
    const std::vector<PeerText> texts = read_peer_file(VASE_PEER_IDS);
    ASSERT_FALSE(texts.empty());

    // The peer file covers every corpus file (each ends with its "#all" record).
    const std::string corpus = std::string(VASE_SOURCE_DIR) + "/tests/data/tokenizer_corpus";
    size_t corpus_files = 0, whole_files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
        corpus_files += entry.path().extension() == ".txt" ? 1 : 0;
    }
    for (const PeerText& t : texts) whole_files += t.name.ends_with("#all") ? 1 : 0;
    EXPECT_EQ(whole_files, corpus_files) << VASE_PEER_IDS << " is stale; rerun the peer";

    size_t compared = 0, tokens = 0, bytes = 0, corpus_bytes = 0, with_hf = 0;
    size_t js_mismatches = 0, hf_mismatches = 0, peer_disagreements = 0, round_trip_failures = 0;
    double seconds = 0, text_seconds = 0;  // all records; the separate texts (cold cache)
    for (const PeerText& t : texts) {
        const auto start = std::chrono::steady_clock::now();
        const Ids ours = tok.encode(t.text);
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        seconds += elapsed;
        if (!t.name.ends_with("#all")) text_seconds += elapsed;
        ++compared;
        tokens += ours.size();
        bytes += t.text.size();
        if (!t.name.ends_with("#all")) corpus_bytes += t.text.size();

        // Hugging Face's own library is the reference when it is there; the JavaScript
        // tokenizer should agree with it (if not, that is reported, not failed).
        if (t.has_hf) {
            ++with_hf;
            if (ours != t.hf_ids && ++hf_mismatches <= 10) {
                ADD_FAILURE() << describe_mismatch(tok, t, ours, t.hf_ids, "HF tokenizers");
            }
            if (t.ids != t.hf_ids) {
                ++peer_disagreements;
                std::printf("note: %s: the JavaScript tokenizer disagrees with HF tokenizers\n",
                            t.name.c_str());
            }
        } else if (ours != t.ids && ++js_mismatches <= 10) {
            ADD_FAILURE() << describe_mismatch(tok, t, ours, t.ids, "the JavaScript tokenizer");
        }
        if (tok.decode(ours) != t.nfc && ++round_trip_failures <= 10) {
            ADD_FAILURE() << t.name << ": decode(encode(text)) is not the NFC text";
        }
    }
    EXPECT_EQ(hf_mismatches, 0u);
    EXPECT_EQ(js_mismatches, 0u);
    EXPECT_EQ(round_trip_failures, 0u);
    EXPECT_GE(corpus_bytes, 200u * 1024) << "the corpus should hold at least 200 KB";
    std::printf(
        "compared %zu texts (%zu corpus files, %zu bytes of separate texts, %zu bytes in all), "
        "%zu tokens; peers: JavaScript%s; %zu JavaScript/HF disagreements; vase encode %.3f s "
        "(separate texts %.3f s)\n",
        compared, corpus_files, corpus_bytes, bytes, tokens,
        with_hf == compared ? " and HF tokenizers (Rust)" : " only", peer_disagreements, seconds,
        text_seconds);
}

}  // namespace
}  // namespace vase
