// scan/pipeline.h — the generation's checks on a scan thread pool, under a deadline.
//
// Scan() hands one message to the pool, runs every check on it there (a slow scan never
// blocks an I/O thread), and resumes the calling coroutine on its own executor with the
// results — or with nothing when the message's deadline passes first, in which case the
// session tempfails the message (the work still finishes on the pool and is dropped).
//
// Lifetime: the Pipeline must outlive every io_context whose coroutines call Scan() or, as
// Server arranges, be destroyed (which joins the pool) before those io_contexts are.
// Thread-safety: Scan() may be called from any I/O thread.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "scan/check.h"

namespace mailsift::scan {

class Pipeline {
 public:
  // `threads` 0: one per core.
  Pipeline(std::vector<std::unique_ptr<Check>> checks, int threads);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  asio::awaitable<std::optional<std::vector<CheckResult>>> Scan(
      MessageInput message, std::chrono::steady_clock::time_point deadline);

  // Runs the checks on the calling thread (offline use and tests).
  std::vector<CheckResult> RunNow(const MessageInput& message) const;

  const std::vector<std::unique_ptr<Check>>& checks() const { return checks_; }

 private:
  std::vector<std::unique_ptr<Check>> checks_;
  asio::thread_pool pool_;
};

}  // namespace mailsift::scan
