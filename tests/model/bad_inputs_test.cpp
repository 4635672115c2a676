// A catalogue of broken checkpoints: each must fail with a vase::Error whose
// message names the file and the problem, never crash or read out of bounds.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "checkpoint_test_util.h"
#include "model/safetensors.h"
#include "util/rng.h"

namespace vase::test {
namespace {

template <typename T>
void put(std::string& bytes, size_t at, T value) {
    ASSERT_LE(at + sizeof(T), bytes.size());
    std::memcpy(&bytes[at], &value, sizeof(T));
}
template <typename T>
T get(const std::string& bytes, size_t at) {
    T v;
    std::memcpy(&v, bytes.data() + at, sizeof(T));
    return v;
}

// Where a GGUF string (u64 length + bytes) ends: right after `text`.
size_t after_gguf_string(const std::string& bytes, const std::string& text) {
    uint64_t n = text.size();
    std::string needle(reinterpret_cast<const char*>(&n), 8);
    needle += text;
    return find_in(bytes, needle) + needle.size();
}

class BadHf : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = tmp_.path("hf");
        make_checkpoint(dir_, CheckpointFormat::HuggingFace, DType::F32, tmp_.path("tok"));
    }
    std::string file(const std::string& name) const { return dir_ + "/" + name; }
    void edit_json(const std::string& name, const std::function<void(json&)>& edit) {
        json j = json::parse(read_bytes(file(name)));
        edit(j);
        write_bytes(file(name), j.dump());
    }
    void expect_load_error(std::initializer_list<std::string> parts) {
        try {
            load_checkpoint(dir_);
            ADD_FAILURE() << "loaded without error";
        } catch (const Error& e) {
            const std::string message = e.what();
            for (const std::string& part : parts) {
                EXPECT_NE(message.find(part), std::string::npos)
                    << "message \"" << message << "\" lacks \"" << part << "\"";
            }
        }
    }
    // Offset of a tensor's data in model.safetensors.
    uint64_t data_offset(const std::string& tensor) {
        std::string bytes = read_bytes(file("model.safetensors"));
        uint64_t n = get<uint64_t>(bytes, 0);
        json h = json::parse(bytes.substr(8, n));
        return 8 + n + h[tensor]["data_offsets"][0].get<uint64_t>();
    }

    TempDir tmp_;
    std::string dir_;
};

TEST_F(BadHf, InvalidJsonInEachFile) {
    for (const char* name : {"config.json", "tokenizer_config.json", "generation_config.json"}) {
        std::string good = read_bytes(file(name));
        write_bytes(file(name), "{\"hidden_size\": 64,");
        expect_load_error({name, "invalid JSON"});
        write_bytes(file(name), good);
    }
    write_bytes(file("tokenizer.json"), "{\"model\": [");
    expect_load_error({"tokenizer.json", "JSON"});
    EXPECT_VASE_ERROR(load_tokenizer_spec(dir_), "tokenizer.json", "JSON");
}

// Found by fuzz_hf_config: a number beyond double's range makes nlohmann::json
// throw out_of_range (not parse_error), which escaped the loaders as a message
// without the file name.
TEST_F(BadHf, NumberBeyondDoubleInEachJsonFile) {
    for (const char* name : {"config.json", "tokenizer_config.json", "generation_config.json"}) {
        std::string good = read_bytes(file(name));
        write_bytes(file(name), "{\"temperature\": 1e999}");
        expect_load_error({name, "invalid JSON", "1e999"});
        write_bytes(file(name), good);
    }
    std::string bytes = read_bytes(file("model.safetensors"));
    const uint64_t n = get<uint64_t>(bytes, 0);
    std::string header = "{\"a\": 1e999}";
    header.resize(n, ' ');
    bytes.replace(8, n, header);
    write_bytes(file("model.safetensors"), bytes);
    expect_load_error({"model.safetensors", "not valid JSON", "1e999"});
}

