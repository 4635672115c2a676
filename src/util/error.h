// Errors a user can cause (bad files, bad options, bad requests) are thrown as
// vase::Error with a message that names what was wrong. assert() is kept for
// our own invariants.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace vase {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws vase::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Multiplies sizes read from untrusted files; throws instead of overflowing.
size_t checked_mul(size_t a, size_t b, const char* what);
size_t checked_add(size_t a, size_t b, const char* what);

}  // namespace vase
