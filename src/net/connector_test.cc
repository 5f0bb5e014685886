#include "net/connector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"

namespace mailsift::net {
namespace {

using std::chrono::milliseconds;

// A TCP socket bound to a loopback port chosen by the kernel; listening or not (a bound port
// without listen() refuses connections).
struct LoopbackPort {
  LoopbackPort(int family, bool listening, int backlog = 16) {
    fd = UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    address.length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_loopback;
    }
    ok = ::bind(fd.get(), address.get(), address.length) == 0 &&
         ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address.storage), &address.length) ==
             0 &&
         (!listening || ::listen(fd.get(), backlog) == 0);
  }
  uint16_t port() const { return AddressPort(address.storage); }
  Endpoint endpoint() const {
    return Endpoint{Endpoint::Kind::kInet, AddressText(address.storage), port(), ""};
  }
  UniqueFd fd;
  SocketAddress address;
  bool ok = false;
};

Deadline In(milliseconds ms) { return Clock::now() + ms; }

// Runs ConnectStream on a fresh io_context; returns its result and whether the socket is open.
template <typename Target>
std::optional<ConnectError> ConnectAsync(const Target& target, milliseconds timeout,
                                         bool* open = nullptr) {
  asio::io_context io;
  std::optional<ConnectError> result{ConnectError{ConnectError::Kind::kError, "did not run"}};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Stream stream{Socket(io)};
        stream.SetDeadline(In(timeout));
        result = co_await ConnectStream(stream, target);
        if (open) *open = stream.socket().is_open();
      },
      asio::detached);
  io.run();
  return result;
}

bool Accepts(const LoopbackPort& listener) {
  UniqueFd peer(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  return peer.valid();
}

TEST(Connector, ConnectsToAListeningLoopbackPort) {
  LoopbackPort listener(AF_INET, true);
  ASSERT_TRUE(listener.ok);
  auto fd = ConnectBlocking(listener.endpoint(), In(milliseconds(2000)));
  ASSERT_TRUE(fd) << fd.error().text;
  EXPECT_TRUE(Accepts(listener));
  bool open = false;
  EXPECT_EQ(ConnectAsync(listener.endpoint(), milliseconds(2000), &open), std::nullopt);
  EXPECT_TRUE(open);
  EXPECT_TRUE(Accepts(listener));
}

TEST(Connector, RefusedPortIsUnavailableAndNamed) {
  LoopbackPort closed(AF_INET, false);
  ASSERT_TRUE(closed.ok);
  auto fd = ConnectBlocking(closed.endpoint(), In(milliseconds(2000)));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().kind, ConnectError::Kind::kUnavailable);
  EXPECT_EQ(fd.error().text, "connect: Connection refused");
  EXPECT_EQ(Describe(closed.endpoint(), fd.error()),
            "[127.0.0.1]:" + std::to_string(closed.port()) + ": connect: Connection refused");
  EXPECT_EQ(KindWord(fd.error().kind), "unavailable");
  auto async = ConnectAsync(closed.endpoint(), milliseconds(2000));
  ASSERT_TRUE(async);
  EXPECT_EQ(async->kind, ConnectError::Kind::kUnavailable);
  EXPECT_EQ(async->text, "connect: Connection refused");
}

TEST(Connector, TriesTheNextAddressWhenTheFirstRefuses) {
  LoopbackPort refusing(AF_INET, false);
  LoopbackPort listener(AF_INET, true);
  ASSERT_TRUE(refusing.ok && listener.ok);
  std::vector<SocketAddress> both{refusing.address, listener.address};
  auto fd = ConnectBlocking(both, In(milliseconds(2000)));
  ASSERT_TRUE(fd) << fd.error().text;
  EXPECT_TRUE(Accepts(listener));
  EXPECT_EQ(ConnectAsync(both, milliseconds(2000)), std::nullopt);
  EXPECT_TRUE(Accepts(listener));
  // All refuse: the last reason is reported.
  std::vector<SocketAddress> none{refusing.address, refusing.address};
  auto refused = ConnectBlocking(none, In(milliseconds(2000)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().text, "connect: Connection refused");
}

// "localhost" as the resolver gives it: where it names ::1 and 127.0.0.1, whichever comes
// first refuses and the other listens.
TEST(Connector, LocalhostWithSeveralAddressesFallsBack) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  ASSERT_EQ(::getaddrinfo("localhost", "1", &hints, &found), 0);
  std::vector<int> families;
  for (addrinfo* ai = found; ai; ai = ai->ai_next) families.push_back(ai->ai_family);
  ::freeaddrinfo(found);
  if (families.size() < 2 || families[0] == families[1]) {
    GTEST_SKIP() << "localhost resolves to one address here (/etc/hosts)";
  }
  LoopbackPort listener(families[1], true);
  ASSERT_TRUE(listener.ok);
  Endpoint localhost{Endpoint::Kind::kInet, "localhost", listener.port(), ""};
  auto fd = ConnectBlocking(localhost, In(milliseconds(2000)));
  ASSERT_TRUE(fd) << fd.error().text;
  EXPECT_TRUE(Accepts(listener));
  EXPECT_EQ(ConnectAsync(localhost, milliseconds(2000)), std::nullopt);
  EXPECT_TRUE(Accepts(listener));
}