// Found by fuzz_hf_config: the older list form of chat_template with a
// non-string "name" made nlohmann::json throw type_error, which escaped the
// loader uncaught (the process aborted). Each entry is now checked.
TEST_F(BadHf, ChatTemplateListWithMistypedEntries) {
    edit_json("tokenizer_config.json", [](json& j) {
        j["chat_template"] = json::array({json{{"name", 193}, {"template", "x"}}});
    });
    expect_load_error({"tokenizer_config.json", "chat_template[0]", "string \"name\""});
    edit_json("tokenizer_config.json", [](json& j) {
        j["chat_template"] = json::array({json{{"name", "tool_use"}, {"template", "t"}}, 7});
    });
    expect_load_error({"tokenizer_config.json", "chat_template[1]"});
    // The well-formed list form still gives the template named "default".
    edit_json("tokenizer_config.json", [](json& j) {
        j["chat_template"] = json::array({json{{"name", "tool_use"}, {"template", "T"}},
                                          json{{"name", "default"}, {"template", "D"}}});
    });
    EXPECT_EQ(load_checkpoint(dir_).chat_template, "D");
}

TEST_F(BadHf, ConfigThatIsNotAnObject) {
    write_bytes(file("config.json"), "[1, 2]");
    expect_load_error({"config.json", "expected a JSON object"});
}

TEST_F(BadHf, MoeConfig) {
    edit_json("config.json", [](json& j) {
        j["model_type"] = "qwen3_moe";
        j["architectures"] = {"Qwen3MoeForCausalLM"};
        j["num_experts"] = 128;
    });
    expect_load_error({"config.json", "MoE", "not supported"});
}

TEST_F(BadHf, MoeFieldsInAQwen3Config) {
    edit_json("config.json", [](json& j) { j["num_experts"] = 8; });
    expect_load_error({"config.json", "MoE"});
}

TEST_F(BadHf, UnknownRopeScaling) {
    edit_json("config.json", [](json& j) {
        j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    });
    expect_load_error({"config.json", "unsupported rope_scaling type yarn"});
    edit_json("config.json", [](json& j) { j["rope_scaling"] = {{"type", "linear"}}; });
    expect_load_error({"config.json", "unsupported rope_scaling type linear"});
}

TEST_F(BadHf, UnsupportedArchitectures) {
    edit_json("config.json", [](json& j) {
        j["architectures"] = {"LlamaForCausalLM"};
        j["model_type"] = "llama";
    });
    expect_load_error({"config.json", "unsupported architecture LlamaForCausalLM"});
    edit_json("config.json", [](json& j) {
        j["architectures"] = {"Qwen2ForCausalLM"};
        j["model_type"] = "qwen2";
    });
    expect_load_error({"config.json", "unsupported architecture Qwen2ForCausalLM"});
}

TEST_F(BadHf, MissingOrMistypedConfigValues) {
    edit_json("config.json", [](json& j) { j.erase("hidden_size"); });
    expect_load_error({"config.json", "missing required key hidden_size"});
    edit_json("config.json", [](json& j) { j["hidden_size"] = "64"; });
    expect_load_error({"config.json", "hidden_size must be an integer"});
}

TEST_F(BadHf, InconsistentConfigNumbers) {
    edit_json("config.json", [](json& j) {
        j["hidden_size"] = 64;
        j["num_key_value_heads"] = 3;
    });
    expect_load_error({"config.json", "not a multiple of num_key_value_heads"});
    edit_json("config.json", [](json& j) {
        j["num_key_value_heads"] = 2;
        j["num_hidden_layers"] = -2;
    });
    expect_load_error({"config.json", "num_hidden_layers = -2"});
}

TEST_F(BadHf, VocabularySmallerThanTheTokenizer) {
    edit_json("config.json", [](json& j) { j["vocab_size"] = 200; });
    expect_load_error({"tokenizer.json", "ids up to 262", "vocab_size = 200"});
}

TEST_F(BadHf, AFileInsideTheDirectoryInsteadOfTheDirectory) {
    EXPECT_VASE_ERROR(load_checkpoint(file("model.safetensors")), "model.safetensors",
                      "give the model directory");
    EXPECT_VASE_ERROR(load_checkpoint(file("config.json")), "give the model directory");
}

TEST_F(BadHf, AttentionBiasIsRefused) {
    edit_json("config.json", [](json& j) { j["attention_bias"] = true; });
    expect_load_error({"config.json", "attention_bias"});
}

