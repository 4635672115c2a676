#include "util/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>

#include "util/error.h"

namespace vase {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy refuses headers longer than this for safety; so do we.
constexpr size_t kMaxHeader = 1 << 20;
constexpr int64_t kMaxDims = 32;

size_t element_bytes(NpyType type) {
    switch (type) {
        case NpyType::kF32:
            return 4;
        case NpyType::kF64:
            return 8;
        case NpyType::kI32:
            return 4;
        case NpyType::kI64:
            return 8;
    }
    return 0;
}

const char* descr(NpyType type) {
    switch (type) {
        case NpyType::kF32:
            return "<f4";
        case NpyType::kF64:
            return "<f8";
        case NpyType::kI32:
            return "<i4";
        case NpyType::kI64:
            return "<i8";
    }
    return "";
}

// A strict parser for the header dict numpy writes:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
  public:
    HeaderParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

    void parse(std::string& descr_out, bool& fortran_out, std::vector<int64_t>& shape_out) {
        bool have_descr = false, have_fortran = false, have_shape = false;
        skip_space();
        expect('{');
        while (true) {
            skip_space();
            if (peek() == '}') {
                ++pos_;
                break;
            }
            const std::string key = parse_string();
            skip_space();
            expect(':');
            skip_space();
            if (key == "descr") {
                descr_out = parse_string();
                have_descr = true;
            } else if (key == "fortran_order") {
                fortran_out = parse_bool();
                have_fortran = true;
            } else if (key == "shape") {
                shape_out = parse_shape();
                have_shape = true;
            } else {
                fail("{}: .npy header has an unexpected key '{}'", path_, key);
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            skip_space();
            expect('}');
            break;
        }
        skip_space();
        if (pos_ != s_.size())
            fail("{}: .npy header has trailing characters after the dict", path_);
        if (!have_descr || !have_fortran || !have_shape) {
            fail("{}: .npy header lacks {}", path_,
                 !have_descr     ? "'descr'"
                 : !have_fortran ? "'fortran_order'"
                                 : "'shape'");
        }
    }

  private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t'))
            ++pos_;
    }
    void expect(char c) {
        if (peek() != c) {
            fail("{}: malformed .npy header: expected '{}' at offset {}", path_, c, pos_);
        }
        ++pos_;
    }
    std::string parse_string() {
        const char quote = peek();
        if (quote != '\'' && quote != '"') {
            fail("{}: malformed .npy header: expected a quoted string at offset {}", path_, pos_);
        }
        ++pos_;
        const size_t end = s_.find(quote, pos_);
        if (end == std::string::npos) fail("{}: malformed .npy header: unterminated string", path_);
        std::string out = s_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return out;
    }
    bool parse_bool() {
        if (s_.compare(pos_, 4, "True") == 0) {
            pos_ += 4;
            return true;
        }
        if (s_.compare(pos_, 5, "False") == 0) {
            pos_ += 5;
            return false;
        }
        fail("{}: malformed .npy header: fortran_order must be True or False", path_);
    }
    std::vector<int64_t> parse_shape() {
        std::vector<int64_t> shape;
        expect('(');
        while (true) {
            skip_space();
            if (peek() == ')') {
                ++pos_;
                break;
            }
            if (peek() < '0' || peek() > '9') {
                fail("{}: malformed .npy header: shape entries must be non-negative integers",
                     path_);
            }
            int64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                const int digit = peek() - '0';
                if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) {
                    fail("{}: .npy shape entry is too large", path_);
                }
                v = v * 10 + digit;
                ++pos_;
            }
            if (peek() == 'L') ++pos_;  // Python 2 longs
            shape.push_back(v);
            if (static_cast<int64_t>(shape.size()) > kMaxDims) {
                fail("{}: .npy shape has more than {} dimensions", path_, kMaxDims);
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            skip_space();
            expect(')');
            break;
        }
        return shape;
    }

    const std::string& path_;
    const std::string& s_;
    size_t pos_ = 0;
};

}  // namespace

const char* npy_type_name(NpyType type) {
    switch (type) {
        case NpyType::kF32:
            return "float32";
        case NpyType::kF64:
            return "float64";
        case NpyType::kI32:
            return "int32";
        case NpyType::kI64:
            return "int64";
    }
    return "?";
}

