#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace vase {
namespace {

using nlohmann::json;

// The safetensors library refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Element sizes of every dtype the format defines (to check offsets even of
// tensors we will not use).
int dtype_size(const std::string& name) {
    static const std::pair<const char*, int> kSizes[] = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
        {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
        {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},
    };
    for (const auto& [n, size] : kSizes) {
        if (name == n) return size;
    }
    return 0;
}

}  // namespace

bool safetensors_dtype(const std::string& name, DType* out) {
    if (name == "F32") {
        *out = DType::F32;
    } else if (name == "F16") {
        *out = DType::F16;
    } else if (name == "BF16") {
        *out = DType::BF16;
    } else {
        return false;
    }
    return true;
}

const char* safetensors_dtype_name(DType type) {
    switch (type) {
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::BF16:
            return "BF16";
        case DType::Q8_0:
            break;
    }
    fail("safetensors has no Q8_0 dtype; use --format gguf for Q8_0");
}

std::vector<SafetensorsEntry> read_safetensors(const MappedFile& file) {
    const std::string& path = file.path();
    const uint64_t file_size = file.size();
    if (file_size < 8) {
        fail("{}: truncated safetensors file ({} bytes; the header length alone takes 8)", path,
             file_size);
    }
    uint64_t header_len;
    std::memcpy(&header_len, file.data(), 8);
    if (header_len < 2 || header_len > kMaxHeaderBytes) {
        fail("{}: not a safetensors file: header length {} is not in 2..{}", path, header_len,
             kMaxHeaderBytes);
    }
    if (header_len > file_size - 8) {
        fail("{}: truncated safetensors file: header of {} bytes but only {} bytes follow", path,
             header_len, file_size - 8);
    }
    const char* header = reinterpret_cast<const char*>(file.data() + 8);
    if (header[0] != '{') fail("{}: not a safetensors file: header does not start with '{{'", path);
    json j;
    try {
        j = json::parse(header, header + header_len);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
        fail("{}: safetensors header is not valid JSON: {}", path, e.what());
    }
    if (!j.is_object()) fail("{}: safetensors header is not a JSON object", path);

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = file_size - data_start;
    struct Range {
        uint64_t begin, end;
        size_t index;
    };
    std::vector<SafetensorsEntry> entries;
    std::vector<Range> ranges;
    for (const auto& [name, info] : j.items()) {
        if (name == "__metadata__") {
            if (!info.is_object()) fail("{}: __metadata__ must be an object of strings", path);
            continue;
        }
        if (!info.is_object()) fail("{}: tensor {}: entry is not an object", path, name);
        auto dtype_it = info.find("dtype");
        auto shape_it = info.find("shape");
        auto offsets_it = info.find("data_offsets");
        if (dtype_it == info.end() || !dtype_it->is_string()) {
            fail("{}: tensor {}: missing or non-string dtype", path, name);
        }
        if (shape_it == info.end() || !shape_it->is_array()) {
            fail("{}: tensor {}: missing or non-list shape", path, name);
        }
        if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
            !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
            fail("{}: tensor {}: data_offsets must be two non-negative integers", path, name);
        }
        SafetensorsEntry e;
        e.name = name;
        e.dtype = dtype_it->get<std::string>();
        int elem = dtype_size(e.dtype);
        if (elem == 0) fail("{}: tensor {} has unknown dtype {}", path, name, e.dtype);
        if (shape_it->size() > 8) {
            fail("{}: tensor {} has {} dimensions (at most 8)", path, name, shape_it->size());
        }
        size_t numel = 1;
        std::string what = fmt::format("{}: tensor {} shape", path, name);
        for (const json& d : *shape_it) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
                fail("{}: tensor {} has an invalid dimension {} in its shape", path, name,
                     d.dump());
            }
            e.shape.push_back(d.get<int64_t>());
            numel = checked_mul(numel, d.get<uint64_t>(), what.c_str());
        }
        uint64_t nbytes = checked_mul(numel, static_cast<size_t>(elem), what.c_str());
        uint64_t begin = (*offsets_it)[0].get<uint64_t>();
        uint64_t end = (*offsets_it)[1].get<uint64_t>();
        if (begin > end || end > data_size) {
            fail(
                "{}: tensor {}: data_offsets [{}, {}] lie outside the {} data bytes of the file "
                "(truncated?)",
                path, name, begin, end, data_size);
        }
        if (end - begin != nbytes) {
            fail(
                "{}: tensor {}: data_offsets [{}, {}] hold {} bytes but shape {} x {} ({} bytes "
                "each) needs {}",
                path, name, begin, end, end - begin, shape_it->dump(), e.dtype, elem, nbytes);
        }
        e.data = file.data() + data_start + begin;
        e.nbytes = nbytes;
        ranges.push_back({begin, end, entries.size()});
        entries.push_back(std::move(e));
    }
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 1; i < ranges.size(); ++i) {
        const Range& prev = ranges[i - 1];
        const Range& cur = ranges[i];
        if (cur.begin < prev.end) {
            fail("{}: tensors {} [{}, {}) and {} [{}, {}) overlap", path, entries[prev.index].name,
                 prev.begin, prev.end, entries[cur.index].name, cur.begin, cur.end);
        }
    }
    std::vector<SafetensorsEntry> ordered;
    ordered.reserve(entries.size());
    for (const Range& r : ranges) ordered.push_back(std::move(entries[r.index]));
    return ordered;
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<Tensor> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : out_(path) {
    // nlohmann::ordered_json keeps the declared order, so offsets ascend in the file
    // in the order the caller will write the data.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const Tensor& t : tensors) {
        uint64_t numel = 1;
        for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
        uint64_t nbytes = dtype_row_bytes(t.dtype, numel);
        header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
    }
    data_bytes_ = offset;
    std::string text = header.dump();
    // Pad with spaces (allowed by the format) so the data starts 8-byte aligned.
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');
    out_.put<uint64_t>(text.size());
    out_.put_bytes(text);
    data_start_ = out_.offset();
}

void SafetensorsWriter::write(const void* data, size_t nbytes) {
    if (written_ + nbytes > data_bytes_) {
        fail("{}: internal error: writing past the declared {} data bytes", out_.path(),
             data_bytes_);
    }
    out_.write(data, nbytes);
    written_ += nbytes;
}

void SafetensorsWriter::finish() {
    if (written_ != data_bytes_) {
        fail("{}: internal error: {} of {} data bytes written", out_.path(), written_, data_bytes_);
    }
    out_.close();
}

}  // namespace vase