TEST_F(BadHf, GenerationConfigOutOfRange) {
    edit_json("generation_config.json", [](json& j) { j["top_p"] = 5; });
    expect_load_error({"generation_config.json", "top_p = 5"});
    edit_json("generation_config.json", [](json& j) {
        j["top_p"] = 0.9;
        j["eos_token_id"] = {261, 99999};
    });
    expect_load_error({"generation_config.json", "99999", "outside the vocabulary"});
}

TEST_F(BadHf, MissingTensor) {
    rewrite_safetensors_header(file("model.safetensors"),
                               [](json& h) { h.erase("model.layers.1.mlp.up_proj.weight"); });
    expect_load_error({"model.safetensors", "missing tensor model.layers.1.mlp.up_proj.weight"});
}

TEST_F(BadHf, ShapeMismatchWithConfig) {
    edit_json("config.json", [](json& j) { j["intermediate_size"] = 64; });
    expect_load_error({file("model.safetensors") +
                       ": tensor model.layers.0.mlp.gate_proj.weight has shape [96, 64], "
                       "expected [64, 64] from config.json"});
}

TEST_F(BadHf, UnsupportedDtype) {
    rewrite_safetensors_header(file("model.safetensors"), [](json& h) {
        h["model.layers.0.self_attn.q_proj.weight"]["dtype"] = "I32";  // same size as F32
    });
    expect_load_error({"model.safetensors", "model.layers.0.self_attn.q_proj.weight", "dtype I32"});
}

TEST_F(BadHf, UnknownDtypeName) {
    rewrite_safetensors_header(file("model.safetensors"),
                               [](json& h) { h["model.norm.weight"]["dtype"] = "F128"; });
    expect_load_error({"model.safetensors", "model.norm.weight", "unknown dtype F128"});
}

TEST_F(BadHf, NanWeight) {
    std::string bytes = read_bytes(file("model.safetensors"));
    put(bytes, data_offset("model.layers.0.self_attn.k_proj.weight") + 4 * 5, std::nanf(""));
    write_bytes(file("model.safetensors"), bytes);
    expect_load_error({file("model.safetensors") +
                       ": tensor model.layers.0.self_attn.k_proj.weight contains NaN/Inf at "
                       "element 5"});
}

TEST_F(BadHf, InfInABf16Norm) {
    make_checkpoint(dir_, CheckpointFormat::HuggingFace, DType::BF16, tmp_.path("tok"));
    std::string bytes = read_bytes(file("model.safetensors"));
    put<uint16_t>(bytes, data_offset("model.norm.weight") + 2 * 63, 0xff80);
    write_bytes(file("model.safetensors"), bytes);
    expect_load_error({"model.safetensors", "model.norm.weight", "NaN/Inf at element 63"});
}

TEST_F(BadHf, TruncatedAtEverySectionBoundary) {
    const std::string path = file("model.safetensors");
    const std::string good = read_bytes(path);
    const uint64_t n = get<uint64_t>(good, 0);
    const uint64_t ends[] = {0,
                             1,
                             7,
                             8,
                             9,
                             8 + n / 2,
                             8 + n - 1,
                             8 + n,
                             8 + n + 1,
                             data_offset("model.layers.1.mlp.down_proj.weight") + 3,
                             good.size() - 1};
    for (uint64_t end : ends) {
        write_bytes(path, good.substr(0, end));
        expect_load_error({"model.safetensors", "truncated"});
    }
}

TEST_F(BadHf, AbsurdHeaderLength) {
    std::string bytes = read_bytes(file("model.safetensors"));
    put<uint64_t>(bytes, 0, uint64_t{1} << 63);
    write_bytes(file("model.safetensors"), bytes);
    expect_load_error({"model.safetensors", "header length"});
}

TEST_F(BadHf, HeaderThatIsNotJson) {
    std::string bytes = read_bytes(file("model.safetensors"));
    bytes[8 + 1] = 'x';  // {x__metadata__": ...
    write_bytes(file("model.safetensors"), bytes);
    expect_load_error({"model.safetensors", "not valid JSON"});
}

