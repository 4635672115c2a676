// A read-only memory map of a whole file. Weights are used in place from the
// map, so loading a checkpoint costs no copy and the OS shares pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vase {

class MappedFile {
public:
    // Throws vase::Error naming the path if it cannot be opened or mapped.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Reads a whole (small) file into a string; throws vase::Error naming the path.
std::string read_text_file(const std::string& path);

}  // namespace vase
