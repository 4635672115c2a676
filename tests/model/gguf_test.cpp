// The GGUF reader and writer on their own: metadata of every type, the data
// layout llama.cpp requires, alignment, version 2.
#include <cstring>

#include "checkpoint_test_util.h"
#include "model/gguf.h"

namespace vase::test {
namespace {

uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

TEST(Gguf, MetadataOfEveryTypeRoundTrips) {
    TempDir tmp;
    const std::string path = tmp.path("meta.gguf");
    {
        GgufWriter w(path);
        w.add_string("a.string", "héllo");
        w.add_u32("a.u32", 4000000000u);
        w.add_i32("a.i32", -5);
        w.add_f32("a.f32", 0.25f);
        w.add_bool("a.bool", true);
        w.add_string_array("a.strings", {"x", "", "yz"});
        w.add_i32_array("a.ints", {1, -2, 3});
        w.add_tensor("t", DType::F32, {2, 3});
        w.write_header();
        std::vector<float> v = {1, 2, 3, 4, 5, 6};
        w.write(v.data(), 24);
        w.finish();
    }
    // Copy through add_value, with a wider type mix.
    {
        GgufFile src(path);
        GgufWriter w(tmp.path("copy.gguf"));
        for (const auto& [k, v] : src.metadata()) w.add_value(k, v);
        GgufValue u64;
        u64.type = GgufType::U64;
        u64.u = uint64_t{1} << 40;
        w.add_value("b.u64", u64);
        GgufValue f64;
        f64.type = GgufType::F64;
        f64.f = 1e-300;
        w.add_value("b.f64", f64);
        GgufValue i8;
        i8.type = GgufType::I8;
        i8.i = -100;
        w.add_value("b.i8", i8);
        w.finish();
    }
    GgufFile g(tmp.path("copy.gguf"));
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.get_string("a.string"), "héllo");
    EXPECT_EQ(g.get_uint("a.u32"), 4000000000u);
    EXPECT_EQ(g.get_int("a.i32"), -5);
    EXPECT_EQ(g.get_float("a.f32"), 0.25);
    EXPECT_TRUE(g.get_bool("a.bool"));
    const GgufValue& strings = g.get_array("a.strings", GgufType::String);
    ASSERT_EQ(strings.count, 3u);
    EXPECT_EQ(strings.strings[2], "yz");
    EXPECT_EQ(strings.strings[1], "");
    const GgufValue& ints = g.get_array("a.ints", GgufType::I32);
    ASSERT_EQ(ints.count, 3u);
    int32_t second;
    std::memcpy(&second, ints.elements + 4, 4);
    EXPECT_EQ(second, -2);
    EXPECT_EQ(g.get_uint("b.u64"), uint64_t{1} << 40);
    EXPECT_EQ(g.get_float("b.f64"), 1e-300);
    EXPECT_EQ(g.get_int("b.i8"), -100);
    EXPECT_TRUE(g.tensors().empty());
    // Typed getters name the file and key when the type is wrong.
    EXPECT_VASE_ERROR(g.get_uint("a.string"), "copy.gguf", "a.string", "non-negative integer");
    EXPECT_VASE_ERROR(g.get_uint("a.i32"), "a.i32", "-5");
    EXPECT_VASE_ERROR(g.get_string("a.u32"), "a.u32", "must be a string");
    EXPECT_VASE_ERROR(g.get_array("a.ints", GgufType::String), "a.ints", "array of int32");
    EXPECT_VASE_ERROR(g.get_bool("nope"), "missing GGUF metadata key nope");
}

TEST(Gguf, TensorDataIsLaidOutAsLlamaCppExpects) {
    // ggml's reader requires each tensor's offset to be the padded sum of the
    // sizes before it, and the data section to start aligned.
    for (uint32_t alignment : {32u, 64u}) {
        TempDir tmp;
        const std::string path = tmp.path("x.gguf");
        GgufWriter w(path, alignment);
        w.add_string("general.architecture", "test");
        w.add_tensor("a", DType::F32, {3});  // 12 bytes
        w.add_tensor("b", DType::BF16, {5, 7});
        w.add_tensor("c", DType::Q8_0, {2, 64});
        w.add_tensor("d", DType::F16, {1});
        w.write_header();
        std::vector<uint8_t> zeros(1000, 0);
        w.write(zeros.data(), 12);
        w.write(zeros.data(), 70);
        std::vector<BlockQ8_0> q(4);
        for (auto& b : q) b.scale = f32_to_f16(1.0f);
        w.write(q.data(), sizeof(BlockQ8_0) * 4);
        w.write(zeros.data(), 2);
        w.finish();

        GgufFile g(path);
        EXPECT_EQ(g.alignment(), alignment);
        ASSERT_EQ(g.tensors().size(), 4u);
        const uint64_t data_start = g.tensors()[0].offset;
        EXPECT_EQ(data_start % alignment, 0u);
        uint64_t expect = 0;
        const uint64_t sizes[] = {12, 70, 4 * 34, 2};
        for (size_t i = 0; i < 4; ++i) {
            EXPECT_EQ(g.tensors()[i].offset - data_start, expect) << i;
            EXPECT_EQ(g.tensors()[i].nbytes, sizes[i]);
            expect = align_up(expect + sizes[i], alignment);
        }
        EXPECT_EQ(fs::file_size(path), data_start + expect);          // the last tensor padded too
        EXPECT_EQ(g.tensors()[2].ne, (std::vector<int64_t>{64, 2}));  // reversed
        EXPECT_EQ(g.tensors()[2].ggml_type, kGgmlTypeQ8_0);
        EXPECT_EQ(g.tensors()[1].ggml_type, kGgmlTypeBF16);
        EXPECT_EQ(g.has("general.alignment"), alignment != 32);
    }
}

TEST(Gguf, HeaderBytesFollowTheSpec) {
    TempDir tmp;
    const std::string path = tmp.path("h.gguf");
    GgufWriter w(path);
    w.add_u32("k", 7);
    w.add_tensor("w", DType::F32, {2, 4});
    w.write_header();
    std::vector<float> v(8, 0.5f);
    w.write(v.data(), 32);
    w.finish();
    const std::string b = read_bytes(path);
    auto u32 = [&](size_t at) {
        uint32_t x;
        std::memcpy(&x, b.data() + at, 4);
        return x;
    };
    auto u64 = [&](size_t at) {
        uint64_t x;
        std::memcpy(&x, b.data() + at, 8);
        return x;
    };
    EXPECT_EQ(b.substr(0, 4), "GGUF");
    EXPECT_EQ(u32(4), 3u);   // version
    EXPECT_EQ(u64(8), 1u);   // tensor count
    EXPECT_EQ(u64(16), 1u);  // kv count
    EXPECT_EQ(u64(24), 1u);  // key length
    EXPECT_EQ(b[32], 'k');
    EXPECT_EQ(u32(33), 4u);  // uint32
    EXPECT_EQ(u32(37), 7u);
    EXPECT_EQ(u64(41), 1u);  // tensor name length
    EXPECT_EQ(b[49], 'w');
    EXPECT_EQ(u32(50), 2u);  // n_dims
    EXPECT_EQ(u64(54), 4u);  // ne[0]: the fastest axis (columns)
    EXPECT_EQ(u64(62), 2u);
    EXPECT_EQ(u32(70), 0u);          // F32
    EXPECT_EQ(u64(74), 0u);          // offset
    EXPECT_EQ(b.size(), 96u + 32u);  // header padded to 96, data 32
}

TEST(Gguf, Version2FilesAreRead) {
    TempDir tmp;
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::F16, tmp.path("tok"));
    std::string bytes = read_bytes(tmp.path("m.gguf"));
    bytes[4] = 2;  // v2 differs from v3 only in allowing big-endian files
    write_bytes(tmp.path("v2.gguf"), bytes);
    Checkpoint ck = load_checkpoint(tmp.path("v2.gguf"));
    EXPECT_EQ(ck.tensors.size(), expected_tensors(ck.config).size());
}