TEST_F(BadHf, OffsetsPastTheEnd) {
    rewrite_safetensors_header(file("model.safetensors"), [](json& h) {
        h["model.norm.weight"]["data_offsets"] = {uint64_t{1} << 40, (uint64_t{1} << 40) + 256};
    });
    expect_load_error({"model.safetensors", "model.norm.weight", "outside"});
}

TEST_F(BadHf, OffsetsThatDisagreeWithTheShape) {
    rewrite_safetensors_header(file("model.safetensors"),
                               [](json& h) { h["model.norm.weight"]["shape"] = {32}; });
    expect_load_error({"model.safetensors", "model.norm.weight", "needs 128"});
}

TEST_F(BadHf, AbsurdShape) {
    rewrite_safetensors_header(file("model.safetensors"), [](json& h) {
        h["model.norm.weight"]["shape"] = {uint64_t{1} << 39, uint64_t{1} << 39, 4};
    });
    expect_load_error({"model.safetensors", "model.norm.weight", "overflows"});
}

TEST_F(BadHf, NegativeOffsets) {
    rewrite_safetensors_header(file("model.safetensors"), [](json& h) {
        h["model.norm.weight"]["data_offsets"] = {-8, 248};
    });
    expect_load_error({"model.safetensors", "model.norm.weight", "non-negative integers"});
}

TEST_F(BadHf, OverlappingTensors) {
    rewrite_safetensors_header(file("model.safetensors"), [](json& h) {
        h["model.layers.0.self_attn.v_proj.weight"]["data_offsets"] =
            h["model.layers.0.self_attn.k_proj.weight"]["data_offsets"];
    });
    expect_load_error({"model.safetensors", "overlap"});
}

class BadShards : public BadHf {
  protected:
    void SetUp() override {
        dir_ = tmp_.path("hf");
        make_checkpoint(dir_, CheckpointFormat::HuggingFace, DType::F32, tmp_.path("tok"),
                        tiny_test_config(), 7, /*shard_bytes=*/60000);
    }
};

TEST_F(BadShards, InvalidIndexJson) {
    write_bytes(file("model.safetensors.index.json"), "{\"weight_map\": {");
    expect_load_error({"model.safetensors.index.json", "invalid JSON"});
}

TEST_F(BadShards, IndexNamesAMissingShard) {
    edit_json("model.safetensors.index.json", [](json& j) {
        j["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
    });
    expect_load_error({"model-00009-of-00009.safetensors", "cannot open"});
}

TEST_F(BadShards, IndexPointsOutsideTheDirectory) {
    edit_json("model.safetensors.index.json",
              [](json& j) { j["weight_map"]["model.norm.weight"] = "../../etc/passwd"; });
    expect_load_error({"model.safetensors.index.json", "not a plain file name"});
}

TEST_F(BadShards, IndexPutsATensorInTheWrongShard) {
    edit_json("model.safetensors.index.json", [](json& j) {
        j["weight_map"]["model.norm.weight"] = j["weight_map"]["model.embed_tokens.weight"];
    });
    expect_load_error(
        {"model.safetensors.index.json", "model.norm.weight", "not present in that file"});
}

TEST_F(BadHf, MissingFiles) {
    fs::remove(file("tokenizer.json"));
    expect_load_error({"no tokenizer.json"});
    make_checkpoint(dir_, CheckpointFormat::HuggingFace, DType::F32, tmp_.path("tok"));
    fs::remove(file("model.safetensors"));
    expect_load_error({dir_, "no model.safetensors or model.safetensors.index.json"});
    fs::remove(file("config.json"));
    expect_load_error({dir_, "no config.json"});
    EXPECT_VASE_ERROR(load_checkpoint(tmp_.path("nowhere")), "nowhere", "no such file");
    EXPECT_VASE_ERROR(load_tokenizer_spec(tmp_.path("nowhere")), "nowhere", "no such file");
}

// ---------------------------------------------------------------------------------------------

class BadGguf : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ = tmp_.path("m.gguf");
        make_checkpoint(path_, CheckpointFormat::Gguf, DType::F32, tmp_.path("tok"));
        good_ = read_bytes(path_);
    }
    void expect_error(std::initializer_list<std::string> parts) {
        try {
            load_checkpoint(path_);
            ADD_FAILURE() << "loaded without error";
        } catch (const Error& e) {
            const std::string message = e.what();
            EXPECT_NE(message.find(path_), std::string::npos) << message;
            for (const std::string& part : parts) {
                EXPECT_NE(message.find(part), std::string::npos)
                    << "message \"" << message << "\" lacks \"" << part << "\"";
            }
        }
    }
    // Writes good_ with `patch` applied, then expects the error.
    void expect_patched(const std::function<void(std::string&)>& patch,
                        std::initializer_list<std::string> parts) {
        std::string bytes = good_;
        patch(bytes);
        write_bytes(path_, bytes);
        expect_error(parts);
    }
    void expect_rewritten(const std::set<std::string>& drop,
                          const std::function<void(GgufWriter&)>& add,
                          std::initializer_list<std::string> parts,
                          const std::set<std::string>& drop_tensors = {}) {
        write_bytes(tmp_.path("good.gguf"), good_);
        rewrite_gguf(tmp_.path("good.gguf"), path_, drop, add, drop_tensors);
        expect_error(parts);
    }
    // Byte position of tensor info fields of `name`.
    size_t tensor_info(const std::string& name) { return after_gguf_string(good_, name); }

    TempDir tmp_;
    std::string path_;
    std::string good_;
};

