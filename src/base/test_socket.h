// base/test_socket.h — socket helpers for unit tests only (never linked into mailsift): reading
// a peer's replies line by line from a blocking socket.
//
// Thread-safety: plain functions; a buffer belongs to one caller.
#pragma once

#include <sys/socket.h>

#include <string>

namespace mailsift::testing {

// One line up to LF, without CR LF, from `fd` through `buffer` (bytes read past the line stay
// there for the next call); false on EOF, error or the socket's receive timeout.
inline bool ReadLine(int fd, std::string& buffer, std::string& line) {
  while (true) {
    if (size_t newline = buffer.find('\n'); newline != std::string::npos) {
      line = buffer.substr(0, newline);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      buffer.erase(0, newline + 1);
      return true;
    }
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace mailsift::testing
