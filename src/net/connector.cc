// net/connector.cc — see connector.h.
#include "net/connector.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

namespace mailsift::net {
namespace {

using Kind = ConnectError::Kind;

// How long to wait before retrying a Unix socket whose listen queue is full (connect() gives
// EAGAIN there instead of waiting).
constexpr std::chrono::milliseconds kFullQueueRetry{10};

using Addresses = tl::expected<std::vector<SocketAddress>, ConnectError>;

tl::unexpected<ConnectError> Trouble(Kind kind, std::string text) {
  return tl::unexpected<ConnectError>(ConnectError{kind, std::move(text)});
}

std::string ErrnoText(int error) { return std::generic_category().message(error); }

Addresses UnixAddress(const std::string& path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  un->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof un->sun_path) {
    return Trouble(Kind::kUnavailable, "connect: socket path empty or too long");
  }
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length = sizeof(sockaddr_un);
  return std::vector<SocketAddress>{address};
}

Addresses ResolveBlocking(const Endpoint& endpoint) {
  if (endpoint.kind == Endpoint::Kind::kUnix) return UnixAddress(endpoint.path);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(endpoint.port);
  int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return Trouble(Kind::kUnavailable,
                   fmt::format("resolve {}: {}", endpoint.host, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  std::vector<SocketAddress> addresses;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    SocketAddress address;
    address.length = std::min<socklen_t>(ai->ai_addrlen, sizeof address.storage);
    std::memcpy(&address.storage, ai->ai_addr, address.length);
    addresses.push_back(address);
  }
  return addresses;
}

// An asio endpoint as an SocketAddress.
template <typename AsioEndpoint>
SocketAddress AddressOf(const AsioEndpoint& endpoint) {
  SocketAddress address;
  address.length = std::min<socklen_t>(endpoint.size(), sizeof address.storage);
  std::memcpy(&address.storage, endpoint.data(), address.length);
  return address;
}

// Resolves without blocking the thread; gives up at `deadline`.
asio::awaitable<Addresses> ResolveAsync(asio::any_io_executor executor, const Endpoint& endpoint,
                                        Deadline deadline) {
  if (endpoint.kind == Endpoint::Kind::kUnix) co_return UnixAddress(endpoint.path);
  asio::error_code ec;
  asio::ip::address numeric = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    co_return std::vector<SocketAddress>{
        AddressOf(asio::ip::tcp::endpoint(numeric, endpoint.port))};
  }
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor);
  asio::steady_timer timer(executor, deadline);
  timer.async_wait([weak = std::weak_ptr(resolver)](asio::error_code timer_ec) {
    if (auto alive = weak.lock(); alive && !timer_ec) alive->cancel();
  });
  auto [resolve_ec, results] = co_await resolver->async_resolve(
      endpoint.host, std::to_string(endpoint.port), asio::ip::resolver_base::numeric_service,
      asio::experimental::as_tuple(asio::use_awaitable));
  timer.cancel();
  if (resolve_ec) {
    if (Clock::now() >= deadline) co_return Trouble(Kind::kTimeout, "resolve: timed out");
    co_return Trouble(Kind::kUnavailable,
                      fmt::format("resolve {}: {}", endpoint.host, resolve_ec.message()));
  }
  std::vector<SocketAddress> addresses;
  for (const auto& entry : results) addresses.push_back(AddressOf(entry.endpoint()));
  co_return addresses;
}

// One connect() attempt on a new non-blocking socket.
struct Attempt {
  enum class State { kConnected, kInProgress, kQueueFull, kFailed } state = State::kFailed;
  int fd = -1;  // owned by the caller in kConnected and kInProgress; closed otherwise
  ConnectError error;
};

Attempt StartConnect(const SocketAddress& address) {
  Attempt attempt;
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    attempt.error = {Kind::kError, "socket: " + ErrnoText(errno)};
    return attempt;
  }
  for (;;) {
    if (::connect(fd, address.get(), address.length) == 0) {
      attempt.state = Attempt::State::kConnected;
      break;
    }
    int error = errno;
    if (error == EINTR) continue;
    if (error == EINPROGRESS) {
      attempt.state = Attempt::State::kInProgress;
      break;
    }
    ::close(fd);
    fd = -1;
    if (error == EAGAIN && address.family() == AF_UNIX) {
      attempt.state = Attempt::State::kQueueFull;
      attempt.error = {Kind::kTimeout, "connect: listen queue full, timed out"};
    } else {
      attempt.error = {Kind::kUnavailable, "connect: " + ErrnoText(error)};
    }
    break;
  }
  attempt.fd = fd;
  return attempt;
}

// After the socket of an in-progress connect became writable: did it connect?
std::optional<ConnectError> FinishConnect(int fd) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error != 0) return ConnectError{Kind::kUnavailable, "connect: " + ErrnoText(error)};
  return std::nullopt;
}

