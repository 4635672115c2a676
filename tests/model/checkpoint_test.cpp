// Loading random checkpoints written in both formats: values, configuration,
// tokenizer and generation defaults; the two formats agree bit for bit.
#include <cmath>
#include <cstring>
#include <set>

#include "checkpoint_test_util.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"
#include "ops/dtype.h"
#include "util/rng.h"

namespace vase::test {
namespace {

std::vector<float> expected_values(const std::string& name, const std::vector<int64_t>& shape,
                                   const ModelConfig& c, uint64_t seed) {
    int64_t rows = shape.size() == 1 ? 1 : shape[0];
    std::vector<float> v(static_cast<size_t>(rows * shape.back()));
    random_tensor_rows(name, shape, c, seed, 0, rows, v.data());
    return v;
}

float stored_value(const TensorView& t, int64_t i) {
    const auto* p = static_cast<const uint8_t*>(t.data);
    uint16_t h;
    switch (t.dtype) {
        case DType::F32: {
            float f;
            std::memcpy(&f, p + 4 * i, 4);
            return f;
        }
        case DType::F16:
            std::memcpy(&h, p + 2 * i, 2);
            return f16_to_f32(h);
        case DType::BF16:
            std::memcpy(&h, p + 2 * i, 2);
            return bf16_to_f32(h);
        case DType::Q8_0: {
            BlockQ8_0 b;
            std::memcpy(&b, p + (i / kQ8BlockSize) * sizeof(BlockQ8_0), sizeof(b));
            return f16_to_f32(b.scale) * b.q[i % kQ8BlockSize];
        }
    }
    return 0;
}

// The value `x` rounded as `dtype` stores it (not Q8_0).
float rounded(float x, DType dtype) {
    switch (dtype) {
        case DType::F16:
            return f16_to_f32(f32_to_f16(x));
        case DType::BF16:
            return bf16_to_f32(f32_to_bf16(x));
        default:
            return x;
    }
}

TEST(QwenShapes, MatchTheReleasedModels) {
    struct Case {
        const char* name;
        int64_t hidden, inter, layers, heads;
        double non_embedding_params;  // as the model cards state them
    };
    for (const Case& k : {Case{"qwen3-0.6b", 1024, 3072, 28, 16, 0.44e9},
                          Case{"qwen3-1.7b", 2048, 6144, 28, 16, 1.4e9},
                          Case{"qwen3-4b", 2560, 9728, 36, 32, 3.6e9}}) {
        ModelConfig c = qwen3_shape(k.name);
        EXPECT_EQ(c.hidden_size, k.hidden) << k.name;
        EXPECT_EQ(c.intermediate_size, k.inter) << k.name;
        EXPECT_EQ(c.n_layers, k.layers) << k.name;
        EXPECT_EQ(c.n_heads, k.heads) << k.name;
        EXPECT_EQ(c.n_kv_heads, 8);
        EXPECT_EQ(c.head_dim, 128);
        EXPECT_EQ(c.vocab_size, 151936);
        EXPECT_TRUE(c.tie_word_embeddings);
        EXPECT_EQ(c.rope_theta, 1e6);
        EXPECT_EQ(c.rms_norm_eps, 1e-6);
        EXPECT_EQ(c.max_position_embeddings, 40960);
        double params = 0;
        for (const ExpectedTensor& t : expected_tensors(c)) {
            if (t.name == "model.embed_tokens.weight") continue;
            double n = 1;
            for (int64_t d : t.shape) n *= static_cast<double>(d);
            params += n;
        }
        EXPECT_NEAR(params, k.non_embedding_params, 0.05e9) << k.name;
    }
    ModelConfig tiny = qwen3_shape("tiny");
    EXPECT_EQ(tiny.hidden_size, 64);
    EXPECT_EQ(tiny.intermediate_size, 128);
    EXPECT_EQ(tiny.n_layers, 2);
    EXPECT_EQ(tiny.n_heads, 4);
    EXPECT_EQ(tiny.n_kv_heads, 2);
    EXPECT_EQ(tiny.head_dim, 16);
    EXPECT_EQ(tiny.vocab_size, 151936);
    EXPECT_FALSE(tiny.tie_word_embeddings);
    EXPECT_VASE_ERROR(qwen3_shape("qwen3-9b"), "qwen3-9b", "tiny");
}

TEST(TensorNames, HuggingFaceAndGgufNamesMapBothWays) {
    ModelConfig c = tiny_test_config();
    std::vector<ExpectedTensor> expected = expected_tensors(c);
    EXPECT_EQ(expected.size(), static_cast<size_t>(3 + 11 * c.n_layers));
    std::set<std::string> gguf_names;
    for (const ExpectedTensor& t : expected) {
        auto g = gguf_name_of_hf(t.name);
        ASSERT_TRUE(g.has_value()) << t.name;
        EXPECT_EQ(hf_name_of_gguf(*g), t.name);
        gguf_names.insert(*g);
    }
    EXPECT_EQ(gguf_names.size(), expected.size());
    EXPECT_EQ(hf_name_of_gguf("blk.1.attn_q.weight"), "model.layers.1.self_attn.q_proj.weight");
    EXPECT_EQ(hf_name_of_gguf("blk.0.ffn_down.weight"), "model.layers.0.mlp.down_proj.weight");
    EXPECT_EQ(hf_name_of_gguf("output.weight"), "lm_head.weight");
    EXPECT_FALSE(hf_name_of_gguf("rope_freqs.weight").has_value());
    EXPECT_FALSE(hf_name_of_gguf("blk.x.attn_q.weight").has_value());
    EXPECT_FALSE(hf_name_of_gguf("blk.01.attn_q.weight").has_value());
    EXPECT_EQ(expected_tensors(tiny_test_config(true)).size(), expected.size() - 1);
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, HuggingFaceDirectoryHoldsTheGeneratedValues) {
    const DType dtype = GetParam();
    TempDir tmp;
    if (dtype == DType::Q8_0) {  // safetensors has no Q8_0: the writer says so
        EXPECT_VASE_ERROR(
            make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, dtype, tmp.path("tok")),
            "q8_0", "--format gguf");
        return;
    }
    const ModelConfig c = tiny_test_config();
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, dtype, tmp.path("tok"), c, 11);
    Checkpoint ck = load_checkpoint(tmp.path("hf"));
    EXPECT_EQ(ck.format, "safetensors");
    EXPECT_EQ(ck.config.vocab_size, c.vocab_size);
    EXPECT_EQ(ck.config.hidden_size, c.hidden_size);
    EXPECT_EQ(ck.config.intermediate_size, c.intermediate_size);
    EXPECT_EQ(ck.config.n_layers, c.n_layers);
    EXPECT_EQ(ck.config.n_heads, c.n_heads);
    EXPECT_EQ(ck.config.n_kv_heads, c.n_kv_heads);
    EXPECT_EQ(ck.config.head_dim, c.head_dim);
    EXPECT_EQ(ck.config.max_position_embeddings, c.max_position_embeddings);
    EXPECT_EQ(ck.config.tie_word_embeddings, false);
    EXPECT_EQ(ck.tensors.size(), expected_tensors(c).size());
    for (const ExpectedTensor& e : expected_tensors(c)) {
        const TensorView& t = ck.tensor(e.name);
        EXPECT_EQ(t.dtype, dtype) << e.name;
        EXPECT_EQ(t.shape, e.shape) << e.name;
        EXPECT_EQ(t.nbytes, dtype_row_bytes(dtype, t.numel()));
        std::vector<float> want = expected_values(e.name, e.shape, c, 11);
        for (int64_t i = 0; i < t.numel(); ++i) {
            ASSERT_EQ(stored_value(t, i), rounded(want[i], dtype)) << e.name << " at " << i;
        }
    }
    // Qwen3's generation defaults and stop tokens, from the files the writer made.
    EXPECT_FLOAT_EQ(ck.generation.temperature, 0.6f);
    EXPECT_FLOAT_EQ(ck.generation.top_p, 0.95f);
    EXPECT_EQ(ck.generation.top_k, 20);
    EXPECT_TRUE(ck.generation.do_sample);
    EXPECT_EQ(ck.generation.eos_token_ids, (std::vector<int32_t>{261, 259}));
    EXPECT_NE(ck.chat_template.find("<|im_start|>"), std::string::npos);
    EXPECT_EQ(ck.tokenizer.added.size(), 4u);
    EXPECT_EQ(ck.tokenizer.merges.size(), 3u);
}

