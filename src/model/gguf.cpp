#include "model/gguf.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace vase {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr int64_t kMaxDim = int64_t{1} << 40;
constexpr uint32_t kMaxDims = 4;

int scalar_size(GgufType type) {
    switch (type) {
        case GgufType::U8:
        case GgufType::I8:
        case GgufType::Bool:
            return 1;
        case GgufType::U16:
        case GgufType::I16:
            return 2;
        case GgufType::U32:
        case GgufType::I32:
        case GgufType::F32:
            return 4;
        case GgufType::U64:
        case GgufType::I64:
        case GgufType::F64:
            return 8;
        case GgufType::String:
        case GgufType::Array:
            return 0;
    }
    return 0;
}

bool valid_type(uint32_t t) {
    return t <= static_cast<uint32_t>(GgufType::F64);
}

// Bounds-checked reading of the header, metadata and tensor infos.
class Cursor {
  public:
    Cursor(const uint8_t* data, uint64_t size, const std::string& path)
        : data_(data), size_(size), path_(path) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > size_ - pos_) {
            fail("{}: truncated GGUF file: {} at offset {} needs {} bytes but only {} remain",
                 path_, what, pos_, n, size_ - pos_);
        }
    }
    template <typename T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    const uint8_t* skip(uint64_t n, const std::string& what) {
        need(n, what);
        const uint8_t* p = data_ + pos_;
        pos_ += n;
        return p;
    }
    std::string_view read_string(const std::string& what) {
        uint64_t len = read<uint64_t>(what + " (string length)");
        const uint8_t* p = skip(len, what);
        return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
    }

  private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string& path_;
};

GgufValue read_value(Cursor& c, GgufType type, const std::string& what, const std::string& path) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufType::U8:
            v.u = c.read<uint8_t>(what);
            break;
        case GgufType::U16:
            v.u = c.read<uint16_t>(what);
            break;
        case GgufType::U32:
            v.u = c.read<uint32_t>(what);
            break;
        case GgufType::U64:
            v.u = c.read<uint64_t>(what);
            break;
        case GgufType::I8:
            v.i = c.read<int8_t>(what);
            break;
        case GgufType::I16:
            v.i = c.read<int16_t>(what);
            break;
        case GgufType::I32:
            v.i = c.read<int32_t>(what);
            break;
        case GgufType::I64:
            v.i = c.read<int64_t>(what);
            break;
        case GgufType::F32:
            v.f = c.read<float>(what);
            break;
        case GgufType::F64:
            v.f = c.read<double>(what);
            break;
        case GgufType::Bool: {
            uint8_t b = c.read<uint8_t>(what);
            if (b > 1) fail("{}: {}: bool value {} is neither 0 nor 1", path, what, b);
            v.u = b;
            break;
        }
        case GgufType::String:
            v.str = c.read_string(what);
            break;
        case GgufType::Array: {
            uint32_t et = c.read<uint32_t>(what + " (array element type)");
            if (!valid_type(et)) fail("{}: {}: unknown array element type {}", path, what, et);
            v.element_type = static_cast<GgufType>(et);
            if (v.element_type == GgufType::Array) {
                fail("{}: {}: arrays of arrays are not supported", path, what);
            }
            v.count = c.read<uint64_t>(what + " (array length)");
            if (v.element_type == GgufType::String) {
                // Every string takes at least its 8-byte length: bounds the reservation.
                if (v.count > c.remaining() / 8) {
                    fail(
                        "{}: {}: array of {} strings cannot fit in the {} bytes left in the "
                        "file (corrupt or truncated?)",
                        path, what, v.count, c.remaining());
                }
                v.strings.reserve(v.count);
                for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(c.read_string(what));
            } else {
                size_t bytes =
                    checked_mul(v.count, scalar_size(v.element_type), (path + ": " + what).c_str());
                if (bytes > c.remaining()) {
                    fail(
                        "{}: truncated GGUF file: {}: array of {} {} needs {} bytes but only {} "
                        "remain",
                        path, what, v.count, gguf_type_name(v.element_type), bytes, c.remaining());
                }
                v.elements = c.skip(bytes, what);
                if (v.element_type == GgufType::Bool) {
                    for (uint64_t k = 0; k < v.count; ++k) {
                        if (v.elements[k] > 1) {
                            fail("{}: {}: bool element {} is neither 0 nor 1", path, what, k);
                        }
                    }
                }
            }
            break;
        }
    }
    return v;
}

