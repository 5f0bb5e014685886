#include "net/stream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mailsift::net {

// One per io_context (an asio service): the streams whose deadline is still to come, and one
// timer that checks them every kDeadlineGranularity while there are any. Streams join and
// leave the list without a syscall; the kernel timer is set once per tick instead of once
// per deadline that happened to be the earliest.
class DeadlineSweep : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  // The timer is made here so that its asio service exists before this one: services are
  // destroyed newest first, so the timer goes before the service it needs.
  explicit DeadlineSweep(asio::io_context& context)
      : asio::execution_context::service(context), timer_(context) {}

  void Add(Stream& stream) {
    if (stream.swept_ || shut_down_) return;
    stream.swept_ = true;
    stream.sweep_prev_ = nullptr;
    stream.sweep_next_ = first_;
    if (first_ != nullptr) first_->sweep_prev_ = &stream;
    first_ = &stream;
    if (!running_) Start();
  }

  void Remove(Stream& stream) {
    if (!stream.swept_) return;
    stream.swept_ = false;
    if (stream.sweep_prev_ != nullptr) {
      stream.sweep_prev_->sweep_next_ = stream.sweep_next_;
    } else {
      first_ = stream.sweep_next_;
    }
    if (stream.sweep_next_ != nullptr) stream.sweep_next_->sweep_prev_ = stream.sweep_prev_;
    stream.sweep_prev_ = stream.sweep_next_ = nullptr;
    if (first_ == nullptr && running_) {
      // Nothing left to watch: no pending timer keeps io_context::run() from returning.
      running_ = false;
      timer_.cancel();
    }
  }

 private:
  void shutdown() override {
    // The io_context is going away: pending handlers are dropped, streams they own may be
    // destroyed after this; they only unlink themselves.
    shut_down_ = true;
    running_ = false;
    while (first_ != nullptr) Remove(*first_);
  }

  void Start() {
    running_ = true;
    timer_.expires_after(kDeadlineGranularity);
    timer_.async_wait([this](const asio::error_code& ec) {
      // A cancelled wait may complete after a new Start(): only a timeout sweeps.
      if (ec || shut_down_) return;
      running_ = false;
      Sweep();
      if (first_ != nullptr && !running_) Start();
    });
  }

  void Sweep() {
    const Deadline now = Clock::now();
    Stream* stream = first_;
    while (stream != nullptr) {
      Stream* next = stream->sweep_next_;
      if (now >= stream->deadline_) {
        stream->timed_out_ = true;
        Remove(*stream);
        // Pending reads and writes complete with operation_aborted (posted, not run here).
        asio::error_code ignored;
        stream->socket_.cancel(ignored);
      }
      stream = next;
    }
  }

  asio::steady_timer timer_;
  Stream* first_ = nullptr;
  bool running_ = false;  // a timer wait is pending
  bool shut_down_ = false;
};

asio::execution_context::id DeadlineSweep::id;

namespace {
constexpr size_t kInitialBuffer = 4096;
constexpr size_t kMaxBuffer = 262144;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

DeadlineSweep& SweepOf(Socket& socket) {
  auto executor = socket.get_executor();
  const auto* io = executor.target<asio::io_context::executor_type>();
  if (io == nullptr) {
    // Our own bug: every stream runs on an io_context.
    std::fputs("mailsift: panic: net::Stream needs an io_context executor\n", stderr);
    std::abort();
  }
  return asio::use_service<DeadlineSweep>(io->context());
}

// asio keeps a socket's "non-blocking already set" and "possibly dup()ed" flags in its
// implementation, which only a derived class can reach (asio 1.22, epoll reactor).
struct SocketState : Socket {
  static asio::detail::socket_ops::state_type& Of(Socket& socket) {
    return (socket.*&SocketState::impl_).get_implementation().state_;
  }
};
}  // namespace

bool AdoptAccepted(Socket& socket, int family, int fd) {
  asio::error_code ec;
  socket.assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd,
                ec);
  if (ec) {
    ::close(fd);
    return false;
  }
  auto& state = SocketState::Of(socket);
  state = (state | asio::detail::socket_ops::internal_non_blocking) &
          ~asio::detail::socket_ops::possible_dup;
  return true;
}

Stream::Stream(Socket socket) : socket_(std::move(socket)), sweep_(SweepOf(socket_)) {}

Stream::~Stream() { sweep_.Remove(*this); }

void Stream::SetDeadline(Deadline deadline) {
  deadline_ = deadline;
  timed_out_ = Clock::now() >= deadline;
  if (timed_out_ || deadline == Deadline::max()) {
    sweep_.Remove(*this);
  } else {
    sweep_.Add(*this);
  }
}

void Stream::Consume(size_t n) {
  // The buffer is compacted by the next Fill(), so views handed out stay valid until then.
  in_begin_ = std::min(in_begin_ + n, in_end_);
}

asio::awaitable<IoStatus> Stream::Fill() {
  if (!out_.empty()) {
    if (IoStatus status = co_await Flush(); status != IoStatus::kOk) co_return status;
  }
  if (timed_out_) co_return IoStatus::kTimeout;
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_end_ == in_capacity_) {
    size_t unconsumed = in_end_ - in_begin_;
    if (in_begin_ > 0 && unconsumed <= in_capacity_ / 2) {
      std::memmove(in_.get(), in_.get() + in_begin_, unconsumed);
    } else {
      size_t capacity = in_capacity_ == 0 ? kInitialBuffer : std::min(in_capacity_ * 2, kMaxBuffer);
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
    if (timed_out_) co_return IoStatus::kTimeout;
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
  if (timed_out_) co_return IoStatus::kTimeout;
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
  out_.clear();
  if (ec) co_return timed_out_ ? IoStatus::kTimeout : IoStatus::kError;
  co_return IoStatus::kOk;
}

void Stream::Close() {
  asio::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
  sweep_.Remove(*this);
}

bool Stream::is_open() const { return socket_.is_open(); }

}  // namespace mailsift::net
