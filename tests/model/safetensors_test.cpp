// The safetensors reader and writer on their own, and how the loader treats
// tensors it does not need.
#include <cstring>

#include "checkpoint_test_util.h"
#include "model/safetensors.h"

namespace vase::test {
namespace {

TEST(Safetensors, WriterAndReaderRoundTripEveryDtype) {
    TempDir tmp;
    const std::string path = tmp.path("t.safetensors");
    std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f};
    std::vector<uint16_t> b = {f32_to_bf16(0.5f), f32_to_bf16(-1.0f), f32_to_bf16(2.0f)};
    std::vector<uint16_t> c = {f32_to_f16(0.125f), f32_to_f16(65504.0f)};
    {
        SafetensorsWriter w(path,
                            {{"a", DType::F32, {2, 3}},
                             {"b", DType::BF16, {3}},
                             {"c", DType::F16, {1, 2}},
                             {"empty", DType::F32, {0, 4}}},
                            {{"format", "pt"}});
        w.write(a.data(), a.size() * 4);
        w.write(b.data(), 2);  // in pieces
        w.write(b.data() + 1, 4);
        w.write(c.data(), 4);
        w.finish();
    }
    const std::string bytes = read_bytes(path);
    uint64_t header_len;
    std::memcpy(&header_len, bytes.data(), 8);
    EXPECT_EQ((8 + header_len) % 8, 0u);  // data section 8-byte aligned
    json header = json::parse(bytes.substr(8, header_len));
    EXPECT_EQ(header["__metadata__"]["format"], "pt");
    EXPECT_EQ(header["b"]["dtype"], "BF16");
    EXPECT_EQ(header["a"]["data_offsets"], json({0, 24}));
    EXPECT_EQ(header["c"]["data_offsets"], json({30, 34}));

    MappedFile file(path);
    std::vector<SafetensorsEntry> entries = read_safetensors(file);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].name, "a");
    EXPECT_EQ(entries[0].dtype, "F32");
    EXPECT_EQ(entries[0].shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(std::memcmp(entries[0].data, a.data(), 24), 0);
    EXPECT_EQ(entries[1].name, "b");
    EXPECT_EQ(std::memcmp(entries[1].data, b.data(), 6), 0);
    EXPECT_EQ(entries[2].name, "c");
    EXPECT_EQ(std::memcmp(entries[2].data, c.data(), 4), 0);
    EXPECT_EQ(entries[3].name, "empty");
    EXPECT_EQ(entries[3].nbytes, 0u);
    DType t;
    EXPECT_TRUE(safetensors_dtype("BF16", &t));
    EXPECT_EQ(t, DType::BF16);
    EXPECT_FALSE(safetensors_dtype("F64", &t));
}

TEST(Safetensors, WriterRejectsMoreOrFewerBytesThanDeclared) {
    TempDir tmp;
    std::vector<float> x(8, 1.0f);
    {
        SafetensorsWriter w(tmp.path("a"), {{"x", DType::F32, {4}}});
        w.write(x.data(), 12);
        EXPECT_VASE_ERROR(w.finish(), "12 of 16");
    }
    SafetensorsWriter w(tmp.path("b"), {{"x", DType::F32, {4}}});
    EXPECT_VASE_ERROR(w.write(x.data(), 20), "past the declared 16");
}