TEST_F(BadGguf, BadMagic) {
    expect_patched([](std::string& b) { b[0] = 'X'; }, {"bad magic"});
}

TEST_F(BadGguf, UnsupportedVersions) {
    expect_patched([](std::string& b) { put<uint32_t>(b, 4, 1); }, {"version 1"});
    expect_patched([](std::string& b) { put<uint32_t>(b, 4, 4); }, {"unsupported GGUF version 4"});
    expect_patched([](std::string& b) { put<uint32_t>(b, 4, 0x03000000); }, {"big-endian"});
}

TEST_F(BadGguf, TruncatedAnywhereBeforeTheDataAndAtEveryTensorBoundary) {
    GgufFile g(path_);
    const uint64_t data_start = g.tensors().front().offset;
    std::vector<uint64_t> ends;
    for (uint64_t end = 0; end < data_start; end += end < 512 ? 1 : 13) ends.push_back(end);
    for (const GgufTensorInfo& t : g.tensors()) {
        ends.push_back(t.offset);
        ends.push_back(t.offset + 1);
        ends.push_back(t.offset + t.nbytes - 1);
    }
    ends.push_back(good_.size() - 1);
    // Longest first, shrinking one file in place.
    std::sort(ends.rbegin(), ends.rend());
    write_bytes(path_, good_);
    for (uint64_t end : ends) {
        ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(end)), 0);
        try {
            load_checkpoint(path_);
            ADD_FAILURE() << "loaded a file truncated to " << end << " bytes";
        } catch (const Error& e) {
            const std::string message = e.what();
            ASSERT_NE(message.find(path_), std::string::npos) << message;
            ASSERT_NE(message.find("truncated"), std::string::npos)
                << "at " << end << ": " << message;
        }
    }
    // The tokenizer alone fails just as clearly.
    write_bytes(path_, good_.substr(0, data_start / 2));
    EXPECT_VASE_ERROR(load_tokenizer_spec(path_), path_, "truncated");
}

TEST_F(BadGguf, AbsurdCounts) {
    expect_patched([](std::string& b) { put<uint64_t>(b, 8, uint64_t{1} << 60); },
                   {"tensor count"});
    expect_patched([](std::string& b) { put<uint64_t>(b, 16, uint64_t{1} << 60); },
                   {"metadata count"});
}

TEST_F(BadGguf, AbsurdStringLength) {
    expect_patched([](std::string& b) { put<uint64_t>(b, 24, uint64_t{1} << 62); },
                   {"metadata key #0", "truncated"});
    expect_patched(
        [this](std::string& b) {
            size_t at = after_gguf_string(good_, "general.name") + 4;
            put<uint64_t>(b, at, ~uint64_t{0});
        },
        {"general.name", "truncated"});
}

