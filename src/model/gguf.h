// The GGUF container (ggml's docs/gguf.md, versions 2 and 3): header, typed
// key/value metadata, tensor infos, then aligned tensor data. Reading checks
// every count, length and offset against the file; writing follows the spec
// exactly so that llama.cpp loads what we write.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/binary_writer.h"
#include "ops/dtype.h"
#include "util/mapped_file.h"

namespace vase {

enum class GgufType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
const char* gguf_type_name(GgufType type);

// ggml tensor types vase reads and writes (ggml.h's numbering).
inline constexpr uint32_t kGgmlTypeF32 = 0;
inline constexpr uint32_t kGgmlTypeF16 = 1;
inline constexpr uint32_t kGgmlTypeQ8_0 = 8;
inline constexpr uint32_t kGgmlTypeBF16 = 30;
std::string ggml_type_name(uint32_t type);  // "Q4_K", ... or "type 123"
uint32_t ggml_type_of(DType type);

// One metadata value. Scalars are widened into u/i/f; strings and arrays point
// into the mapped file, which the owning GgufFile keeps alive.
struct GgufValue {
    GgufType type = GgufType::U8;
    uint64_t u = 0;  // unsigned integers and bool
    int64_t i = 0;   // signed integers
    double f = 0;    // floats
    std::string_view str;
    // Arrays: element type and count; fixed-size elements are raw little-endian
    // at `elements`, strings are in `strings`.
    GgufType element_type = GgufType::U8;
    uint64_t count = 0;
    const uint8_t* elements = nullptr;
    std::vector<std::string_view> strings;
};

struct GgufTensorInfo {
    std::string name;
    uint32_t ggml_type = 0;
    std::vector<int64_t> ne;  // GGUF order: ne[0] is the fastest-varying axis
    uint64_t offset = 0;      // absolute offset in the file
    uint64_t nbytes = 0;      // 0 for types vase cannot size
};

class GgufFile {
  public:
    // Maps the file and parses everything but the tensor bytes (pages of the
    // weights are never touched here). Throws vase::Error naming the file.
    explicit GgufFile(const std::string& path);

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

    const GgufValue* find(const std::string& key) const;
    bool has(const std::string& key) const { return find(key) != nullptr; }
    // Typed getters: throw naming the file and key if absent or of the wrong type.
    std::string get_string(const std::string& key) const;
    uint64_t get_uint(const std::string& key) const;  // any non-negative integer type
    int64_t get_int(const std::string& key) const;    // any integer type
    double get_float(const std::string& key) const;   // any float or integer type
    bool get_bool(const std::string& key) const;
    const GgufValue& get_array(const std::string& key, GgufType element_type) const;

    // Hands the mapping to a Checkpoint; tensor pointers stay valid.
    std::unique_ptr<MappedFile> take_file() { return std::move(file_); }
    const uint8_t* file_data() const { return data_; }

  private:
    std::string path_;
    std::unique_ptr<MappedFile> file_;
    const uint8_t* data_ = nullptr;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    std::map<std::string, GgufValue> metadata_;
    std::vector<GgufTensorInfo> tensors_;
};

// Writes a GGUF v3 file: metadata and tensor infos are declared first, then
// write_header() writes them and the tensor bytes follow in declaration order
// through write(), each tensor padded to the alignment.
class GgufWriter {
  public:
    explicit GgufWriter(const std::string& path, uint32_t alignment = 32);

    void add_string(const std::string& key, std::string_view value);
    void add_u32(const std::string& key, uint32_t value);
    void add_i32(const std::string& key, int32_t value);
    void add_f32(const std::string& key, float value);
    void add_bool(const std::string& key, bool value);
    void add_string_array(const std::string& key, const std::vector<std::string>& values);
    void add_i32_array(const std::string& key, const std::vector<int32_t>& values);
    // Any value as GgufFile read it (to copy metadata from one file to another).
    void add_value(const std::string& key, const GgufValue& value);
    // `shape` in PyTorch order (outermost first); stored reversed as GGUF ne[].
    void add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape);

    void write_header();
    void write(const void* data, size_t nbytes);  // the next bytes of the current tensor
    void finish();                                // checks sizes, pads, closes

  private:
    void key(const std::string& key, GgufType type);
    void end_tensor_if_full();

    struct Tensor {
        std::string name;
        uint32_t ggml_type;
        std::vector<int64_t> ne;
        uint64_t nbytes;
        uint64_t offset;  // relative to the data section
    };
    std::string metadata_bytes_;  // serialized key/value pairs
    uint64_t kv_count_ = 0;
    std::vector<std::string> keys_;
    std::vector<Tensor> tensors_;
    uint64_t data_bytes_ = 0;
    uint32_t alignment_;
    BinaryWriter out_;
    bool header_written_ = false;
    size_t current_ = 0;  // tensor being written
    uint64_t current_written_ = 0;
};

}  // namespace vase
