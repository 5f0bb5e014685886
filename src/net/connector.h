// net/connector.h — opens a client connection to an Endpoint ("host:port", "[v6]:port" or
// "unix:/path"): the one connect logic behind the clamd client (scan/virus_check.cc) and the
// next-hop client (smtp/relay_client.cc).
//
// A name is resolved at connect time, not at config load, so that a next hop or clamd that
// changes address is followed without a reload and a name that does not resolve at start-up
// fails one message, not the start. Every resolved address is tried in turn (a "localhost"
// that gives ::1 first, where nothing listens, then 127.0.0.1) until one accepts; a timeout
// ends the attempt, since the deadline covers them all. The error names what failed and why:
// "connect: Connection refused", "connect: timed out", "resolve clamd.example: Name or service
// not known"; Describe() puts the endpoint in front.
//
// Two forms, one per threading model:
//   ConnectBlocking  for threads that may block (the scan pool: VirusCheck::Run and Ping).
//                    getaddrinfo() blocks without a deadline (it has none); a numeric host, or
//                    a name /etc/hosts answers, costs nothing. Waits with poll().
//   ConnectStream    a coroutine for an io_context thread (the SMTP sessions' relay). It never
//                    blocks the thread: a numeric host is parsed in place, a name goes to
//                    asio's resolver (getaddrinfo on asio's private resolver thread) and is
//                    given up at the deadline; the connect waits with async_wait under the
//                    Stream's deadline (net/stream.h).
// TCP connections get TCP_NODELAY (both clients write in batches and want the tail sent).
//
// Thread-safety: free functions with no shared state; reentrant.
#pragma once

#include <sys/socket.h>

#include <asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "base/fd.h"
#include "net/endpoint.h"
#include "net/stream.h"

namespace mailsift::net {

struct ConnectError {
  enum class Kind {
    kUnavailable,  // refused, no such socket file, name does not resolve: nobody is there
    kTimeout,      // the deadline passed
    kError,        // a local failure (socket(), poll())
  };
  Kind kind = Kind::kUnavailable;
  std::string text;  // "connect: Connection refused"
};

// "unavailable", "timeout", "error".
std::string_view KindWord(ConnectError::Kind kind);
// "[127.0.0.1]:3310: connect: Connection refused".
std::string Describe(const Endpoint& endpoint, const ConnectError& error);

// One address to connect to, as getaddrinfo() gives it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// A connected, non-blocking, close-on-exec socket, or why not, before `deadline`. Blocks.
tl::expected<UniqueFd, ConnectError> ConnectBlocking(const Endpoint& endpoint, Deadline deadline);

// Connects `stream`'s socket (closed; opened here) to `endpoint` before stream.deadline().
// nullopt on success. Run on the stream's io_context thread.
asio::awaitable<std::optional<ConnectError>> ConnectStream(Stream& stream,
                                                           const Endpoint& endpoint);

// The same after resolution: tries `addresses` in turn (what the two above do once they have
// resolved the endpoint; public so that tests can give a list no resolver would).
tl::expected<UniqueFd, ConnectError> ConnectBlocking(const std::vector<SocketAddress>& addresses,
                                                     Deadline deadline);
asio::awaitable<std::optional<ConnectError>> ConnectStream(
    Stream& stream, const std::vector<SocketAddress>& addresses);

}  // namespace mailsift::net