int64_t NpyArray::size() const {
    // An empty array may have other dimensions whose product overflows
    // (read_npy checks the product only up to the zero).
    for (int64_t d : shape) {
        if (d == 0) return 0;
    }
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::vector<float> NpyArray::to_f32() const {
    std::vector<float> out(static_cast<size_t>(size()));
    const uint8_t* p = data.data();
    for (size_t i = 0; i < out.size(); ++i) {
        switch (type) {
            case NpyType::kF32: {
                float v;
                std::memcpy(&v, p + 4 * i, 4);
                out[i] = v;
                break;
            }
            case NpyType::kF64: {
                double v;
                std::memcpy(&v, p + 8 * i, 8);
                out[i] = static_cast<float>(v);
                break;
            }
            case NpyType::kI32: {
                int32_t v;
                std::memcpy(&v, p + 4 * i, 4);
                out[i] = static_cast<float>(v);
                break;
            }
            case NpyType::kI64: {
                int64_t v;
                std::memcpy(&v, p + 8 * i, 8);
                out[i] = static_cast<float>(v);
                break;
            }
        }
    }
    return out;
}

std::vector<double> NpyArray::to_f64() const {
    std::vector<double> out(static_cast<size_t>(size()));
    const uint8_t* p = data.data();
    for (size_t i = 0; i < out.size(); ++i) {
        switch (type) {
            case NpyType::kF32: {
                float v;
                std::memcpy(&v, p + 4 * i, 4);
                out[i] = v;
                break;
            }
            case NpyType::kF64: {
                double v;
                std::memcpy(&v, p + 8 * i, 8);
                out[i] = v;
                break;
            }
            case NpyType::kI32: {
                int32_t v;
                std::memcpy(&v, p + 4 * i, 4);
                out[i] = v;
                break;
            }
            case NpyType::kI64: {
                int64_t v;
                std::memcpy(&v, p + 8 * i, 8);
                out[i] = static_cast<double>(v);
                break;
            }
        }
    }
    return out;
}

std::vector<int64_t> NpyArray::to_i64() const {
    if (type != NpyType::kI32 && type != NpyType::kI64) {
        fail("expected an integer array, got {}", npy_type_name(type));
    }
    std::vector<int64_t> out(static_cast<size_t>(size()));
    const uint8_t* p = data.data();
    for (size_t i = 0; i < out.size(); ++i) {
        if (type == NpyType::kI32) {
            int32_t v;
            std::memcpy(&v, p + 4 * i, 4);
            out[i] = v;
        } else {
            std::memcpy(&out[i], p + 8 * i, 8);
        }
    }
    return out;
}

NpyArray read_npy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open .npy file", path);
    in.seekg(0, std::ios::end);
    const std::streamoff file_size = in.tellg();
    in.seekg(0, std::ios::beg);
    if (file_size < 0) fail("{}: cannot read .npy file", path);

    uint8_t preamble[12];
    const size_t size = static_cast<size_t>(file_size);
    if (size < 10) fail("{}: not a .npy file (only {} bytes)", path, size);
    in.read(reinterpret_cast<char*>(preamble), 10);
    if (!in || std::memcmp(preamble, kMagic, kMagicLen) != 0) {
        fail("{}: not a .npy file (bad magic string)", path);
    }
    const int major = preamble[6];
    size_t header_len = 0;
    size_t header_start = 0;
    if (major == 1) {
        header_len = preamble[8] | (static_cast<size_t>(preamble[9]) << 8);
        header_start = 10;
    } else if (major == 2) {
        if (size < 12) fail("{}: truncated .npy preamble", path);
        in.read(reinterpret_cast<char*>(preamble + 10), 2);
        header_len = preamble[8] | (static_cast<size_t>(preamble[9]) << 8) |
                     (static_cast<size_t>(preamble[10]) << 16) |
                     (static_cast<size_t>(preamble[11]) << 24);
        header_start = 12;
    } else {
        fail("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0)", path, major,
             preamble[7]);
    }
    if (header_len > kMaxHeader) fail("{}: .npy header of {} bytes is too long", path, header_len);
    if (header_start + header_len > size) {
        fail("{}: truncated .npy file: header of {} bytes but only {} bytes in the file", path,
             header_len, size - header_start);
    }
    std::string header(header_len, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_len));
    if (!in) fail("{}: cannot read the .npy header", path);

    std::string type_descr;
    bool fortran = false;
    NpyArray array;
    HeaderParser(path, header).parse(type_descr, fortran, array.shape);
    if (type_descr == "<f4") {
        array.type = NpyType::kF32;
    } else if (type_descr == "<f8") {
        array.type = NpyType::kF64;
    } else if (type_descr == "<i4") {
        array.type = NpyType::kI32;
    } else if (type_descr == "<i8") {
        array.type = NpyType::kI64;
    } else {
        fail(
            "{}: unsupported .npy dtype '{}' (supported: <f4, <f8, <i4, <i8: little-endian "
            "float32, float64, int32, int64)",
            path, type_descr);
    }
    if (fortran)
        fail("{}: Fortran-order .npy arrays are not supported; save a C-order array", path);

    size_t count = 1;
    for (int64_t d : array.shape) count = checked_mul(count, static_cast<size_t>(d), path.c_str());
    const size_t bytes = checked_mul(count, element_bytes(array.type), path.c_str());
    const size_t data_bytes = size - header_start - header_len;
    if (data_bytes != bytes) {
        std::string shape = "(";
        for (size_t i = 0; i < array.shape.size(); ++i) {
            shape += (i ? ", " : "") + std::to_string(array.shape[i]);
        }
        shape += ")";
        fail("{}: .npy data has {} bytes, but shape {} of {} needs {} bytes", path, data_bytes,
             shape, npy_type_name(array.type), bytes);
    }
    array.data.resize(bytes);
    in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(bytes));
    if (!in) fail("{}: cannot read the .npy data", path);
    return array;
}

