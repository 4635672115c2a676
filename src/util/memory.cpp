#include "util/memory.h"

#include <cstdio>
#include <cstring>

namespace vase {
namespace {

uint64_t status_kib(const char* key) {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    uint64_t kib = 0;
    const size_t len = std::strlen(key);
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, key, len) == 0) {
            std::sscanf(line + len, "%lu", &kib);
            break;
        }
    }
    std::fclose(f);
    return kib * 1024;
}

}  // namespace

uint64_t peak_rss_bytes() { return status_kib("VmHWM:"); }
uint64_t current_rss_bytes() { return status_kib("VmRSS:"); }

}  // namespace vase
