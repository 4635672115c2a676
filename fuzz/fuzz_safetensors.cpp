// read_safetensors() on arbitrary bytes: it must either throw vase::Error or
// return entries whose data lies inside the data section, sized as their shape
// and dtype say, in ascending order and without overlap.
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "model/safetensors.h"
#include "util/error.h"

namespace {

uint64_t element_size(const std::string& dtype) {
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
    return 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static vase::fuzz::ScratchFile scratch("model.safetensors");
    vase::fuzz::write_file(scratch.path, data, size);
    try {
        vase::MappedFile file(scratch.path);
        const std::vector<vase::SafetensorsEntry> entries = vase::read_safetensors(file);
        uint64_t header_len = 0;
        std::memcpy(&header_len, file.data(), 8);
        const uint8_t* begin = file.data() + 8 + header_len;
        const uint8_t* end = file.data() + file.size();
        const uint8_t* previous_end = begin;
        for (const vase::SafetensorsEntry& e : entries) {
            FUZZ_CHECK(e.data >= previous_end);
            FUZZ_CHECK(e.nbytes <= static_cast<uint64_t>(end - e.data));
            uint64_t numel = 1;
            for (int64_t d : e.shape) {
                FUZZ_CHECK(d >= 0);
                numel *= static_cast<uint64_t>(d);
            }
            FUZZ_CHECK(numel * element_size(e.dtype) == e.nbytes);
            vase::DType dtype;
            if (vase::safetensors_dtype(e.dtype, &dtype)) {
                FUZZ_CHECK(std::string(vase::safetensors_dtype_name(dtype)) == e.dtype);
            }
            previous_end = e.data + e.nbytes;
        }
    } catch (const vase::Error&) {
    }
    return 0;
}