TEST(Gguf, SamplingMetadataOverridesQwenDefaultsAndExtraTensorsAreIgnored) {
    TempDir tmp;
    make_checkpoint(tmp.path("m.gguf"), CheckpointFormat::Gguf, DType::F32, tmp.path("tok"));
    // Sampling keys replaced, the chat template dropped, a tensor Qwen3 does not use added.
    {
        GgufFile src(tmp.path("m.gguf"));
        GgufWriter w(tmp.path("y.gguf"));
        for (const auto& [k, v] : src.metadata()) {
            if (k != "general.sampling.temp" && k != "general.sampling.top_k" &&
                k != "general.sampling.min_p" &&
                k != "tokenizer.chat_template") {
                w.add_value(k, v);
            }
        }
        w.add_f32("general.sampling.temp", 0.7f);
        w.add_i32("general.sampling.top_k", 40);
        w.add_f32("general.sampling.min_p", 0.05f);
        for (const GgufTensorInfo& t : src.tensors()) {
            w.add_tensor(t.name, DType::F32, std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()));
        }
        w.add_tensor("rope_freqs.weight", DType::F32, {8});
        w.write_header();
        for (const GgufTensorInfo& t : src.tensors()) w.write(src.file_data() + t.offset, t.nbytes);
        std::vector<float> freqs(8, 1.0f);
        w.write(freqs.data(), 32);
        w.finish();
    }
    Checkpoint ck = load_checkpoint(tmp.path("y.gguf"));
    EXPECT_FLOAT_EQ(ck.generation.temperature, 0.7f);
    EXPECT_EQ(ck.generation.top_k, 40);
    EXPECT_FLOAT_EQ(ck.generation.top_p, 0.95f);
    EXPECT_FLOAT_EQ(ck.generation.min_p, 0.05f);
    EXPECT_TRUE(ck.chat_template.empty());
    EXPECT_FALSE(ck.has_tensor("rope_freqs.weight"));
}

}  // namespace
}  // namespace vase::test