TEST_P(RoundTrip, GgufFileHoldsTheGeneratedValues) {
    const DType dtype = GetParam();
    TempDir tmp;
    const ModelConfig c = tiny_test_config();
    const std::string file = tmp.path("m.gguf");
    make_checkpoint(file, CheckpointFormat::Gguf, dtype, tmp.path("tok"), c, 12);
    Checkpoint ck = load_checkpoint(file);
    EXPECT_EQ(ck.format, "gguf");
    EXPECT_EQ(ck.config.vocab_size, c.vocab_size);
    EXPECT_EQ(ck.config.head_dim, c.head_dim);
    EXPECT_EQ(ck.config.n_kv_heads, c.n_kv_heads);
    EXPECT_FALSE(ck.config.tie_word_embeddings);
    for (const ExpectedTensor& e : expected_tensors(c)) {
        const TensorView& t = ck.tensor(e.name);
        EXPECT_EQ(t.shape, e.shape) << e.name;
        std::vector<float> want = expected_values(e.name, e.shape, c, 12);
        if (e.shape.size() == 1) {  // norms stay F32 in GGUF, holding the dtype's values
            ASSERT_EQ(t.dtype, DType::F32);
            for (int64_t i = 0; i < t.numel(); ++i) {
                ASSERT_EQ(stored_value(t, i), rounded(want[i], dtype)) << e.name;
            }
            continue;
        }
        ASSERT_EQ(t.dtype, dtype) << e.name;
        if (dtype != DType::Q8_0) {
            for (int64_t i = 0; i < t.numel(); ++i) {
                ASSERT_EQ(stored_value(t, i), rounded(want[i], dtype)) << e.name << " at " << i;
            }
            continue;
        }
        // Q8_0: each block's scale is max|x|/127 (as f16) and every value is within
        // half a step of the original.
        for (int64_t b = 0; b < t.numel() / kQ8BlockSize; ++b) {
            double amax = 0;
            for (int k = 0; k < kQ8BlockSize; ++k) {
                amax = std::max(amax, std::fabs(static_cast<double>(want[b * 32 + k])));
            }
            BlockQ8_0 block;
            std::memcpy(&block, static_cast<const uint8_t*>(t.data) + b * sizeof(BlockQ8_0),
                        sizeof(block));
            const double scale = f16_to_f32(block.scale);
            ASSERT_NEAR(scale, amax / 127, amax / 127 * 1e-3) << e.name;
            for (int k = 0; k < kQ8BlockSize; ++k) {
                const double x = want[b * 32 + k];
                ASSERT_NEAR(block.q[k] * scale, x, scale * 0.5 + amax * 1e-3) << e.name;
            }
        }
    }
    EXPECT_FLOAT_EQ(ck.generation.temperature, 0.6f);
    EXPECT_FLOAT_EQ(ck.generation.top_p, 0.95f);
    EXPECT_EQ(ck.generation.top_k, 20);
    std::set<int32_t> eos(ck.generation.eos_token_ids.begin(), ck.generation.eos_token_ids.end());
    EXPECT_EQ(eos, (std::set<int32_t>{259, 261}));
    EXPECT_EQ(ck.generation.eos_token_ids[0], 261);  // tokenizer.ggml.eos_token_id first
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RoundTrip,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Formats, HuggingFaceAndGgufOfOneSeedAreBitwiseIdenticalInF32) {
    TempDir tmp;
    const ModelConfig c = tiny_test_config();
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::F32, tmp.path("tok"), c,
                    5);
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::F32, tmp.path("tok"), c, 5);
    Checkpoint hf = load_checkpoint(tmp.path("hf"));
    Checkpoint gg = load_checkpoint(tmp.path("m.gguf"));
    ASSERT_EQ(hf.tensors.size(), gg.tensors.size());
    for (const auto& [name, a] : hf.tensors) {
        const TensorView& b = gg.tensor(name);
        ASSERT_EQ(a.dtype, DType::F32);
        ASSERT_EQ(b.dtype, DType::F32);
        ASSERT_EQ(a.shape, b.shape) << name;
        ASSERT_EQ(a.nbytes, b.nbytes) << name;
        EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
    }
    const ModelConfig& x = hf.config;
    const ModelConfig& y = gg.config;
    EXPECT_EQ(x.vocab_size, y.vocab_size);
    EXPECT_EQ(x.hidden_size, y.hidden_size);
    EXPECT_EQ(x.intermediate_size, y.intermediate_size);
    EXPECT_EQ(x.n_layers, y.n_layers);
    EXPECT_EQ(x.n_heads, y.n_heads);
    EXPECT_EQ(x.n_kv_heads, y.n_kv_heads);
    EXPECT_EQ(x.head_dim, y.head_dim);
    EXPECT_EQ(x.max_position_embeddings, y.max_position_embeddings);
    EXPECT_EQ(x.rope_theta, y.rope_theta);
    EXPECT_FLOAT_EQ(static_cast<float>(x.rms_norm_eps), static_cast<float>(y.rms_norm_eps));
    EXPECT_EQ(x.tie_word_embeddings, y.tie_word_embeddings);
    EXPECT_EQ(hf.chat_template, gg.chat_template);
    EXPECT_EQ(hf.tokenizer.merges, gg.tokenizer.merges);
    EXPECT_EQ(hf.tokenizer.nfc, gg.tokenizer.nfc);
    EXPECT_EQ(hf.tokenizer.split_regex, gg.tokenizer.split_regex);
    // GGUF pads the vocabulary to the embedding rows; the ids in common agree.
    ASSERT_EQ(gg.tokenizer.vocab.size(), static_cast<size_t>(c.vocab_size));
    for (size_t i = 0; i < gg.tokenizer.vocab.size(); ++i) {
        const std::string want = i < hf.tokenizer.vocab.size() ? hf.tokenizer.vocab[i] : "";
        ASSERT_EQ(gg.tokenizer.vocab[i], want) << i;
    }
    ASSERT_EQ(hf.tokenizer.added.size(), gg.tokenizer.added.size());
    for (size_t i = 0; i < hf.tokenizer.added.size(); ++i) {
        EXPECT_EQ(hf.tokenizer.added[i].id, gg.tokenizer.added[i].id);
        EXPECT_EQ(hf.tokenizer.added[i].content, gg.tokenizer.added[i].content);
        EXPECT_EQ(hf.tokenizer.added[i].special, gg.tokenizer.added[i].special);
    }
    std::set<int32_t> eos_hf(hf.generation.eos_token_ids.begin(),
                             hf.generation.eos_token_ids.end());
    std::set<int32_t> eos_gg(gg.generation.eos_token_ids.begin(),
                             gg.generation.eos_token_ids.end());
    EXPECT_EQ(eos_hf, eos_gg);
}