void SetNoDelay(int fd, int family) {
  if (family == AF_UNIX) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

ConnectError TimedOut() { return ConnectError{Kind::kTimeout, "connect: timed out"}; }

// Waits for `fd` to become writable before `deadline`.
std::optional<ConnectError> PollWritable(int fd, Deadline deadline) {
  for (;;) {
    Deadline now = Clock::now();
    if (now >= deadline) return TimedOut();
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (n > 0) return std::nullopt;
    if (n < 0 && errno != EINTR)
      return ConnectError{Kind::kError, "connect: poll: " + ErrnoText(errno)};
  }
}

tl::expected<UniqueFd, ConnectError> ConnectOneBlocking(const SocketAddress& address,
                                                        Deadline deadline) {
  for (;;) {
    Attempt attempt = StartConnect(address);
    UniqueFd fd(attempt.fd);
    switch (attempt.state) {
      case Attempt::State::kConnected:
        return fd;
      case Attempt::State::kFailed:
        return tl::unexpected(std::move(attempt.error));
      case Attempt::State::kQueueFull:
        if (Clock::now() + kFullQueueRetry >= deadline) {
          return tl::unexpected(std::move(attempt.error));
        }
        ::poll(nullptr, 0, static_cast<int>(kFullQueueRetry.count()));
        continue;
      case Attempt::State::kInProgress:
        if (auto error = PollWritable(fd.get(), deadline)) return tl::unexpected(std::move(*error));
        if (auto error = FinishConnect(fd.get())) return tl::unexpected(std::move(*error));
        return fd;
    }
  }
}

asio::awaitable<std::optional<ConnectError>> ConnectOneAsync(Stream& stream,
                                                             const SocketAddress& address) {
  Socket& socket = stream.socket();
  for (;;) {
    if (Clock::now() >= stream.deadline()) co_return TimedOut();
    Attempt attempt = StartConnect(address);
    if (attempt.state == Attempt::State::kFailed) co_return std::move(attempt.error);
    if (attempt.state == Attempt::State::kQueueFull) {
      if (Clock::now() + kFullQueueRetry >= stream.deadline()) co_return std::move(attempt.error);
      asio::steady_timer pause(socket.get_executor(), kFullQueueRetry);
      co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      continue;
    }
    if (!AdoptAccepted(socket, address.family(), attempt.fd)) {
      co_return ConnectError{Kind::kError, "connect: cannot register socket"};
    }
    if (attempt.state == Attempt::State::kConnected) co_return std::nullopt;
    // The stream's deadline sweep cancels this wait when the deadline passes.
    auto [ec] = co_await socket.async_wait(Socket::wait_write,
                                           asio::experimental::as_tuple(asio::use_awaitable));
    if (ec || Clock::now() >= stream.deadline()) {
      socket.close(ec);
      co_return TimedOut();
    }
    if (auto error = FinishConnect(socket.native_handle())) {
      socket.close(ec);
      co_return error;
    }
    co_return std::nullopt;
  }
}

}  // namespace

std::string_view KindWord(ConnectError::Kind kind) {
  switch (kind) {
    case Kind::kUnavailable:
      return "unavailable";
    case Kind::kTimeout:
      return "timeout";
    case Kind::kError:
      return "error";
  }
  return "error";
}

std::string Describe(const Endpoint& endpoint, const ConnectError& error) {
  return fmt::format("{}: {}", endpoint.ToString(), error.text);
}

tl::expected<UniqueFd, ConnectError> ConnectBlocking(const Endpoint& endpoint, Deadline deadline) {
  Addresses addresses = ResolveBlocking(endpoint);
  if (!addresses) return tl::unexpected(std::move(addresses.error()));
  return ConnectBlocking(*addresses, deadline);
}

tl::expected<UniqueFd, ConnectError> ConnectBlocking(const std::vector<SocketAddress>& addresses,
                                                     Deadline deadline) {
  ConnectError last{Kind::kUnavailable, "connect: no address"};
  for (const SocketAddress& address : addresses) {
    auto fd = ConnectOneBlocking(address, deadline);
    if (fd) {
      SetNoDelay(fd->get(), address.family());
      return fd;
    }
    last = std::move(fd.error());
    if (last.kind == Kind::kTimeout) break;
  }
  return tl::unexpected(std::move(last));
}

asio::awaitable<std::optional<ConnectError>> ConnectStream(Stream& stream,
                                                           const Endpoint& endpoint) {
  Addresses addresses =
      co_await ResolveAsync(stream.socket().get_executor(), endpoint, stream.deadline());
  if (!addresses) co_return std::move(addresses.error());
  co_return co_await ConnectStream(stream, *addresses);
}

asio::awaitable<std::optional<ConnectError>> ConnectStream(
    Stream& stream, const std::vector<SocketAddress>& addresses) {
  ConnectError last{Kind::kUnavailable, "connect: no address"};
  for (const SocketAddress& address : addresses) {
    std::optional<ConnectError> error = co_await ConnectOneAsync(stream, address);
    if (!error) {
      SetNoDelay(stream.socket().native_handle(), address.family());
      co_return std::nullopt;
    }
    last = std::move(*error);
    if (last.kind == Kind::kTimeout) break;
  }
  co_return last;
}

}  // namespace mailsift::net
