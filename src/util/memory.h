// Process memory figures from /proc (Linux).
#pragma once

#include <cstdint>

namespace vase {

// Peak resident set size (VmHWM) in bytes; 0 if unknown.
uint64_t peak_rss_bytes();
// Current resident set size (VmRSS) in bytes; 0 if unknown.
uint64_t current_rss_bytes();

}  // namespace vase
