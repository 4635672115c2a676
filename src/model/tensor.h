// A read-only view of one weight tensor inside a mapped checkpoint file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/dtype.h"

namespace vase {

struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // outermost first, as in PyTorch: [rows, cols] for a matrix
    const void* data = nullptr;  // points into a MappedFile owned by the Checkpoint
    uint64_t nbytes = 0;

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        return n;
    }
};

}  // namespace vase
