// Runs fuzz targets over files without libFuzzer: `vase_fuzz_replay TARGET
// PATH...` feeds every file (directories: every file inside, sorted) to the
// target's LLVMFuzzerTestOneInput. The normal and sanitizer builds use it to
// replay the seed corpora and the crash reproducers of fuzz/regressions/ in
// ctest, so a fixed bug stays fixed without clang.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "replay_targets.h"  // generated: kReplayTargets[] = {name, one_input, init}

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s TARGET [FILE|DIR]...\ntargets:", argv[0]);
        for (const ReplayTarget& t : kReplayTargets) std::fprintf(stderr, " %s", t.name);
        std::fprintf(stderr, "\n");
        return 2;
    }
    const ReplayTarget* target = nullptr;
    for (const ReplayTarget& t : kReplayTargets) {
        if (std::strcmp(t.name, argv[1]) == 0) target = &t;
    }
    if (target == nullptr) {
        std::fprintf(stderr, "%s: unknown target %s\n", argv[0], argv[1]);
        return 2;
    }
    std::vector<fs::path> files;
    for (int i = 2; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto& e : fs::directory_iterator(p)) {
                if (e.is_regular_file()) files.push_back(e.path());
            }
        } else if (fs::exists(p)) {
            files.push_back(p);
        }
    }
    std::sort(files.begin(), files.end());
    if (target->init != nullptr) target->init(&argc, &argv);
    for (const fs::path& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::string bytes{std::istreambuf_iterator<char>(in), {}};
        target->one_input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%s: %zu inputs replayed without a crash\n", target->name, files.size());
    return 0;
}