TEST_F(BadGguf, AbsurdArrayLength) {
    expect_patched(
        [this](std::string& b) {
            size_t at = after_gguf_string(good_, "tokenizer.ggml.token_type") + 8;
            put<uint64_t>(b, at, uint64_t{1} << 62);  // x 4 bytes overflows 64 bits
        },
        {"tokenizer.ggml.token_type", "overflows"});
    expect_patched(
        [this](std::string& b) {
            size_t at = after_gguf_string(good_, "tokenizer.ggml.merges") + 8;
            put<uint64_t>(b, at, uint64_t{1} << 40);
        },
        {"tokenizer.ggml.merges", "strings cannot fit"});
}

TEST_F(BadGguf, TooManyDimensions) {
    expect_patched(
        [this](std::string& b) { put<uint32_t>(b, tensor_info("blk.0.attn_q.weight"), 5); },
        {"blk.0.attn_q.weight", "n_dims = 5"});
}

TEST_F(BadGguf, AbsurdDimension) {
    expect_patched(
        [this](std::string& b) {
            put<uint64_t>(b, tensor_info("blk.0.attn_q.weight") + 4, uint64_t{1} << 50);
        },
        {"blk.0.attn_q.weight", "absurd dimension"});
}

// Dimensions within the limit whose element count fits 64 bits but whose byte
// size does not (2^40 x 2^22 floats = 2^64 bytes) used to wrap to 0 bytes, so
// the tensor passed the bounds checks (found reviewing the size arithmetic;
// fuzz_gguf now checks every byte size exactly).
TEST_F(BadGguf, ByteSizeOverflowsWithDimensionsInRange) {
    expect_patched(
        [this](std::string& b) {
            put<uint64_t>(b, tensor_info("blk.0.attn_q.weight") + 4, uint64_t{1} << 40);
            put<uint64_t>(b, tensor_info("blk.0.attn_q.weight") + 12, uint64_t{1} << 22);
        },
        {"blk.0.attn_q.weight", "overflows"});
}

TEST_F(BadGguf, OffsetPastTheEnd) {
    expect_patched(
        [this](std::string& b) {
            size_t at = tensor_info("output_norm.weight") + 4 + 8 + 4;  // 1-D: one ne
            put<uint64_t>(b, at, uint64_t{1} << 40);
        },
        {"output_norm.weight", "past the end"});
}

TEST_F(BadGguf, OffsetOverflow) {
    expect_patched(
        [this](std::string& b) {
            size_t at = tensor_info("output_norm.weight") + 4 + 8 + 4;
            put<uint64_t>(b, at, ~uint64_t{31});
        },
        {"output_norm.weight", "overflows"});
}

TEST_F(BadGguf, UnalignedOffset) {
    expect_patched(
        [this](std::string& b) {
            size_t at = tensor_info("output_norm.weight") + 4 + 8 + 4;
            put<uint64_t>(b, at, get<uint64_t>(b, at) + 4);
        },
        {"output_norm.weight", "not a multiple of the alignment"});
}

TEST_F(BadGguf, OverlappingTensors) {
    expect_patched(
        [this](std::string& b) {
            size_t k = tensor_info("blk.0.attn_k.weight") + 4 + 16 + 4;
            size_t v = tensor_info("blk.0.attn_v.weight") + 4 + 16 + 4;
            put<uint64_t>(b, v, get<uint64_t>(b, k));
        },
        {"overlap"});
}

TEST_F(BadGguf, UnsupportedTensorTypes) {
    expect_patched(
        [this](std::string& b) {
            put<uint32_t>(b, tensor_info("blk.0.attn_q.weight") + 4 + 16, 12);
        },
        {"blk.0.attn_q.weight", "type Q4_K"});
    expect_patched(
        [this](std::string& b) {
            put<uint32_t>(b, tensor_info("blk.0.attn_q.weight") + 4 + 16, 200);
        },
        {"blk.0.attn_q.weight", "type 200"});
}

TEST_F(BadGguf, Q8_0RowsNotAMultipleOf32) {
    make_checkpoint(path_, CheckpointFormat::Gguf, DType::Q8_0, tmp_.path("tok"));
    good_ = read_bytes(path_);
    expect_patched(
        [this](std::string& b) { put<uint64_t>(b, tensor_info("blk.0.attn_q.weight") + 4, 48); },
        {"blk.0.attn_q.weight", "not a multiple of 32"});
}