bool is_unsigned(GgufType t) {
    return t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
}
bool is_signed(GgufType t) {
    return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

uint64_t align_up(uint64_t x, uint64_t alignment) {
    uint64_t r = x % alignment;
    return r == 0 ? x : checked_add(x, alignment - r, "GGUF offset");
}

}  // namespace

const char* gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::U8:
            return "uint8";
        case GgufType::I8:
            return "int8";
        case GgufType::U16:
            return "uint16";
        case GgufType::I16:
            return "int16";
        case GgufType::U32:
            return "uint32";
        case GgufType::I32:
            return "int32";
        case GgufType::F32:
            return "float32";
        case GgufType::Bool:
            return "bool";
        case GgufType::String:
            return "string";
        case GgufType::Array:
            return "array";
        case GgufType::U64:
            return "uint64";
        case GgufType::I64:
            return "int64";
        case GgufType::F64:
            return "float64";
    }
    return "?";
}

std::string ggml_type_name(uint32_t type) {
    static const char* const kNames[] = {
        "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
        "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
        "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
        "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16",
    };
    if (type < std::size(kNames)) return kNames[type];
    return fmt::format("type {}", type);
}

uint32_t ggml_type_of(DType type) {
    switch (type) {
        case DType::F32:
            return kGgmlTypeF32;
        case DType::F16:
            return kGgmlTypeF16;
        case DType::BF16:
            return kGgmlTypeBF16;
        case DType::Q8_0:
            return kGgmlTypeQ8_0;
    }
    return kGgmlTypeF32;
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
    file_ = std::make_unique<MappedFile>(path);
    data_ = file_->data();
    const uint64_t size = file_->size();
    Cursor c(data_, size, path);

    uint32_t magic = c.read<uint32_t>("magic");
    if (magic != kMagic) {
        fail("{}: not a GGUF file (bad magic: the file does not start with \"GGUF\")", path);
    }
    version_ = c.read<uint32_t>("version");
    if (version_ == 1) fail("{}: GGUF version 1 is not supported (versions 2 and 3 are)", path);
    if (version_ != 2 && version_ != 3) {
        fail("{}: unsupported GGUF version {} (a big-endian file, or newer than 3?)", path,
             version_);
    }
    uint64_t tensor_count = c.read<uint64_t>("tensor count");
    uint64_t kv_count = c.read<uint64_t>("metadata count");
    // A key/value pair takes at least 13 bytes, a tensor info at least 24.
    if (kv_count > c.remaining() / 13) {
        fail("{}: metadata count {} is impossible for a file of {} bytes (corrupt or truncated?)",
             path, kv_count, size);
    }
    if (tensor_count > c.remaining() / 24) {
        fail("{}: tensor count {} is impossible for a file of {} bytes (corrupt or truncated?)",
             path, tensor_count, size);
    }

    for (uint64_t k = 0; k < kv_count; ++k) {
        std::string what = fmt::format("metadata key #{}", k);
        std::string_view key = c.read_string(what);
        if (key.empty() || key.size() > kMaxKeyBytes) {
            fail("{}: {} has invalid length {}", path, what, key.size());
        }
        std::string key_str(key);
        uint32_t type = c.read<uint32_t>("type of metadata " + key_str);
        if (!valid_type(type))
            fail("{}: metadata {} has unknown value type {}", path, key_str, type);
        GgufValue value =
            read_value(c, static_cast<GgufType>(type), "value of metadata " + key_str, path);
        if (!metadata_.emplace(key_str, std::move(value)).second) {
            fail("{}: metadata key {} appears twice", path, key_str);
        }
    }

    if (const GgufValue* a = find("general.alignment")) {
        if (!is_unsigned(a->type)) {
            fail("{}: general.alignment must be an unsigned integer, got {}", path,
                 gguf_type_name(a->type));
        }
        if (a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (uint64_t{1} << 24)) {
            fail("{}: general.alignment = {} is not a power of two up to 2^24", path, a->u);
        }
        alignment_ = a->u;
    }

    tensors_.reserve(tensor_count);
    std::map<std::string_view, size_t> seen;
    for (uint64_t k = 0; k < tensor_count; ++k) {
        std::string what = fmt::format("tensor info #{}", k);
        GgufTensorInfo t;
        std::string_view name = c.read_string(what + " name");
        if (name.empty() || name.size() > kMaxKeyBytes) {
            fail("{}: {} has an invalid name length {}", path, what, name.size());
        }
        t.name = std::string(name);
        what = fmt::format("tensor info #{} ({})", k, t.name);
        uint32_t n_dims = c.read<uint32_t>(what + " n_dims");
        if (n_dims == 0 || n_dims > kMaxDims) {
            fail("{}: tensor {} has n_dims = {} (must be 1..{})", path, t.name, n_dims, kMaxDims);
        }
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t ne = c.read<uint64_t>(what + " dimensions");
            if (ne > static_cast<uint64_t>(kMaxDim)) {
                fail("{}: tensor {} has an absurd dimension ne[{}] = {}", path, t.name, d, ne);
            }
            numel = checked_mul(numel, ne, (path + ": tensor " + t.name).c_str());
            t.ne.push_back(static_cast<int64_t>(ne));
        }
        t.ggml_type = c.read<uint32_t>(what + " type");
        uint64_t relative = c.read<uint64_t>(what + " offset");
        if (relative % alignment_ != 0) {
            fail("{}: tensor {} has offset {}, not a multiple of the alignment {}", path, t.name,
                 relative, alignment_);
        }
        t.offset = relative;  // made absolute below, once the data section is known
        // Dimensions below 2^40 can still make a byte size beyond 2^64.
        const std::string size_what = path + ": tensor " + t.name + " byte size";
        switch (t.ggml_type) {
            case kGgmlTypeF32:
                t.nbytes = checked_mul(numel, 4, size_what.c_str());
                break;
            case kGgmlTypeF16:
            case kGgmlTypeBF16:
                t.nbytes = checked_mul(numel, 2, size_what.c_str());
                break;
            case kGgmlTypeQ8_0:
                if (t.ne[0] % kQ8BlockSize != 0) {
                    fail("{}: tensor {} is Q8_0 but its row length {} is not a multiple of {}",
                         path, t.name, t.ne[0], kQ8BlockSize);
                }
                t.nbytes = checked_mul(numel / kQ8BlockSize, sizeof(BlockQ8_0), size_what.c_str());
                break;
            default:
                t.nbytes = 0;
                break;  // reported if the tensor is used
        }
        if (!seen.emplace(name, k).second) fail("{}: tensor {} appears twice", path, t.name);
        tensors_.push_back(std::move(t));
    }

    uint64_t data_start = align_up(c.pos(), alignment_);
    if (!tensors_.empty() && data_start > size) {
        fail(
            "{}: truncated GGUF file: the tensor data section would start at {} but the file has "
            "{} bytes",
            path, data_start, size);
    }
    struct Range {
        uint64_t begin, end;
        const std::string* name;
    };
    std::vector<Range> ranges;
    for (GgufTensorInfo& t : tensors_) {
        std::string what = path + ": tensor " + t.name;
        uint64_t begin = checked_add(data_start, t.offset, what.c_str());
        uint64_t end = checked_add(begin, t.nbytes, what.c_str());
        if (end > size || begin > size) {
            fail(
                "{}: tensor {} data [{}, {}) lies past the end of the file ({} bytes; "
                "truncated?)",
                path, t.name, begin, end, size);
        }
        t.offset = begin;
        if (t.nbytes > 0) ranges.push_back({begin, end, &t.name});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    for (size_t k = 1; k < ranges.size(); ++k) {
        if (ranges[k].begin < ranges[k - 1].end) {
            fail("{}: tensors {} and {} overlap in the file", path, *ranges[k - 1].name,
                 *ranges[k].name);
        }
    }
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

namespace {
const GgufValue& require(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (v == nullptr) fail("{}: missing GGUF metadata key {}", f.path(), key);
    return *v;
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
    const GgufValue& v = require(*this, key);
    if (v.type != GgufType::String) {
        fail("{}: metadata {} must be a string, got {}", path_, key, gguf_type_name(v.type));
    }
    return std::string(v.str);
}

uint64_t GgufFile::get_uint(const std::string& key) const {
    const GgufValue& v = require(*this, key);
    if (is_unsigned(v.type)) return v.u;
    if (is_signed(v.type) && v.i >= 0) return static_cast<uint64_t>(v.i);
    fail("{}: metadata {} must be a non-negative integer, got {}", path_, key,
         is_signed(v.type) ? std::to_string(v.i) : gguf_type_name(v.type));
}

int64_t GgufFile::get_int(const std::string& key) const {
    const GgufValue& v = require(*this, key);
    if (is_signed(v.type)) return v.i;
    if (is_unsigned(v.type) && v.u <= static_cast<uint64_t>(INT64_MAX)) {
        return static_cast<int64_t>(v.u);
    }
    fail("{}: metadata {} must be an integer, got {}", path_, key, gguf_type_name(v.type));
}

double GgufFile::get_float(const std::string& key) const {
    const GgufValue& v = require(*this, key);
    if (v.type == GgufType::F32 || v.type == GgufType::F64) return v.f;
    if (is_unsigned(v.type)) return static_cast<double>(v.u);
    if (is_signed(v.type)) return static_cast<double>(v.i);
    fail("{}: metadata {} must be a number, got {}", path_, key, gguf_type_name(v.type));
}

bool GgufFile::get_bool(const std::string& key) const {
    const GgufValue& v = require(*this, key);
    if (v.type != GgufType::Bool) {
        fail("{}: metadata {} must be a bool, got {}", path_, key, gguf_type_name(v.type));
    }
    return v.u != 0;
}

const GgufValue& GgufFile::get_array(const std::string& key, GgufType element_type) const {
    const GgufValue& v = require(*this, key);
    if (v.type != GgufType::Array || v.element_type != element_type) {
        fail("{}: metadata {} must be an array of {}, got {}{}", path_, key,
             gguf_type_name(element_type), gguf_type_name(v.type),
             v.type == GgufType::Array ? std::string(" of ") + gguf_type_name(v.element_type) : "");
    }
    return v;
}

// ---------------------------------------------------------------------------------------------

GgufWriter::GgufWriter(const std::string& path, uint32_t alignment)
    : alignment_(alignment), out_(path) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        fail("{}: GGUF alignment {} is not a power of two", path, alignment);
    }
    if (alignment != 32) add_u32("general.alignment", alignment);
}

