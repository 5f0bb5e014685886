// spool/spool.h — where one message's content lives while it is received, scanned and relayed.
//
// The first `memory_limit` bytes stay in memory; the rest goes to an anonymous temp file in the
// spool directory (O_TMPFILE: it has no name, so a crash leaves nothing behind). Memory per
// message therefore stops growing at the limit, whatever the message size.
// A Spool is owned by one session at a time: not thread-safe; may move between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace mailsift::spool {

class Spool {
 public:
  Spool(std::string directory, uint64_t memory_limit);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends content. Fails (with the reason) only when the temp file cannot be written.
  Status Append(std::string_view data);
  uint64_t size() const { return size_; }
  // The leading bytes held in memory (all of a small message).
  std::string_view Head() const { return memory_; }
  bool spilled() const { return fd_ >= 0; }
  // Empties the spool for the next message (closes the temp file).
  void Clear();

  // Sequential reading from the start. Each call returns the next chunk (a view into memory,
  // or into `buffer` for file content); an empty view at the end.
  class Reader {
   public:
    explicit Reader(const Spool& spool) : spool_(spool) {}
    Result<std::string_view> Next(std::string& buffer, size_t max_chunk = 65536);

   private:
    const Spool& spool_;
    uint64_t offset_ = 0;
  };

 private:
  Status Spill();

  std::string directory_;
  uint64_t memory_limit_;
  std::string memory_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace mailsift::spool