TEST(Connector, NameThatDoesNotResolveIsUnavailable) {
  Endpoint nowhere{Endpoint::Kind::kInet, "no-such-host.invalid", 25, ""};
  auto fd = ConnectBlocking(nowhere, In(milliseconds(5000)));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().text.rfind("resolve no-such-host.invalid: ", 0), 0u) << fd.error().text;
  auto async = ConnectAsync(nowhere, milliseconds(5000));
  ASSERT_TRUE(async);
  EXPECT_EQ(async->text.rfind("resolve no-such-host.invalid: ", 0), 0u) << async->text;
}

TEST(Connector, UnixSocket) {
  std::string path = ::testing::TempDir() + "connector_test." + std::to_string(::getpid());
  Endpoint endpoint{Endpoint::Kind::kUnix, "", 0, path};
  auto listener = OpenListener(endpoint, 4);
  ASSERT_TRUE(listener) << listener.error().message;
  UniqueFd listening(*listener);
  auto fd = ConnectBlocking(endpoint, In(milliseconds(2000)));
  ASSERT_TRUE(fd) << fd.error().text;
  EXPECT_EQ(ConnectAsync(endpoint, milliseconds(2000)), std::nullopt);
  ::unlink(path.c_str());
  auto gone = ConnectBlocking(endpoint, In(milliseconds(2000)));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().text, "connect: No such file or directory");
  EXPECT_EQ(Describe(endpoint, gone.error()),
            "unix:" + path + ": connect: No such file or directory");
  auto async = ConnectAsync(endpoint, milliseconds(2000));
  ASSERT_TRUE(async);
  EXPECT_EQ(async->text, "connect: No such file or directory");
}

// A TCP listener whose accept queue is full drops further SYNs: the connect waits for its
// deadline. Fill the queue with connections nobody accepts, then expect a timeout.
TEST(Connector, DeadlinePassesOnAListenerThatDoesNotAnswer) {
  LoopbackPort listener(AF_INET, true, 0);
  ASSERT_TRUE(listener.ok);
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 8; ++i) {
    auto fd = ConnectBlocking(listener.endpoint(), In(milliseconds(200)));
    if (!fd) break;
    queued.push_back(std::move(*fd));
  }
  auto start = Clock::now();
  auto fd = ConnectBlocking(listener.endpoint(), In(milliseconds(300)));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().kind, ConnectError::Kind::kTimeout);
  EXPECT_EQ(fd.error().text, "connect: timed out");
  EXPECT_GE(Clock::now() - start, milliseconds(290));
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  start = Clock::now();
  auto async = ConnectAsync(listener.endpoint(), milliseconds(300));
  ASSERT_TRUE(async);
  EXPECT_EQ(async->kind, ConnectError::Kind::kTimeout);
  EXPECT_LT(Clock::now() - start, milliseconds(300) + kDeadlineGranularity * 3);
}

// A Unix listener with a full queue answers a non-blocking connect with EAGAIN; the connector
// retries until its deadline.
TEST(Connector, DeadlinePassesOnAFullUnixQueue) {
  std::string path = ::testing::TempDir() + "connector_full." + std::to_string(::getpid());
  Endpoint endpoint{Endpoint::Kind::kUnix, "", 0, path};
  auto listener = OpenListener(endpoint, 0);
  ASSERT_TRUE(listener) << listener.error().message;
  UniqueFd listening(*listener);
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 8; ++i) {
    auto fd = ConnectBlocking(endpoint, In(milliseconds(50)));
    if (!fd) break;
    queued.push_back(std::move(*fd));
  }
  auto fd = ConnectBlocking(endpoint, In(milliseconds(200)));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().kind, ConnectError::Kind::kTimeout);
  auto async = ConnectAsync(endpoint, milliseconds(200));
  ASSERT_TRUE(async);
  EXPECT_EQ(async->kind, ConnectError::Kind::kTimeout);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace mailsift::net
