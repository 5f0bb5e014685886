#include "spool/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mailsift::spool {

Spool::Spool(std::string directory, uint64_t memory_limit)
    : directory_(std::move(directory)), memory_limit_(memory_limit) {}

Spool::~Spool() { Clear(); }

void Spool::Clear() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
  memory_.clear();
  if (memory_.capacity() > 65536) memory_.shrink_to_fit();
}

Status Spool::Spill() {
  fd_ = ::open(directory_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    std::string name = directory_ + "/mailsift.XXXXXX";
    fd_ = ::mkstemp(name.data());
    if (fd_ >= 0) {
      ::unlink(name.c_str());
      ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
    }
  }
  if (fd_ < 0) {
    return Fail(
        fmt::format("cannot create a spool file in {}: {}", directory_, std::strerror(errno)));
  }
  return {};
}

Status Spool::Append(std::string_view data) {
  if (memory_.size() < memory_limit_) {
    size_t take = std::min<uint64_t>(data.size(), memory_limit_ - memory_.size());
    memory_.append(data.substr(0, take));
    data.remove_prefix(take);
    size_ += take;
  }
  if (data.empty()) return {};
  if (fd_ < 0) {
    if (auto status = Spill(); !status) return status;
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Fail(
          fmt::format("cannot write the spool file in {}: {}", directory_, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  return {};
}

Result<std::string_view> Spool::Reader::Next(std::string& buffer, size_t max_chunk) {
  if (offset_ < spool_.memory_.size()) {
    std::string_view chunk = std::string_view(spool_.memory_).substr(offset_, max_chunk);
    offset_ += chunk.size();
    return chunk;
  }
  if (offset_ >= spool_.size_ || spool_.fd_ < 0) return std::string_view{};
  buffer.resize(max_chunk);
  off_t file_offset = static_cast<off_t>(offset_ - spool_.memory_.size());
  ssize_t n;
  do {
    n = ::pread(spool_.fd_, buffer.data(), max_chunk, file_offset);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Fail(fmt::format("cannot read the spool file: {}", std::strerror(errno)));
  offset_ += static_cast<uint64_t>(n);
  return std::string_view(buffer.data(), static_cast<size_t>(n));
}

}  // namespace mailsift::spool
