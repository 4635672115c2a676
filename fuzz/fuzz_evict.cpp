// `vase evict` end to end (src/cli/cmd_evict.cpp) on tensors from arbitrary
// bytes: the option checks, the .npy reader, the shape rules and one eviction
// pass of the chosen policy. It must either fail with vase::Error or write
// an index file whose every row holds `keep` distinct candidates in ascending order.
//
// Input: 6 parameter bytes (policy, keep, n_large, sinks, repeat, flags), then
// up to four .npy files separated by "--npy--": keys, values (default: the
// keys), queries (default: the keys) and a cur projection.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "fuzz_util.h"
#include "kv/params.h"
#include "util/error.h"
#include "util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static vase::fuzz::ScratchFile files[] = {
        vase::fuzz::ScratchFile("keys.npy"), vase::fuzz::ScratchFile("values.npy"),
        vase::fuzz::ScratchFile("queries.npy"), vase::fuzz::ScratchFile("projection.npy")};
    static vase::fuzz::ScratchFile out("kept.npy");
    if (size < 6) return 0;
    const auto& names = vase::eviction_policy_names();
    const uint8_t* p = data;
    std::string policy = p[0] < names.size() ? std::string(names[p[0]]) : "no_such_policy";
    const int keep = p[1] % 80;
    const int n_large = static_cast<int>(p[2] % 40) - 1;
    const int sinks = p[3] % 16;
    const int repeat = p[4] % 3;
    const uint8_t flags = p[5];

    const std::string_view rest(reinterpret_cast<const char*>(data + 6), size - 6);
    constexpr std::string_view kSeparator = "--npy--";
    std::vector<std::string_view> blobs;
    size_t at = 0;
    while (blobs.size() < 3) {
        const size_t next = rest.find(kSeparator, at);
        if (next == std::string_view::npos) break;
        blobs.push_back(rest.substr(at, next - at));
        at = next + kSeparator.size();
    }
    blobs.push_back(rest.substr(at));
    for (size_t i = 0; i < blobs.size(); ++i) {
        vase::fuzz::write_file(files[i].path, reinterpret_cast<const uint8_t*>(blobs[i].data()),
                               blobs[i].size());
    }
    const std::string& keys = files[0].path;
    const std::string& values = blobs.size() > 1 ? files[1].path : keys;
    const std::string& queries = blobs.size() > 2 ? files[2].path : keys;

    std::vector<std::string> args = {"vase",     "evict",
                                     "--policy", policy,
                                     "--keys",   keys,
                                     "--values", values,
                                     "--keep",   std::to_string(keep),
                                     "--sinks",  std::to_string(sinks),
                                     "--repeat", std::to_string(repeat),
                                     "--out",    out.path,
                                     "--seed",   std::to_string(flags)};
    if (n_large >= -1 && (flags & 1))
        args.insert(args.end(), {"--n-large", std::to_string(n_large)});
    if (flags & 2) args.insert(args.end(), {"--queries", queries});
    if ((flags & 4) && blobs.size() > 3) args.insert(args.end(), {"--projection", files[3].path});
    if (flags & 8) args.push_back((flags & 16) ? "--smooth" : "--no-smooth");
    static const char* const kTemperatures[] = {"1", "0.5", "0", "-1", "nan", "inf"};
    if (flags & 32) args.insert(args.end(), {"--temperature", kTemperatures[(flags >> 6) % 6]});
    if (flags & 64) args.insert(args.end(), {"--lambda", (flags & 128) ? "1.5" : "0.25"});

    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    CLI::App app;
    vase::cli::register_evict(app);
    std::remove(out.path.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError&) {
        return 0;
    } catch (const vase::Error&) {
        return 0;
    }
    // Success: the output holds [repeat,] n_kv_heads x keep ascending distinct indices.
    const vase::NpyArray kept = vase::read_npy(out.path);
    FUZZ_CHECK(kept.type == vase::NpyType::kI64);
    FUZZ_CHECK(!kept.shape.empty() && kept.shape.back() == keep);
    const vase::NpyArray k = vase::read_npy(keys);
    const int64_t n = k.shape.at(1);
    const std::vector<int64_t> idx = kept.to_i64();
    for (size_t row = 0; keep > 0 && row < idx.size() / keep; ++row) {
        for (int i = 0; i < keep; ++i) {
            const int64_t v = idx[row * keep + i];
            FUZZ_CHECK(v >= 0 && v < n);
            if (i > 0) FUZZ_CHECK(v > idx[row * keep + i - 1]);
        }
    }
    return 0;
}