TEST(Formats, Bf16MatricesAreIdenticalAndGgufNormsHoldTheSameValues) {
    TempDir tmp;
    const ModelConfig c = tiny_test_config(/*tied=*/true);
    make_checkpoint(tmp.path("hf"), CheckpointFormat::HuggingFace, DType::BF16, tmp.path("tok"), c,
                    9);
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::BF16, tmp.path("tok"), c, 9);
    Checkpoint hf = load_checkpoint(tmp.path("hf"));
    Checkpoint gg = load_checkpoint(tmp.path("m.gguf"));
    EXPECT_TRUE(hf.config.tie_word_embeddings);
    EXPECT_TRUE(gg.config.tie_word_embeddings);
    EXPECT_FALSE(hf.has_tensor("lm_head.weight"));
    EXPECT_FALSE(gg.has_tensor("lm_head.weight"));
    for (const auto& [name, a] : hf.tensors) {
        const TensorView& b = gg.tensor(name);
        ASSERT_EQ(a.shape, b.shape);
        if (a.shape.size() == 2) {
            ASSERT_EQ(b.dtype, DType::BF16);
            EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
        } else {
            ASSERT_EQ(b.dtype, DType::F32);
            for (int64_t i = 0; i < a.numel(); ++i) {
                ASSERT_EQ(stored_value(a, i), stored_value(b, i)) << name;
            }
        }
    }
}

