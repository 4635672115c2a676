#include "util/error.h"

#include <limits>

namespace vase {

size_t checked_mul(size_t a, size_t b, const char* what) {
    if (a != 0 && b > std::numeric_limits<size_t>::max() / a) {
        fail("{}: size {} x {} overflows", what, a, b);
    }
    return a * b;
}

size_t checked_add(size_t a, size_t b, const char* what) {
    if (b > std::numeric_limits<size_t>::max() - a) fail("{}: size {} + {} overflows", what, a, b);
    return a + b;
}

}  // namespace vase
