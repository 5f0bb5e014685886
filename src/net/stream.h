// net/stream.h — a buffered byte stream over one socket (TCP or Unix), for SMTP in both
// directions, with one deadline at a time instead of a timeout per call.
//
// Every read and write waits at most until the current deadline; past it the socket is
// cancelled and the call reports kTimeout. Output is gathered in a buffer and written by
// Flush(), so pipelined replies leave in one write (RFC 2920 §3.2). Input is read in blocks
// and handed out as lines or raw bytes; bytes past what the caller took stay buffered.
//
// Deadlines are coarse: a sweep runs every kDeadlineGranularity on the stream's io_context
// while any of its streams has a deadline to come; it cancels what a stream past its deadline
// waits for, and that stream's later operations fail at once. So an operation ends at most
// kDeadlineGranularity after the deadline (SetDeadline with a deadline already past: at once).
// This costs no timer syscall per deadline change (a per-stream asio timer re-armed the
// kernel timer whenever it became the earliest, e.g. once per session for its last flush).
//
// Thread-safety: one Stream belongs to one coroutine on one io_context thread; the io_context
// must be run by one thread (the sweep's list is not locked).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace mailsift::net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using Socket = asio::generic::stream_protocol::socket;

enum class IoStatus { kOk, kEof, kTimeout, kError, kTooLong };

// How late a waiting operation may notice its deadline.
inline constexpr std::chrono::milliseconds kDeadlineGranularity{250};

// Makes `socket` own `fd`, a connected stream socket from accept4(SOCK_NONBLOCK |
// SOCK_CLOEXEC) of the given address family. Unlike assign(), tells asio that the fd is
// already non-blocking (no ioctl(FIONBIO) on first use) and is never dup()ed (close() then
// drops it from epoll without an epoll_ctl(DEL)): the filter never forks or dups sessions.
// On failure the fd is closed and false returned.
bool AdoptAccepted(Socket& socket, int family, int fd);

class DeadlineSweep;

class Stream {
 public:
  explicit Stream(Socket socket);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The deadline for every following operation until changed.
  void SetDeadline(Deadline deadline);
  Deadline deadline() const { return deadline_; }

  // Reads one line ending in LF. On kOk, `line` is the line without its CRLF (or LF) and stays
  // valid until the next read. A line longer than `max_length` is consumed up to its LF and
  // reported as kTooLong. Pending output is flushed before waiting for input.
  asio::awaitable<IoStatus> ReadLine(std::string_view& line, size_t max_length);

  // Makes at least one byte available (flushing pending output first). Returns kOk, kEof,
  // kTimeout or kError.
  asio::awaitable<IoStatus> Fill();
  // The bytes read but not yet consumed.
  std::string_view Buffered() const {
    return std::string_view(in_.get() + in_begin_, in_end_ - in_begin_);
  }
  void Consume(size_t n);
  // True if input beyond what was consumed is already buffered (a pipelining peer).
  bool HasBufferedInput() const { return in_begin_ < in_end_; }

  void Write(std::string_view data) { out_.append(data); }
  std::string& output() { return out_; }
  asio::awaitable<IoStatus> Flush();

  // Ends the connection: remaining output is lost. Safe to call twice.
  void Close();
  bool is_open() const;
  Socket& socket() { return socket_; }

 private:
  friend class DeadlineSweep;

  Socket socket_;
  DeadlineSweep& sweep_;  // the sweep of socket_'s io_context
  Deadline deadline_ = Deadline::max();
  bool timed_out_ = false;
  // Links in sweep_'s list, which holds the streams with a deadline still to come.
  Stream* sweep_prev_ = nullptr;
  Stream* sweep_next_ = nullptr;
  bool swept_ = false;  // in the list
  // Input buffer: [in_begin_, in_end_) is unconsumed; grows from 4 KiB (idle sessions stay
  // small) while a peer sends faster than we consume, up to kMaxBuffer.
  std::unique_ptr<char[]> in_;
  size_t in_capacity_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::string out_;
};

}  // namespace mailsift::net
