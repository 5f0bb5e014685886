#include "net/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <string>

namespace mailsift::net {
namespace {

using std::chrono::milliseconds;

// A connected pair: `ours` adopted as accept4 would hand it over, `theirs` a plain fd.
struct Pair {
  explicit Pair(asio::io_context& io) : socket(io) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    EXPECT_TRUE(AdoptAccepted(socket, AF_UNIX, fds[0]));
    theirs = fds[1];
  }
  ~Pair() { ::close(theirs); }
  Socket socket;
  int theirs = -1;
};

TEST(Stream, AdoptedSocketIsNonBlockingWithoutAsking) {
  asio::io_context io;
  Pair pair(io);
  EXPECT_TRUE(pair.socket.is_open());
  EXPECT_TRUE(pair.socket.native_non_blocking());
  EXPECT_NE(::fcntl(pair.socket.native_handle(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(Stream, ReadsLinesAndFlushesReplies) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_EQ(::write(pair.theirs, "EHLO client\r\nQUIT\r\n", 19), 19);
  std::string first, second;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Stream stream(std::move(pair.socket));
        stream.SetDeadline(Clock::now() + std::chrono::seconds(5));
        std::string_view line;
        EXPECT_EQ(co_await stream.ReadLine(line, 512), IoStatus::kOk);
        first = line;
        EXPECT_EQ(co_await stream.ReadLine(line, 512), IoStatus::kOk);
        second = line;
        stream.Write("221 bye\r\n");
        EXPECT_EQ(co_await stream.Flush(), IoStatus::kOk);
      },
      asio::detached);
  auto start = Clock::now();
  io.run();
  // The sweep's timer does not outlive the last stream with a deadline.
  EXPECT_LT(Clock::now() - start, milliseconds(200));
  EXPECT_EQ(first, "EHLO client");
  EXPECT_EQ(second, "QUIT");
  char reply[16] = {};
  EXPECT_EQ(::read(pair.theirs, reply, sizeof reply), 9);
  EXPECT_STREQ(reply, "221 bye\r\n");
}

TEST(Stream, WaitingReadEndsWithinTheGranularityOfItsDeadline) {
  asio::io_context io;
  Pair quiet(io);
  Pair later(io);
  IoStatus quiet_status = IoStatus::kOk, later_status = IoStatus::kOk;
  Clock::duration quiet_took{};
  Clock::time_point start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Stream stream(std::move(quiet.socket));
        stream.SetDeadline(Clock::now() + milliseconds(100));
        quiet_status = co_await stream.Fill();
        quiet_took = Clock::now() - start;
        // Past the deadline every operation fails at once.
        EXPECT_EQ(co_await stream.Fill(), IoStatus::kTimeout);
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // A later deadline is not cut short by the sweep that ends the other stream.
        Stream stream(std::move(later.socket));
        stream.SetDeadline(Clock::now() + std::chrono::seconds(5));
        later_status = co_await stream.Fill();
      },
      asio::detached);
  // Data for the second stream only after the first one has timed out.
  asio::steady_timer feed(io, milliseconds(600));
  feed.async_wait([&](const asio::error_code&) { ASSERT_EQ(::write(later.theirs, "x", 1), 1); });
  io.run();
  EXPECT_EQ(quiet_status, IoStatus::kTimeout);
  EXPECT_GE(quiet_took, milliseconds(100));
  EXPECT_LT(quiet_took, milliseconds(100) + kDeadlineGranularity + milliseconds(150));
  EXPECT_EQ(later_status, IoStatus::kOk);
}

TEST(Stream, DeadlineAlreadyPastFailsAtOnce) {
  asio::io_context io;
  Pair pair(io);
  IoStatus status = IoStatus::kOk;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Stream stream(std::move(pair.socket));
        stream.SetDeadline(Clock::now() - milliseconds(1));
        status = co_await stream.Fill();
      },
      asio::detached);
  auto start = Clock::now();
  io.run();
  EXPECT_EQ(status, IoStatus::kTimeout);
  EXPECT_LT(Clock::now() - start, milliseconds(100));
}

}  // namespace
}  // namespace mailsift::net