void GgufWriter::key(const std::string& key, GgufType type) {
    if (header_written_) fail("{}: internal error: metadata {} after the header", out_.path(), key);
    if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) {
        fail("{}: internal error: metadata key {} written twice", out_.path(), key);
    }
    keys_.push_back(key);
    uint64_t len = key.size();
    metadata_bytes_.append(reinterpret_cast<const char*>(&len), 8);
    metadata_bytes_.append(key);
    uint32_t t = static_cast<uint32_t>(type);
    metadata_bytes_.append(reinterpret_cast<const char*>(&t), 4);
    ++kv_count_;
}

namespace {
template <typename T>
void append_raw(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void append_string(std::string& s, std::string_view v) {
    append_raw<uint64_t>(s, v.size());
    s.append(v);
}
}  // namespace

void GgufWriter::add_string(const std::string& k, std::string_view value) {
    key(k, GgufType::String);
    append_string(metadata_bytes_, value);
}
void GgufWriter::add_u32(const std::string& k, uint32_t value) {
    key(k, GgufType::U32);
    append_raw(metadata_bytes_, value);
}
void GgufWriter::add_i32(const std::string& k, int32_t value) {
    key(k, GgufType::I32);
    append_raw(metadata_bytes_, value);
}
void GgufWriter::add_f32(const std::string& k, float value) {
    key(k, GgufType::F32);
    append_raw(metadata_bytes_, value);
}
void GgufWriter::add_bool(const std::string& k, bool value) {
    key(k, GgufType::Bool);
    append_raw<uint8_t>(metadata_bytes_, value ? 1 : 0);
}
void GgufWriter::add_string_array(const std::string& k, const std::vector<std::string>& values) {
    key(k, GgufType::Array);
    append_raw(metadata_bytes_, static_cast<uint32_t>(GgufType::String));
    append_raw<uint64_t>(metadata_bytes_, values.size());
    for (const std::string& v : values) append_string(metadata_bytes_, v);
}
void GgufWriter::add_i32_array(const std::string& k, const std::vector<int32_t>& values) {
    key(k, GgufType::Array);
    append_raw(metadata_bytes_, static_cast<uint32_t>(GgufType::I32));
    append_raw<uint64_t>(metadata_bytes_, values.size());
    metadata_bytes_.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

namespace {
void append_scalar(std::string& s, GgufType type, const GgufValue& v) {
    switch (type) {
        case GgufType::U8:
        case GgufType::Bool:
            append_raw(s, static_cast<uint8_t>(v.u));
            break;
        case GgufType::U16:
            append_raw(s, static_cast<uint16_t>(v.u));
            break;
        case GgufType::U32:
            append_raw(s, static_cast<uint32_t>(v.u));
            break;
        case GgufType::U64:
            append_raw(s, v.u);
            break;
        case GgufType::I8:
            append_raw(s, static_cast<int8_t>(v.i));
            break;
        case GgufType::I16:
            append_raw(s, static_cast<int16_t>(v.i));
            break;
        case GgufType::I32:
            append_raw(s, static_cast<int32_t>(v.i));
            break;
        case GgufType::I64:
            append_raw(s, v.i);
            break;
        case GgufType::F32:
            append_raw(s, static_cast<float>(v.f));
            break;
        case GgufType::F64:
            append_raw(s, v.f);
            break;
        case GgufType::String:
            append_string(s, v.str);
            break;
        case GgufType::Array:
            break;
    }
}
}  // namespace

void GgufWriter::add_value(const std::string& k, const GgufValue& v) {
    key(k, v.type);
    if (v.type != GgufType::Array) {
        append_scalar(metadata_bytes_, v.type, v);
        return;
    }
    append_raw(metadata_bytes_, static_cast<uint32_t>(v.element_type));
    append_raw<uint64_t>(metadata_bytes_, v.count);
    if (v.element_type == GgufType::String) {
        for (std::string_view str : v.strings) append_string(metadata_bytes_, str);
    } else {
        metadata_bytes_.append(reinterpret_cast<const char*>(v.elements),
                               v.count * scalar_size(v.element_type));
    }
}

void GgufWriter::add_tensor(const std::string& name, DType type,
                            const std::vector<int64_t>& shape) {
    if (header_written_) fail("{}: internal error: tensor {} after the header", out_.path(), name);
    if (shape.empty() || shape.size() > kMaxDims) {
        fail("{}: tensor {} must have 1 to 4 dimensions", out_.path(), name);
    }
    Tensor t;
    t.name = name;
    t.ggml_type = ggml_type_of(type);
    t.ne.assign(shape.rbegin(), shape.rend());
    uint64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= static_cast<uint64_t>(t.ne[d]);
    if (type == DType::Q8_0 && t.ne[0] % kQ8BlockSize != 0) {
        fail("{}: tensor {}: Q8_0 needs rows of a multiple of {} values, not {}", out_.path(), name,
             kQ8BlockSize, t.ne[0]);
    }
    t.nbytes = dtype_row_bytes(type, static_cast<uint64_t>(t.ne[0])) * rows;
    t.offset = align_up(data_bytes_, alignment_);
    data_bytes_ = t.offset + t.nbytes;
    tensors_.push_back(std::move(t));
}

void GgufWriter::write_header() {
    out_.put<uint32_t>(kMagic);
    out_.put<uint32_t>(3);
    out_.put<uint64_t>(tensors_.size());
    out_.put<uint64_t>(kv_count_);
    out_.put_bytes(metadata_bytes_);
    metadata_bytes_.clear();
    metadata_bytes_.shrink_to_fit();
    for (const Tensor& t : tensors_) {
        out_.put<uint64_t>(t.name.size());
        out_.put_bytes(t.name);
        out_.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t ne : t.ne) out_.put<uint64_t>(static_cast<uint64_t>(ne));
        out_.put<uint32_t>(t.ggml_type);
        out_.put<uint64_t>(t.offset);
    }
    out_.pad_to(alignment_);
    header_written_ = true;
    current_ = 0;
    current_written_ = 0;
    end_tensor_if_full();  // skips leading empty tensors
}

void GgufWriter::end_tensor_if_full() {
    while (current_ < tensors_.size() && current_written_ == tensors_[current_].nbytes) {
        out_.pad_to(alignment_);
        ++current_;
        current_written_ = 0;
    }
}

void GgufWriter::write(const void* data, size_t nbytes) {
    if (!header_written_) fail("{}: internal error: tensor data before the header", out_.path());
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (nbytes > 0) {
        if (current_ >= tensors_.size()) {
            fail("{}: internal error: more tensor data than declared", out_.path());
        }
        uint64_t room = tensors_[current_].nbytes - current_written_;
        uint64_t n = nbytes < room ? nbytes : room;
        out_.write(p, n);
        p += n;
        nbytes -= n;
        current_written_ += n;
        end_tensor_if_full();
    }
}

void GgufWriter::finish() {
    if (!header_written_) write_header();
    if (current_ != tensors_.size()) {
        fail("{}: internal error: tensor {} is incomplete ({} of {} bytes)", out_.path(),
             tensors_[current_].name, current_written_, tensors_[current_].nbytes);
    }
    out_.close();
}

}  // namespace vase