TEST(Formats, ShardedDirectoryLoadsLikeOneFile) {
    TempDir tmp;
    const ModelConfig c = tiny_test_config();
    make_checkpoint(tmp.path("one"), CheckpointFormat::HuggingFace, DType::BF16, tmp.path("tok"), c,
                    3);
    make_checkpoint(tmp.path("sharded"), CheckpointFormat::HuggingFace, DType::BF16,
                    tmp.path("tok"), c, 3, /*shard_bytes=*/40000);
    EXPECT_FALSE(fs::exists(tmp.path("sharded/model.safetensors")));
    EXPECT_TRUE(fs::exists(tmp.path("sharded/model.safetensors.index.json")));
    Checkpoint one = load_checkpoint(tmp.path("one"));
    Checkpoint sharded = load_checkpoint(tmp.path("sharded"));
    EXPECT_GE(sharded.files.size(), 3u);
    ASSERT_EQ(one.tensors.size(), sharded.tensors.size());
    for (const auto& [name, a] : one.tensors) {
        const TensorView& b = sharded.tensor(name);
        ASSERT_EQ(a.nbytes, b.nbytes);
        EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
    }
    // Writing again without shards replaces the old shards.
    make_checkpoint(tmp.path("sharded"), CheckpointFormat::HuggingFace, DType::BF16,
                    tmp.path("tok"), c, 4);
    EXPECT_FALSE(fs::exists(tmp.path("sharded/model.safetensors.index.json")));
    EXPECT_EQ(load_checkpoint(tmp.path("sharded")).files.size(), 1u);
}