void write_npy(const std::string& path, NpyType type, const std::vector<int64_t>& shape,
               const void* data) {
    std::string dict =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (", descr(type));
    size_t count = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0) fail("{}: cannot write a negative dimension {}", path, shape[i]);
        dict += fmt::format("{}{}", i ? ", " : "", shape[i]);
        count = checked_mul(count, static_cast<size_t>(shape[i]), path.c_str());
    }
    dict += shape.size() == 1 ? ",), }" : "), }";
    // Pad with spaces so that the data starts on a multiple of 64 bytes.
    size_t prefix = 10;
    size_t total = prefix + dict.size() + 1;
    if ((total + 63) / 64 * 64 - prefix > 65535) prefix = 12;
    total = prefix + dict.size() + 1;
    const size_t padded = (total + 63) / 64 * 64;
    dict.append(padded - total, ' ');
    dict += '\n';
    const size_t header_len = dict.size();

    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", path);
    out.write(kMagic, kMagicLen);
    const uint8_t version[2] = {static_cast<uint8_t>(prefix == 10 ? 1 : 2), 0};
    out.write(reinterpret_cast<const char*>(version), 2);
    if (prefix == 10) {
        const uint8_t len[2] = {static_cast<uint8_t>(header_len & 0xff),
                                static_cast<uint8_t>(header_len >> 8)};
        out.write(reinterpret_cast<const char*>(len), 2);
    } else {
        const uint8_t len[4] = {static_cast<uint8_t>(header_len & 0xff),
                                static_cast<uint8_t>((header_len >> 8) & 0xff),
                                static_cast<uint8_t>((header_len >> 16) & 0xff),
                                static_cast<uint8_t>(header_len >> 24)};
        out.write(reinterpret_cast<const char*>(len), 4);
    }
    out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
    const size_t bytes = checked_mul(count, element_bytes(type), path.c_str());
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    out.close();
    if (!out) fail("{}: write failed", path);
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    write_npy(path, NpyType::kF32, shape, data);
}
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape) {
    write_npy(path, NpyType::kF64, shape, data);
}
void write_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
    write_npy(path, NpyType::kI64, shape, data);
}
void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
    write_npy(path, NpyType::kI32, shape, data);
}

}  // namespace vase
