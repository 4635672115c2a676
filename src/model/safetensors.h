// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets"}, ...},
// then the tensor bytes; offsets are relative to the end of the header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/binary_writer.h"
#include "ops/dtype.h"
#include "util/mapped_file.h"

namespace vase {

// One tensor as the header describes it, validated against the file.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;              // as written: "BF16", "F32", "I64", ...
    std::vector<int64_t> shape;     // outermost first
    const uint8_t* data = nullptr;  // into the mapped file
    uint64_t nbytes = 0;
};

// Parses and checks the header of a mapped file: sane header length, well-
// formed JSON, known dtype names, data_offsets inside the file and equal to
// shape x element size, no two tensors overlapping. Throws vase::Error naming
// the file. Entries are returned in the order of their data.
std::vector<SafetensorsEntry> read_safetensors(const MappedFile& file);

// The vase DType of a safetensors dtype name, or false for types vase does not
// compute with (anything but F32, F16 and BF16).
bool safetensors_dtype(const std::string& name, DType* out);
const char* safetensors_dtype_name(DType type);  // F32, F16, BF16 (Q8_0 has none)

// Writes a safetensors file tensor by tensor, never holding more than the
// caller's chunk: the header is written first from the declared tensors, then
// write() appends their bytes in the same order.
class SafetensorsWriter {
  public:
    struct Tensor {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
    };
    SafetensorsWriter(const std::string& path, std::vector<Tensor> tensors,
                      const std::map<std::string, std::string>& metadata = {});
    void write(const void* data, size_t nbytes);  // the next bytes of the data section
    void finish();  // checks that every declared byte was written, closes the file

  private:
    BinaryWriter out_;
    uint64_t data_start_ = 0;
    uint64_t data_bytes_ = 0;
    uint64_t written_ = 0;
};

}  // namespace vase
