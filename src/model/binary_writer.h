// A buffered, checked binary file writer for the checkpoint writers: little-
// endian scalars, padding, and errors that name the file (disk full, ...).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.h"

namespace vase {

class BinaryWriter {
  public:
    explicit BinaryWriter(const std::string& path) : path_(path) {
        file_ = std::fopen(path.c_str(), "wb");
        if (file_ == nullptr) fail("{}: cannot create: {}", path, std::strerror(errno));
        buffer_ = std::make_unique<char[]>(kBufferBytes);
        std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferBytes);
    }
    ~BinaryWriter() {
        if (file_ != nullptr) std::fclose(file_);
    }
    BinaryWriter(const BinaryWriter&) = delete;
    BinaryWriter& operator=(const BinaryWriter&) = delete;

    void write(const void* data, size_t n) {
        if (n == 0) return;
        if (std::fwrite(data, 1, n, file_) != n) {
            fail("{}: write failed after {} bytes: {}", path_, offset_, std::strerror(errno));
        }
        offset_ += n;
    }
    template <typename T>
    void put(T value) {  // the machine is little-endian, as both formats are
        write(&value, sizeof(T));
    }
    void put_bytes(std::string_view s) { write(s.data(), s.size()); }
    void pad_to(uint64_t alignment) {
        static const char kZeros[256] = {};
        while (offset_ % alignment != 0) {
            uint64_t n = alignment - offset_ % alignment;
            write(kZeros, n < sizeof(kZeros) ? n : sizeof(kZeros));
        }
    }
    uint64_t offset() const { return offset_; }
    const std::string& path() const { return path_; }

    // Flushes and closes; throws on error (a full disk shows up here).
    void close() {
        if (file_ == nullptr) return;
        int flush_status = std::fflush(file_);
        int err = errno;
        int close_status = std::fclose(file_);
        file_ = nullptr;
        if (flush_status != 0 || close_status != 0) {
            fail("{}: write failed: {}", path_, std::strerror(err != 0 ? err : errno));
        }
    }

  private:
    static constexpr size_t kBufferBytes = size_t{4} << 20;
    std::string path_;
    std::FILE* file_ = nullptr;
    std::unique_ptr<char[]> buffer_;
    uint64_t offset_ = 0;
};

}  // namespace vase
