// net/endpoint.h — socket addresses as the config writes them, client networks, and listening
// sockets as plain file descriptors (so a supervisor can own and pass them on).
//
// Endpoint syntax: "host:port" (IPv4 literal or name), "[v6]:port", "unix:/path".
// Network syntax: "127.0.0.0/8", "::1/128", or a bare address (a /32 or /128).
// Functions are pure except OpenListener, which creates a socket. Thread-safe.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace mailsift::net {

struct Endpoint {
  enum class Kind { kInet, kUnix };
  Kind kind = Kind::kInet;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string path;  // for kUnix

  // The text form used in logs and replies: "[127.0.0.1]:10025" or "unix:/path".
  std::string ToString() const;
  bool operator==(const Endpoint&) const = default;
};

Result<Endpoint> ParseEndpoint(std::string_view text);

// An IPv4 or IPv6 network with prefix length. IPv4-mapped IPv6 client addresses match IPv4
// networks.
class Network {
 public:
  static Result<Network> Parse(std::string_view text);
  bool Contains(const sockaddr_storage& address) const;
  bool Contains(std::string_view address_text) const;
  std::string ToString() const;

 private:
  int family_ = AF_INET;
  uint8_t bytes_[16] = {};
  int prefix_ = 0;
};

bool AnyNetworkContains(const std::vector<Network>& networks, const sockaddr_storage& address);

// Creates, binds and listens a non-blocking, close-on-exec stream socket. For Unix paths an
// existing stale socket file is replaced. Returns the fd.
Result<int> OpenListener(const Endpoint& endpoint, int backlog);

// The numeric address ("127.0.0.1", "::1") and port of a socket address; "" for Unix.
std::string AddressText(const sockaddr_storage& address);
uint16_t AddressPort(const sockaddr_storage& address);

}  // namespace mailsift::net
