// A tiny random Qwen3 checkpoint for engine tests, written once per test
// binary with the project's own `vase make-model`.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace vase::testing {

// Hugging Face directory of a random tiny Qwen3 (hidden 64, 3 layers, 4 query
// heads over 2 KV heads, head_dim 16, F32), made on first use and removed
// when the process exits (each discovered test is a process: ~500 of them
// would otherwise leave ~500 model directories in the temp directory).
inline const std::string& tiny_model_dir() {
    struct RemoveAtExit {
        std::string path;
        ~RemoveAtExit() {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    };
    static const std::string dir = [] {
        std::string path = (std::filesystem::temp_directory_path() /
                            fmt::format("vase_engine_test_model_{}", ::getpid()))
                               .string();
        std::filesystem::remove_all(path);
        std::string cmd = fmt::format(
            "'{}' make-model --shape tiny --layers 3 --dtype f32 --format hf --seed 7 --out '{}' >/dev/null",
            VASE_BINARY, path);
        if (std::system(cmd.c_str()) != 0) {
            fmt::print(stderr, "cannot make the test model: {}\n", cmd);
            std::abort();
        }
        return path;
    }();
    static const RemoveAtExit cleanup{dir};
    return dir;
}

}  // namespace vase::testing
