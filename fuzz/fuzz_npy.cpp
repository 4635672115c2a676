// read_npy() on arbitrary bytes (the tensors `vase evict` reads): it must throw
// vase::Error or return an array whose data matches its shape and type.
#include <cstdint>

#include "fuzz_util.h"
#include "util/error.h"
#include "util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static vase::fuzz::ScratchFile scratch("array.npy");
    vase::fuzz::write_file(scratch.path, data, size);
    vase::NpyArray a;
    try {
        a = vase::read_npy(scratch.path);
    } catch (const vase::Error&) {
        return 0;
    }
    const bool wide = a.type == vase::NpyType::kF64 || a.type == vase::NpyType::kI64;
    const size_t n = static_cast<size_t>(a.size());
    FUZZ_CHECK(a.data.size() == n * (wide ? 8 : 4));
    FUZZ_CHECK(a.data.size() <= size);
    FUZZ_CHECK(a.to_f32().size() == n);
    FUZZ_CHECK(a.to_f64().size() == n);
    const bool integer = a.type == vase::NpyType::kI32 || a.type == vase::NpyType::kI64;
    try {
        FUZZ_CHECK(a.to_i64().size() == n);
        FUZZ_CHECK(integer);
    } catch (const vase::Error&) {
        FUZZ_CHECK(!integer);
    }
    return 0;
}