TEST_F(BadGguf, NanScaleInQ8_0) {
    make_checkpoint(path_, CheckpointFormat::Gguf, DType::Q8_0, tmp_.path("tok"));
    good_ = read_bytes(path_);
    GgufFile g(path_);
    uint64_t offset = 0;
    for (const GgufTensorInfo& t : g.tensors()) {
        if (t.name == "blk.1.ffn_down.weight") offset = t.offset;
    }
    expect_patched([&](std::string& b) { put<uint16_t>(b, offset + 34, 0x7e00); },
                   {"model.layers.1.mlp.down_proj.weight", "NaN/Inf at element 32"});
}

TEST_F(BadGguf, DuplicateTensorName) {
    expect_patched(
        [this](std::string& b) {
            size_t at = find_in(good_, "blk.0.attn_v.weight");
            b.replace(at, 19, "blk.0.attn_k.weight");
        },
        {"blk.0.attn_k.weight", "appears twice"});
}

TEST_F(BadGguf, WrongArchitecture) {
    expect_patched(
        [this](std::string& b) {
            size_t at = after_gguf_string(good_, "general.architecture") + 4 + 8;
            b.replace(at, 5, "llama");
        },
        {"unsupported architecture llama"});
}

TEST_F(BadGguf, MoeArchitecture) {
    expect_rewritten({"general.architecture"},
                     [](GgufWriter& w) { w.add_string("general.architecture", "qwen3moe"); },
                     {"MoE", "not supported"});
}

TEST_F(BadGguf, RopeScaling) {
    expect_rewritten({}, [](GgufWriter& w) { w.add_string("qwen3.rope.scaling.type", "yarn"); },
                     {"unsupported rope scaling type yarn"});
}

TEST_F(BadGguf, UnsupportedTokenizers) {
    expect_rewritten({"tokenizer.ggml.model"},
                     [](GgufWriter& w) { w.add_string("tokenizer.ggml.model", "llama"); },
                     {"tokenizer.ggml.model = llama"});
    expect_rewritten({"tokenizer.ggml.pre"},
                     [](GgufWriter& w) { w.add_string("tokenizer.ggml.pre", "llama3"); },
                     {"tokenizer.ggml.pre", "llama3"});
    EXPECT_VASE_ERROR(load_tokenizer_spec(path_), path_, "llama3");
}

TEST_F(BadGguf, MissingMetadataKey) {
    expect_rewritten({"qwen3.block_count"}, {}, {"missing GGUF metadata key qwen3.block_count"});
}

TEST_F(BadGguf, MetadataOfTheWrongType) {
    expect_rewritten({"qwen3.embedding_length"},
                     [](GgufWriter& w) { w.add_string("qwen3.embedding_length", "64"); },
                     {"qwen3.embedding_length", "must be a non-negative integer"});
    expect_rewritten({"tokenizer.ggml.tokens"},
                     [](GgufWriter& w) {
                         w.add_i32_array("tokenizer.ggml.tokens", {1, 2});
                     },
                     {"tokenizer.ggml.tokens", "array of string"});
}

TEST_F(BadGguf, InvalidValueTypes) {
    expect_patched(
        [this](std::string& b) { put<uint32_t>(b, after_gguf_string(good_, "general.name"), 99); },
        {"general.name", "unknown value type 99"});
    expect_patched(
        [this](std::string& b) {
            put<uint32_t>(b, after_gguf_string(good_, "tokenizer.ggml.token_type") + 4, 77);
        },
        {"tokenizer.ggml.token_type", "unknown array element type 77"});
    expect_patched(
        [this](std::string& b) {
            put<uint32_t>(b, after_gguf_string(good_, "tokenizer.ggml.token_type") + 4, 9);
        },
        {"tokenizer.ggml.token_type", "arrays of arrays"});
    expect_patched(
        [this](std::string& b) {
            b[after_gguf_string(good_, "tokenizer.ggml.add_bos_token") + 4] = 2;
        },
        {"tokenizer.ggml.add_bos_token", "neither 0 nor 1"});
}

TEST_F(BadGguf, DuplicateKey) {
    expect_patched(
        [this](std::string& b) {
            size_t at = after_gguf_string(good_, "general.type") - 12;
            b.replace(at, 12, "general.name");
        },
        {"general.name", "appears twice"});
}

