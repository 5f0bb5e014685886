#include "net/stream.h"

#include <algorithm>
#include <cstring>

#include <asio/read.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace mailsift::net {

// State shared with the timer's handler, so a handler that runs after the Stream is gone finds
// `socket` null instead of freed memory.
struct Stream::Watch {
  Socket* socket = nullptr;
  Deadline deadline = Deadline::max();
  Deadline armed = Deadline::max();
  bool timed_out = false;
};

namespace {
constexpr size_t kInitialBuffer = 4096;
constexpr size_t kMaxBuffer = 262144;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

Stream::Stream(Socket socket)
    : socket_(std::move(socket)), timer_(socket_.get_executor()),
      watch_(std::make_shared<Watch>()) {
  watch_->socket = &socket_;
}

Stream::~Stream() {
  watch_->socket = nullptr;
  timer_.cancel();
}

void Stream::SetDeadline(Deadline deadline) {
  watch_->deadline = deadline;
  watch_->timed_out = Clock::now() >= deadline;
  // The timer is armed lazily: only when the new deadline is earlier than the armed one.
  if (deadline < watch_->armed) Arm();
}

void Stream::Arm() {
  watch_->armed = watch_->deadline;
  if (watch_->armed == Deadline::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(watch_->armed);
  timer_.async_wait([watch = watch_, this](const asio::error_code& ec) {
    if (ec || watch->socket == nullptr) return;  // cancelled or re-armed
    if (Clock::now() >= watch->deadline) {
      watch->timed_out = true;
      watch->armed = Deadline::max();
      asio::error_code ignored;
      watch->socket->cancel(ignored);
    } else {
      Arm();  // the deadline moved later meanwhile
    }
  });
}

void Stream::Consume(size_t n) {
  // The buffer is compacted by the next Fill(), so views handed out stay valid until then.
  in_begin_ = std::min(in_begin_ + n, in_end_);
}


asio::awaitable<IoStatus> Stream::Fill() {
  if (!out_.empty()) {
    if (IoStatus status = co_await Flush(); status != IoStatus::kOk) co_return status;
  }
  if (watch_->timed_out) co_return IoStatus::kTimeout;
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_end_ == in_capacity_) {
    size_t unconsumed = in_end_ - in_begin_;
    if (in_begin_ > 0 && unconsumed <= in_capacity_ / 2) {
      std::memmove(in_.get(), in_.get() + in_begin_, unconsumed);
    } else {
      size_t capacity = in_capacity_ == 0 ? kInitialBuffer
                                          : std::min(in_capacity_ * 2, kMaxBuffer);
      if (capacity <= unconsumed) capacity = unconsumed + kInitialBuffer;
      std::unique_ptr<char[]> bigger(new char[capacity]);
      if (unconsumed > 0) std::memcpy(bigger.get(), in_.get() + in_begin_, unconsumed);
      in_ = std::move(bigger);
      in_capacity_ = capacity;
    }
    in_begin_ = 0;
    in_end_ = unconsumed;
  }
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(in_.get() + in_end_, in_capacity_ - in_end_), kTuple);
  in_end_ += n;
  if (ec) {
    if (watch_->timed_out) co_return IoStatus::kTimeout;
    co_return ec == asio::error::eof ? IoStatus::kEof : IoStatus::kError;
  }
  co_return IoStatus::kOk;
}

asio::awaitable<IoStatus> Stream::ReadLine(std::string_view& line, size_t max_length) {
  bool too_long = false;
  size_t scanned = 0;
  while (true) {
    std::string_view buffered = Buffered();
    size_t newline = buffered.find('\n', scanned);
    if (newline != std::string_view::npos) {
      size_t length = newline;
      if (length > 0 && buffered[length - 1] == '\r') --length;
      line = buffered.substr(0, length);
      Consume(newline + 1);
      if (too_long || newline + 1 > max_length) co_return IoStatus::kTooLong;
      co_return IoStatus::kOk;
    }
    if (buffered.size() > max_length) {
      // Discard what we have of the over-long line; keep reading to its end.
      too_long = true;
      Consume(buffered.size());
      scanned = 0;
    } else {
      scanned = buffered.size();
    }
    IoStatus status = co_await Fill();
    if (status != IoStatus::kOk) co_return status;
  }
}

asio::awaitable<IoStatus> Stream::Flush() {
  if (out_.empty()) co_return IoStatus::kOk;
  if (watch_->timed_out) co_return IoStatus::kTimeout;
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
  out_.clear();
  if (ec) co_return watch_->timed_out ? IoStatus::kTimeout : IoStatus::kError;
  co_return IoStatus::kOk;
}

void Stream::Close() {
  asio::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
  timer_.cancel();
  watch_->armed = Deadline::max();
}

bool Stream::is_open() const { return socket_.is_open(); }

}  // namespace mailsift::net
