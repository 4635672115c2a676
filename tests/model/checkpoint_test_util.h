// Shared by the checkpoint tests: a tiny byte-level tokenizer, a tiny model
// shape, temporary directories, and helpers that rewrite files to break them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "model/checkpoint.h"
#include "model/gguf.h"
#include "model/random_checkpoint.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace vase::test {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
  public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("vase_ckpt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string path(const std::string& name = "") const {
        return name.empty() ? path_.string() : (path_ / name).string();
    }

  private:
    fs::path path_;
};

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
// Replaces the file by a new one: truncating an existing file makes ext4 flush it
// to disk on close (auto_da_alloc), which is slow when done thousands of times.
inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::error_code ec;
    fs::remove(path, ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// GPT-2's byte -> printable character mapping, written independently of the tokenizer.
inline std::string byte_level_char(int b) {
    int code;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
        code = b;
    } else {
        int n = 0;  // index among the remapped bytes
        for (int x = 0; x < b; ++x) {
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++n;
        }
        code = 256 + n;
    }
    std::string s;
    if (code < 0x80) {
        s.push_back(static_cast<char>(code));
    } else {
        s.push_back(static_cast<char>(0xC0 | (code >> 6)));
        s.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
    return s;
}

// The tiny tokenizer: 256 byte tokens (id = byte), three merges, and
// <|endoftext|> 259, <|im_start|> 260, <|im_end|> 261 (special), <think> 262.
inline constexpr int64_t kTinyTokenizerSize = 263;

inline void write_tiny_tokenizer(const std::string& dir) {
    fs::create_directories(dir);
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_level_char(b)] = b;
    const std::string space = byte_level_char(' ');
    vocab[space + "t"] = 256;
    vocab["he"] = 257;
    vocab[space + "the"] = 258;
    json added = json::array();
    int id = 259;
    for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>"}) {
        added.push_back({{"id", id},
                         {"content", t},
                         {"special", id != 262},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false}});
        ++id;
    }
    json tokenizer = {
        {"version", "1.0"},
        {"added_tokens", added},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", kQwen2SplitRegex}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            {{"type", "ByteLevel"},
             {"add_prefix_space", false},
             {"trim_offsets", false},
             {"use_regex", false}}}}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model",
         {{"type", "BPE"}, {"vocab", vocab}, {"merges", {space + " t", "h e", space + "t he"}}}},
    };
    write_bytes(dir + "/tokenizer.json", tokenizer.dump());
    json config = {{"chat_template",
                    "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>"
                    "{% endfor %}"},
                   {"eos_token", "<|im_end|>"},
                   {"pad_token", "<|endoftext|>"}};
    write_bytes(dir + "/tokenizer_config.json", config.dump());
}

// Every matrix dimension a multiple of 32 (Q8_0); a vocabulary with unused ids.
inline ModelConfig tiny_test_config(bool tied = false) {
    ModelConfig c;
    c.vocab_size = 320;
    c.hidden_size = 64;
    c.intermediate_size = 96;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 16;
    c.max_position_embeddings = 4096;
    c.tie_word_embeddings = tied;
    return c;
}

// Writes a random checkpoint with the tiny tokenizer (made in `tokenizer_dir`).
inline std::string make_checkpoint(const std::string& out, CheckpointFormat format, DType dtype,
                                   const std::string& tokenizer_dir,
                                   ModelConfig config = tiny_test_config(), uint64_t seed = 7,
                                   uint64_t shard_bytes = 0) {
    if (!fs::exists(tokenizer_dir + "/tokenizer.json")) write_tiny_tokenizer(tokenizer_dir);
    RandomCheckpointOptions o;
    o.config = config;
    o.format = format;
    o.dtype = dtype;
    o.seed = seed;
    o.tokenizer_dir = tokenizer_dir;
    o.shard_bytes = shard_bytes;
    write_random_checkpoint(o, out);
    return out;
}

// Copies a GGUF file, dropping metadata keys and tensors, then letting `add`
// declare extra metadata; tensor bytes are copied as they are.
inline void rewrite_gguf(const std::string& in, const std::string& out,
                         const std::set<std::string>& drop_keys,
                         const std::function<void(GgufWriter&)>& add = {},
                         const std::set<std::string>& drop_tensors = {}) {
    GgufFile src(in);
    GgufWriter w(out, static_cast<uint32_t>(src.alignment()));
    for (const auto& [key, value] : src.metadata()) {
        if (key == "general.alignment" || drop_keys.count(key) != 0) continue;
        w.add_value(key, value);
    }
    if (add) add(w);
    std::vector<const GgufTensorInfo*> kept;
    for (const GgufTensorInfo& t : src.tensors()) {
        if (drop_tensors.count(t.name) != 0) continue;
        DType type = t.ggml_type == kGgmlTypeF32    ? DType::F32
                     : t.ggml_type == kGgmlTypeF16  ? DType::F16
                     : t.ggml_type == kGgmlTypeBF16 ? DType::BF16
                                                    : DType::Q8_0;
        w.add_tensor(t.name, type, std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()));
        kept.push_back(&t);
    }
    w.write_header();
    for (const GgufTensorInfo* t : kept) w.write(src.file_data() + t->offset, t->nbytes);
    w.finish();
}

// Rewrites a safetensors header through `edit`, keeping the data bytes.
inline void rewrite_safetensors_header(const std::string& path,
                                       const std::function<void(json&)>& edit) {
    std::string bytes = read_bytes(path);
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    json header = json::parse(bytes.substr(8, n));
    edit(header);
    std::string text = header.dump();
    uint64_t m = text.size();
    std::string out(reinterpret_cast<const char*>(&m), 8);
    out += text;
    out += bytes.substr(8 + n);
    write_bytes(path, out);
}

// Position of the first occurrence of `needle` in a file's bytes (asserts it is there).
inline size_t find_in(const std::string& bytes, const std::string& needle) {
    size_t p = bytes.find(needle);
    EXPECT_NE(p, std::string::npos) << needle;
    return p;
}

// Asserts that `fn` throws vase::Error whose message contains every substring.
#define EXPECT_VASE_ERROR(statement, ...)                                           \
    do {                                                                            \
        try {                                                                       \
            statement;                                                              \
            ADD_FAILURE() << "no vase::Error from " #statement;                     \
        } catch (const ::vase::Error& e) {                                          \
            const std::string message = e.what();                                   \
            for (const std::string& part : std::vector<std::string>{__VA_ARGS__}) { \
                EXPECT_NE(message.find(part), std::string::npos)                    \
                    << "message \"" << message << "\" lacks \"" << part << "\"";    \
            }                                                                       \
        }                                                                           \
    } while (0)

}  // namespace vase::test