TEST_F(BadGguf, BadAlignment) {
    expect_rewritten({}, [](GgufWriter& w) { w.add_u32("general.alignment", 48); },
                     {"general.alignment = 48"});
}

TEST_F(BadGguf, TokenTypesOfTheWrongLength) {
    expect_rewritten({"tokenizer.ggml.token_type"},
                     [](GgufWriter& w) {
                         w.add_i32_array("tokenizer.ggml.token_type", {1, 1});
                     },
                     {"tokenizer.ggml.token_type has 2 entries"});
}

TEST_F(BadGguf, EosOutsideTheVocabulary) {
    expect_rewritten({"tokenizer.ggml.eos_token_id"},
                     [](GgufWriter& w) { w.add_u32("tokenizer.ggml.eos_token_id", 99999); },
                     {"tokenizer.ggml.eos_token_id = 99999", "outside the vocabulary"});
}

TEST_F(BadGguf, MissingTensor) {
    expect_rewritten({}, {}, {"missing tensor model.layers.1.mlp.up_proj.weight"},
                     {"blk.1.ffn_up.weight"});
}

TEST_F(BadGguf, ShapeMismatchWithMetadata) {
    expect_rewritten({"qwen3.feed_forward_length"},
                     [](GgufWriter& w) { w.add_u32("qwen3.feed_forward_length", 64); },
                     {"tensor model.layers.0.mlp.gate_proj.weight has shape [96, 64], expected "
                      "[64, 64] from the GGUF metadata"});
}

TEST_F(BadGguf, NotAGgufFile) {
    write_bytes(path_, "");
    expect_error({"truncated"});
    write_bytes(tmp_.path("x.bin"), "hello, this is not a model");
    EXPECT_VASE_ERROR(load_tokenizer_spec(tmp_.path("x.bin")), "x.bin", "not a tokenizer");
    EXPECT_VASE_ERROR(load_checkpoint(tmp_.path("x.bin")), "x.bin", "bad magic");
}

// Random byte changes in the parts of a file that describe it (headers,
// metadata, tensor infos): each load must succeed or throw vase::Error.
void mutate_and_load(const std::string& file, const std::string& load_path, uint64_t span,
                     uint64_t seed) {
    const int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    Rng rng(seed);
    int failures = 0;
    for (int round = 0; round < 400; ++round) {
        const uint64_t at = rng.next_u64() % span;
        const int width = 1 + static_cast<int>(rng.next_u64() % 8);
        unsigned char saved[8];
        ASSERT_EQ(::pread(fd, saved, width, static_cast<off_t>(at)), width);
        unsigned char junk[8];
        for (int k = 0; k < width; ++k) {
            uint64_t r = rng.next_u64();
            junk[k] = r % 4 == 0 ? 0xff : r % 4 == 1 ? 0x00 : static_cast<unsigned char>(r >> 8);
        }
        ASSERT_EQ(::pwrite(fd, junk, width, static_cast<off_t>(at)), width);
        try {
            load_checkpoint(load_path);
        } catch (const Error& e) {
            ++failures;
            EXPECT_NE(std::string(e.what()).find(load_path), std::string::npos) << e.what();
        }
        ASSERT_EQ(::pwrite(fd, saved, width, static_cast<off_t>(at)), width);
    }
    ::close(fd);
    EXPECT_GT(failures, 100);  // most changes to a header break something
}

TEST(Mutations, GgufHeaderBytes) {
    TempDir tmp;
    const std::string path = tmp.path("m.gguf");
    make_checkpoint(path, CheckpointFormat::Gguf, DType::Q8_0, tmp.path("tok"));
    const uint64_t data_start = GgufFile(path).tensors().front().offset;
    mutate_and_load(path, path, data_start, 1);
}

TEST(Mutations, SafetensorsHeaderBytes) {
    TempDir tmp;
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::BF16, tmp.path("tok"));
    const std::string file = tmp.path("hf/model.safetensors");
    const std::string bytes = read_bytes(file);
    mutate_and_load(file, tmp.path("hf"), 8 + get<uint64_t>(bytes, 0), 2);
}

}  // namespace
}  // namespace vase::test
