// Shared helpers of the libFuzzer targets: the loaders read paths, so each
// input is written to a per-process scratch file first; FUZZ_CHECK turns a
// broken invariant into a crash that libFuzzer records.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vase::fuzz {

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
