// .npy reading and writing: round trips of every supported type, files as
// numpy writes them (versions 1 and 2), and malformed files that must fail
// with a message naming the file, never crash.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/npy.h"

namespace vase {
namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("vase_npy_test_" + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file as numpy writes it: magic, version, header length, dict padded to 64.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
    std::string header = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    const size_t len = header.size();
    out += static_cast<char>(len & 0xff);
    out += static_cast<char>((len >> 8) & 0xff);
    if (major != 1) {
        out += static_cast<char>((len >> 16) & 0xff);
        out += static_cast<char>((len >> 24) & 0xff);
    }
    return out + header + data;
}

std::string raw(const void* p, size_t n) {
    return std::string(static_cast<const char*>(p), n);
}

std::string read_error(const std::string& path) {
    try {
        read_npy(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Npy, RoundTripsEveryType) {
    const std::string path = temp_path("round.npy");
    const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
    write_npy(path, f.data(), {2, 3});
    NpyArray a = read_npy(path);
    EXPECT_EQ(a.type, NpyType::kF32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.to_f32(), f);
    EXPECT_EQ(a.to_f64()[2], 3.25);

    const std::vector<double> d = {0.1, 0.2, -1e300};
    write_npy(path, d.data(), {3});
    a = read_npy(path);
    EXPECT_EQ(a.type, NpyType::kF64);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(a.to_f64(), d);

    const std::vector<int64_t> i64 = {1, -2, 1LL << 40, 4};
    write_npy(path, i64.data(), {2, 1, 2});
    a = read_npy(path);
    EXPECT_EQ(a.type, NpyType::kI64);
    EXPECT_EQ(a.to_i64(), i64);

    const std::vector<int32_t> i32 = {7, -8};
    write_npy(path, i32.data(), {2});
    a = read_npy(path);
    EXPECT_EQ(a.type, NpyType::kI32);
    EXPECT_EQ(a.to_i64(), (std::vector<int64_t>{7, -8}));
    EXPECT_THROW(NpyArray{}.to_i64(), Error);  // float arrays are not integers

    write_npy(path, f.data(), {0, 5});  // empty
    a = read_npy(path);
    EXPECT_EQ(a.size(), 0);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{0, 5}));
    write_npy(path, f.data(), {});  // 0-d scalar
    a = read_npy(path);
    EXPECT_EQ(a.size(), 1);
    EXPECT_EQ(a.to_f32()[0], 1.5f);
    std::remove(path.c_str());
}

TEST(Npy, WrittenHeaderIsWhatNumpyExpects) {
    const std::string path = temp_path("header.npy");
    const float x[3] = {1, 2, 3};
    write_npy(path, x, {3});
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    EXPECT_EQ((10 + len) % 64, 0u);
    const std::string header = bytes.substr(10, len);
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 0), 0u)
        << header;
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(bytes.size(), 10 + len + 12);
    std::remove(path.c_str());
}

TEST(Npy, ReadsVersionTwoAndSpacingVariants) {
    const std::string path = temp_path("v2.npy");
    const double v[2] = {4.0, 5.0};
    write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                raw(v, sizeof v), 2));
    NpyArray a = read_npy(path);
    EXPECT_EQ(a.to_f64(), (std::vector<double>{4.0, 5.0}));
    // Keys in another order, double quotes, no trailing comma.
    write_bytes(path, npy_bytes("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f8\"}",
                                raw(v, sizeof v)));
    a = read_npy(path);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2}));
    std::remove(path.c_str());
}

TEST(Npy, MalformedFilesFailWithTheFileName) {
    const std::string path = temp_path("bad.npy");
    const float v[4] = {1, 2, 3, 4};
    const std::string data = raw(v, sizeof v);
    const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
    struct Case {
        const char* what;
        std::string bytes;
        const char* needle;
    };
    std::string long_len = npy_bytes(good, data);
    long_len[8] = '\xff';
    long_len[9] = '\x7f';
    const std::vector<Case> cases = {
        {"missing file", "", "cannot open"},
        {"empty", std::string(), "not a .npy file"},
        {"bad magic", "\x93NUMPX\x01\x00\x10\x00" + std::string(16, ' '), "bad magic"},
        {"version 3", npy_bytes(good, data, 3), "unsupported .npy format version 3"},
        {"header past the end", long_len, "truncated"},
        {"big endian", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data),
         "unsupported .npy dtype '>f4'"},
        {"float16", npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", data),
         "unsupported .npy dtype"},
        {"fortran", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data),
         "Fortran"},
        {"short data", npy_bytes(good, data.substr(0, 12)), "needs 16 bytes"},
        {"long data", npy_bytes(good, data + "xx"), "needs 16 bytes"},
        {"negative dim",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", data),
         "non-negative"},
        {"overflowing shape",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }",
                   data),
         "overflows"},
        {"huge dim",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                   data),
         "too large"},
        {"missing key", npy_bytes("{'descr': '<f4', 'shape': (4,), }", data), "'fortran_order'"},
        {"extra key",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", data),
         "unexpected key"},
        {"unterminated", npy_bytes("{'descr': '<f4", data), "unterminated"},
        {"not a dict", npy_bytes("[1, 2]", data), "malformed"},
        {"bad bool", npy_bytes("{'descr': '<f4', 'fortran_order': Nope, 'shape': (4,), }", data),
         "True or False"},
        {"trailing", npy_bytes(good + " junk", data), "trailing"},
        {"tiny", "\x93NUMPY\x01", "not a .npy file"},
    };
    for (const Case& c : cases) {
        std::string file = path;
        if (std::string(c.what) == "missing file") {
            file = temp_path("does_not_exist.npy");
            std::remove(file.c_str());
        } else {
            write_bytes(file, c.bytes);
        }
        const std::string m = read_error(file);
        EXPECT_NE(m.find(file), std::string::npos) << c.what << ": " << m;
        EXPECT_NE(m.find(c.needle), std::string::npos) << c.what << ": " << m;
    }
    std::remove(path.c_str());
}

}  // namespace
}  // namespace vase