TEST(Tokenizer, LoadTokenizerSpecReadsDirectoriesJsonFilesAndGguf) {
    TempDir tmp;
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::F32, tmp.path("tok"));
    TokenizerSpec from_dir = load_tokenizer_spec(tmp.path("tok"));
    TokenizerSpec from_json = load_tokenizer_spec(tmp.path("tok/tokenizer.json"));
    TokenizerSpec from_gguf = load_tokenizer_spec(tmp.path("m.gguf"));
    EXPECT_EQ(from_dir.vocab, from_json.vocab);
    EXPECT_EQ(from_dir.vocab.size(), 259u);
    EXPECT_EQ(from_gguf.vocab.size(), 320u);
    EXPECT_EQ(from_gguf.merges, from_dir.merges);
    EXPECT_EQ(from_gguf.source, tmp.path("m.gguf"));
    Tokenizer a(from_dir);
    Tokenizer b(from_gguf);
    for (const char* text : {" the", "hello there", "<|im_start|>hi<|im_end|>", "<think>x"}) {
        EXPECT_EQ(a.encode(text), b.encode(text)) << text;
    }
    EXPECT_EQ(b.encode(" the"), (std::vector<int32_t>{258}));
    EXPECT_TRUE(b.is_special(261));
    EXPECT_FALSE(b.is_special(262));
}

TEST(Tokenizer, RealQwen3TokenizerSurvivesTheGgufConversion) {
    const std::string real = VASE_TOKENIZER_DIR;
    if (!fs::exists(real + "/tokenizer.json")) GTEST_SKIP() << "no " << real;
    TempDir tmp;
    ModelConfig c = tiny_test_config(/*tied=*/true);
    c.vocab_size = 151936;
    c.hidden_size = 32;
    c.intermediate_size = 32;
    c.n_layers = 1;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    RandomCheckpointOptions o;
    o.config = c;
    o.format = CheckpointFormat::Gguf;
    o.dtype = DType::BF16;
    o.tokenizer_dir = real;
    write_random_checkpoint(o, tmp.path("real.gguf"));
    Checkpoint gg = load_checkpoint(tmp.path("real.gguf"));
    Tokenizer a(load_tokenizer_spec(real));
    Tokenizer b(gg.tokenizer);
    for (const char* text :
         {"Hello, world! 你好", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<think>\n\n</think>",
          "  spaces\tand\nnewlines 12345", "émigré naïve"}) {
        EXPECT_EQ(a.encode(text), b.encode(text)) << text;
    }
    std::set<int32_t> eos(gg.generation.eos_token_ids.begin(), gg.generation.eos_token_ids.end());
    EXPECT_EQ(eos, (std::set<int32_t>{151643, 151645}));
    EXPECT_FALSE(gg.chat_template.empty());
}

