// GGUF on arbitrary bytes: the container (header, metadata, tensor infos),
// then the whole Qwen3 load (configuration from metadata, tokenizer from
// tokenizer.ggml.*, tensor table, NaN/Inf scan), then the tokenizer built
// from it. Every step must either throw vase::Error or hand out tensor data
// and metadata strings that lie inside the file.
#include <cstdint>

#include "fuzz_util.h"
#include "model/checkpoint.h"
#include "model/gguf.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace {

bool inside(const uint8_t* p, uint64_t n, const uint8_t* begin, uint64_t size) {
    return p >= begin && p <= begin + size && n <= static_cast<uint64_t>(begin + size - p);
}

void check_container(const vase::GgufFile& g, uint64_t size) {
    const uint8_t* base = g.file_data();
    for (const auto& [key, v] : g.metadata()) {
        FUZZ_CHECK(!key.empty());
        if (v.type == vase::GgufType::String) {
            FUZZ_CHECK(
                inside(reinterpret_cast<const uint8_t*>(v.str.data()), v.str.size(), base, size));
        }
        if (v.type == vase::GgufType::Array) {
            for (std::string_view s : v.strings) {
                FUZZ_CHECK(
                    inside(reinterpret_cast<const uint8_t*>(s.data()), s.size(), base, size));
            }
            if (v.element_type == vase::GgufType::String) FUZZ_CHECK(v.strings.size() == v.count);
        }
    }
    for (const vase::GgufTensorInfo& t : g.tensors()) {
        FUZZ_CHECK(!t.ne.empty() && t.ne.size() <= 4);
        FUZZ_CHECK(t.offset <= size && t.nbytes <= size - t.offset);
        FUZZ_CHECK(t.offset % g.alignment() == 0);
        // The byte size of the types vase reads, computed without overflow.
        unsigned __int128 numel = 1;
        for (int64_t d : t.ne) numel *= static_cast<uint64_t>(d);
        unsigned __int128 bytes = 0;
        if (t.ggml_type == vase::kGgmlTypeF32) bytes = numel * 4;
        if (t.ggml_type == vase::kGgmlTypeF16 || t.ggml_type == vase::kGgmlTypeBF16) {
            bytes = numel * 2;
        }
        if (t.ggml_type == vase::kGgmlTypeQ8_0) bytes = numel / 32 * 34;
        if (bytes != 0) FUZZ_CHECK(bytes == t.nbytes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static vase::fuzz::ScratchFile scratch("model.gguf");
    vase::fuzz::write_file(scratch.path, data, size);
    try {
        vase::GgufFile g(scratch.path);
        check_container(g, size);
    } catch (const vase::Error&) {
        return 0;  // the full load would fail the same way
    }
    try {
        vase::Checkpoint ckpt = vase::load_gguf(scratch.path);
        const uint8_t* base = ckpt.files.at(0)->data();
        for (const auto& [name, t] : ckpt.tensors) {
            FUZZ_CHECK(inside(static_cast<const uint8_t*>(t.data), t.nbytes, base, size));
            FUZZ_CHECK(vase::find_non_finite(t) == -1);
        }
        vase::Tokenizer tokenizer(ckpt.tokenizer);
        const std::vector<int32_t> ids = tokenizer.encode("Hello, world! <|im_end|>");
        for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size());
        tokenizer.decode(ids);
    } catch (const vase::Error&) {
    }
    return 0;
}
