// base/fd.h — a file descriptor that closes itself, and writing a buffer out in full.
//
// Thread-safety: a UniqueFd is owned by one thread at a time; WriteAll is reentrant.
#pragma once

#include <string_view>
#include <utility>

namespace mailsift {

// Owns a file descriptor (-1: none) and closes it when destroyed or replaced. Move-only.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset();
  int fd_;
};

// Writes all of `bytes` to `fd`, retrying after EINTR and short writes. False on an error
// (errno tells which) or when the descriptor takes no more bytes.
bool WriteAll(int fd, std::string_view bytes);

}  // namespace mailsift