TEST(RandomWeights, HaveTheDocumentedDistributionsAndDependOnlyOnTheSeed) {
    ModelConfig c = tiny_test_config();
    auto stats = [&](const std::string& name, const std::vector<int64_t>& shape, uint64_t seed) {
        std::vector<float> v = expected_values(name, shape, c, seed);
        double s = 0, s2 = 0;
        for (float x : v) {
            s += x;
            s2 += static_cast<double>(x) * x;
        }
        double mean = s / v.size();
        return std::pair<double, double>(mean, std::sqrt(s2 / v.size() - mean * mean));
    };
    auto [m1, s1] = stats("model.layers.0.mlp.up_proj.weight", {96, 64}, 1);
    EXPECT_NEAR(m1, 0.0, 0.002);
    EXPECT_NEAR(s1, 0.02, 0.001);
    auto [m2, s2] = stats("lm_head.weight", {320, 64}, 1);
    EXPECT_NEAR(m2, 0.0, 0.01);
    EXPECT_NEAR(s2, 0.125, 0.005);  // 1 / sqrt(64)
    auto [m3, s3] = stats("model.norm.weight", {4096}, 1);
    EXPECT_NEAR(m3, 1.0, 0.01);
    EXPECT_NEAR(s3, 0.1, 0.005);
    EXPECT_EQ(expected_values("model.norm.weight", {64}, c, 1),
              expected_values("model.norm.weight", {64}, c, 1));
    EXPECT_NE(expected_values("model.norm.weight", {64}, c, 1),
              expected_values("model.norm.weight", {64}, c, 2));
    EXPECT_NE(expected_values("model.layers.0.input_layernorm.weight", {64}, c, 1),
              expected_values("model.layers.1.input_layernorm.weight", {64}, c, 1));
    // Rows are independent streams: making rows 5..7 alone gives the same values.
    std::vector<float> all = expected_values("lm_head.weight", {320, 64}, c, 1);
    std::vector<float> part(3 * 64);
    random_tensor_rows("lm_head.weight", {320, 64}, c, 1, 5, 3, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), all.begin() + 5 * 64));
}

TEST(Quantization, Q8_0MatchesAnIndependentReference) {
    Rng rng(42);
    std::vector<float> x(32 * 64);
    for (float& v : x) v = static_cast<float>(rng.normal() * 0.05);
    x[7] = 0.0f;
    for (int k = 0; k < 32; ++k) x[32 + k] = 0.0f;  // an all-zero block
    // A block where max|x| = 127 (scale 1): halves round away from zero.
    for (int k = 0; k < 32; ++k) x[64 + k] = static_cast<float>(k) - 16.0f;
    x[64] = 127.0f;
    x[65] = 2.5f;
    x[66] = -2.5f;
    x[67] = 0.5f;
    x[68] = -0.5f;
    std::vector<BlockQ8_0> q(64);
    quantize_q8_0(x.data(), static_cast<int64_t>(x.size()), q.data());
    for (int b = 0; b < 64; ++b) {
        double amax = 0;
        for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(double{x[b * 32 + k]}));
        const double d = amax / 127;
        EXPECT_EQ(q[b].scale, f32_to_f16(static_cast<float>(d))) << b;
        for (int k = 0; k < 32; ++k) {
            const double r = d == 0 ? 0 : x[b * 32 + k] / d;
            const double want = r < 0 ? -std::floor(-r + 0.5) : std::floor(r + 0.5);
            // Within 1e-4 of a .5 boundary f32 and f64 may round apart; elsewhere exact.
            if (std::fabs(std::fabs(r - std::trunc(r)) - 0.5) > 1e-4) {
                EXPECT_EQ(q[b].q[k], want) << b << "," << k;
            } else {
                EXPECT_LE(std::fabs(q[b].q[k] - want), 1.0);
            }
        }
    }
    EXPECT_EQ(q[2].q[0], 127);
    EXPECT_EQ(q[2].q[1], 3);
    EXPECT_EQ(q[2].q[2], -3);
    EXPECT_EQ(q[2].q[3], 1);
    EXPECT_EQ(q[2].q[4], -1);
    EXPECT_EQ(q[1].scale, 0);
}