TEST(Safetensors, ReaderAcceptsUnalignedDataAndForeignDtypes) {
    TempDir tmp;
    // A hand-made file: odd header length (unaligned data) and an I64 tensor.
    std::vector<float> v = {1.0f, 2.0f};
    int64_t ids[2] = {7, -1};
    json header = {{"ids", {{"dtype", "I64"}, {"shape", {2}}, {"data_offsets", {8, 24}}}},
                   {"v", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}};
    std::string text = header.dump();
    if (text.size() % 2 == 0) text += " ";
    uint64_t n = text.size();
    std::string bytes(reinterpret_cast<const char*>(&n), 8);
    bytes += text;
    bytes.append(reinterpret_cast<const char*>(v.data()), 8);
    bytes.append(reinterpret_cast<const char*>(ids), 16);
    write_bytes(tmp.path("x.safetensors"), bytes);
    MappedFile file(tmp.path("x.safetensors"));
    std::vector<SafetensorsEntry> entries = read_safetensors(file);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].name, "v");  // in data order
    float got[2];
    std::memcpy(got, entries[0].data, 8);
    EXPECT_EQ(got[1], 2.0f);
    EXPECT_EQ(entries[1].dtype, "I64");
}

TEST(Safetensors, LoaderIgnoresExtraTensorsWhateverTheirDtype) {
    TempDir tmp;
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::BF16, tmp.path("tok"));
    const std::string file = tmp.path("hf/model.safetensors");
    // Append two tensors HF checkpoints sometimes carry: an F32 buffer and an I64 one.
    uint64_t data_size = 0;
    rewrite_safetensors_header(file, [&](json& h) {
        for (auto& [name, info] : h.items()) {
            if (name != "__metadata__")
                data_size = std::max<uint64_t>(data_size, info["data_offsets"][1]);
        }
        h["model.layers.0.self_attn.rotary_emb.inv_freq"] = {
            {"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {data_size, data_size + 32}}};
        h["position_ids"] = {
            {"dtype", "I64"}, {"shape", {4}}, {"data_offsets", {data_size + 32, data_size + 64}}};
    });
    std::string bytes = read_bytes(file);
    bytes.append(64, '\0');
    write_bytes(file, bytes);
    Checkpoint ck = load_checkpoint(tmp.path("hf"));
    EXPECT_EQ(ck.tensors.size(), expected_tensors(ck.config).size());
    EXPECT_FALSE(ck.has_tensor("position_ids"));
    EXPECT_FALSE(ck.has_tensor("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

TEST(Safetensors, TiedCheckpointWithAStoredLmHeadExposesOnlyTheEmbedding) {
    TempDir tmp;
    ModelConfig c = tiny_test_config();
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::F32, tmp.path("tok"), c);
    // The same weights, but config.json now says tied: lm_head.weight is redundant.
    json config = json::parse(read_bytes(tmp.path("hf/config.json")));
    config["tie_word_embeddings"] = true;
    write_bytes(tmp.path("hf/config.json"), config.dump());
    Checkpoint ck = load_checkpoint(tmp.path("hf"));
    EXPECT_TRUE(ck.config.tie_word_embeddings);
    EXPECT_FALSE(ck.has_tensor("lm_head.weight"));
    EXPECT_VASE_ERROR(ck.tensor("lm_head.weight"), "missing tensor lm_head.weight");
}

TEST(HfConfig, HeadDimDefaultsAndGenerationConfigIsOptional) {
    TempDir tmp;
    ModelConfig c = tiny_test_config();
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::F32, tmp.path("tok"), c);
    json config = json::parse(read_bytes(tmp.path("hf/config.json")));
    config.erase("head_dim");                             // hidden 64 / 4 heads = 16, as written
    config["rope_scaling"] = {{"rope_type", "default"}};  // plain RoPE by another name
    write_bytes(tmp.path("hf/config.json"), config.dump());
    fs::remove(tmp.path("hf/generation_config.json"));
    Checkpoint ck = load_checkpoint(tmp.path("hf"));
    EXPECT_EQ(ck.config.head_dim, 16);
    GenerationConfig defaults;
    EXPECT_EQ(ck.generation.temperature, defaults.temperature);
    EXPECT_EQ(ck.generation.top_k, defaults.top_k);
    // eos from config.json (261) and tokenizer_config's eos_token (<|im_end|> = 261).
    EXPECT_EQ(ck.generation.eos_token_ids, (std::vector<int32_t>{261}));
}

}  // namespace
}  // namespace vase::test
