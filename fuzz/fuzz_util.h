// Shared helpers of the libFuzzer targets: the loaders read paths, so each
// input is written to a per-process scratch file first; FUZZ_CHECK turns a
// broken invariant into a crash that libFuzzer records.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace vase::fuzz {

// Structured values from the front of an input (our own, so that the targets
// also build without clang's FuzzedDataProvider). Exhausted input reads as zeros.
class ByteReader {
  public:
    ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    bool flag() { return byte() & 1; }
    int in_range(int lo, int hi) { return lo + byte() % (hi - lo + 1); }
    // Bytes up to the next NUL (consumed, not returned) or `max` bytes.
    std::string text(size_t max) {
        std::string out;
        while (pos_ < size_ && out.size() < max) {
            const char c = static_cast<char>(data_[pos_++]);
            if (c == '\0') break;
            out += c;
        }
        return out;
    }
    std::string rest() {
        std::string out(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_);
        pos_ = size_;
        return out;
    }

  private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

// A scratch file in /dev/shm (RAM) when it exists, else /tmp, named after the
// process so that parallel fuzzing jobs do not share it.
inline std::string scratch_path(const char* name) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/vase_fuzz_" + std::to_string(getpid()) + "_" + name;
}

// Replaces the contents of `path` with `size` bytes.
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        std::perror(path.c_str());
        std::abort();
    }
    if (size > 0 && std::fwrite(data, 1, size, f) != size) {
        std::perror(path.c_str());
        std::abort();
    }
    std::fclose(f);
}

// Removes the scratch files when the fuzzer exits normally.
struct ScratchFile {
    explicit ScratchFile(const char* name) : path(scratch_path(name)) {}
    ~ScratchFile() { std::remove(path.c_str()); }
    std::string path;
};

}  // namespace vase::fuzz

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)