TEST(NonFinite, ScanFindsTheFirstNanOrInfInEveryDtype) {
    const int64_t n = 10000;
    auto view = [&](DType t, const void* data) {
        TensorView v;
        v.dtype = t;
        v.shape = {n};
        v.data = data;
        return v;
    };
    std::vector<float> f(n, 1.5f);
    f[n - 1] = 3.4e38f;  // largest finite values are not flagged
    EXPECT_EQ(find_non_finite(view(DType::F32, f.data())), -1);
    f[4097] = std::nanf("");
    f[9000] = INFINITY;
    EXPECT_EQ(find_non_finite(view(DType::F32, f.data())), 4097);
    f[4097] = 1.0f;
    EXPECT_EQ(find_non_finite(view(DType::F32, f.data())), 9000);

    for (DType t : {DType::F16, DType::BF16}) {
        std::vector<uint16_t> h(n, t == DType::F16 ? f32_to_f16(0.25f) : f32_to_bf16(0.25f));
        h[0] = t == DType::F16 ? 0x7bff : 0x7f7f;  // largest finite
        h[1] = t == DType::F16 ? 0xfbff : 0xff7f;
        EXPECT_EQ(find_non_finite(view(t, h.data())), -1) << dtype_name(t);
        h[777] = t == DType::F16 ? 0xfc00 : 0xff80;  // -Inf
        EXPECT_EQ(find_non_finite(view(t, h.data())), 777) << dtype_name(t);
        h[5] = t == DType::F16 ? 0x7e00 : 0x7fc0;  // NaN
        EXPECT_EQ(find_non_finite(view(t, h.data())), 5) << dtype_name(t);
    }
    // Unaligned data (safetensors does not align) reads the same.
    std::vector<uint8_t> bytes(2 * n + 1);
    std::vector<uint16_t> h(n, f32_to_bf16(1.0f));
    h[321] = 0x7f80;
    std::memcpy(bytes.data() + 1, h.data(), 2 * n);
    EXPECT_EQ(find_non_finite(view(DType::BF16, bytes.data() + 1)), 321);

    std::vector<BlockQ8_0> q(n / 32);
    for (BlockQ8_0& b : q) b.scale = f32_to_f16(0.01f);
    EXPECT_EQ(find_non_finite(view(DType::Q8_0, q.data())), -1);
    q[10].scale = 0x7c00;
    EXPECT_EQ(find_non_finite(view(DType::Q8_0, q.data())), 320);
}

TEST(LoadOptions, TheNonFiniteScanCanBeTurnedOff) {
    TempDir tmp;
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::F32, tmp.path("tok"));
    GgufFile g(tmp.path("m.gguf"));
    uint64_t offset = 0;
    for (const GgufTensorInfo& t : g.tensors()) {
        if (t.name == "blk.1.ffn_up.weight") offset = t.offset;
    }
    std::string bytes = read_bytes(tmp.path("m.gguf"));
    const float nan = std::nanf("");
    std::memcpy(&bytes[offset + 4 * 3], &nan, 4);
    write_bytes(tmp.path("m.gguf"), bytes);
    EXPECT_VASE_ERROR(load_checkpoint(tmp.path("m.gguf")), "model.layers.1.mlp.up_proj.weight",
                      "NaN/Inf at element 3");
    LoadOptions options;
    options.check_finite = false;
    EXPECT_NO_THROW(load_checkpoint(tmp.path("m.gguf"), options));
}

}  // namespace
}  // namespace vase::test
