// NumPy .npy files (format versions 1 and 2): float32, float64, int32 and
// int64, little-endian, C order. Used to exchange tensors with the Python
// reference checks. Reading validates everything and throws vase::Error
// naming the file and the problem; a malformed file never crashes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vase {

enum class NpyType { kF32, kF64, kI32, kI64 };

const char* npy_type_name(NpyType type);  // "float32", ...

struct NpyArray {
    NpyType type = NpyType::kF32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;  // size() * element bytes, little-endian, C order

    int64_t size() const;  // number of elements (1 for a 0-d array)
    // Converted copies of the elements.
    std::vector<float> to_f32() const;
    std::vector<double> to_f64() const;
    std::vector<int64_t> to_i64() const;  // integer arrays only; throws for floats
};

// Throws vase::Error naming `path` when the file is not a valid .npy of a
// supported type.
NpyArray read_npy(const std::string& path);

// Writes a version 1 .npy file (version 2 if the header needs it).
void write_npy(const std::string& path, NpyType type, const std::vector<int64_t>& shape,
               const void* data);
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape);

}  // namespace vase
