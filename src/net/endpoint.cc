#include "net/endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace mailsift::net {

std::string Endpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return fmt::format("[{}]:{}", host, port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint endpoint;
  if (text.starts_with("unix:")) {
    endpoint.kind = Endpoint::Kind::kUnix;
    endpoint.path = std::string(text.substr(5));
    if (endpoint.path.empty() || endpoint.path.front() != '/') {
      return Fail(fmt::format("\"{}\": a unix socket needs an absolute path (unix:/path)", text));
    }
    if (endpoint.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Fail(fmt::format("\"{}\": unix socket path too long", text));
    }
    return endpoint;
  }
  std::string_view port_text;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Fail(fmt::format("\"{}\": expected [address]:port", text));
    }
    endpoint.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Fail(fmt::format("\"{}\": expected host:port, [v6]:port or unix:/path", text));
    }
    endpoint.host = std::string(text.substr(0, colon));
    if (endpoint.host.find(':') != std::string::npos) {
      return Fail(fmt::format("\"{}\": write IPv6 addresses in brackets: [::1]:port", text));
    }
    port_text = text.substr(colon + 1);
  }
  auto port = ParseUnsigned(port_text);
  if (!port || *port == 0 || *port > 65535) {
    return Fail(fmt::format("\"{}\": port must be a number from 1 to 65535", text));
  }
  endpoint.port = static_cast<uint16_t>(*port);
  if (endpoint.host.empty()) return Fail(fmt::format("\"{}\": missing host", text));
  return endpoint;
}

Result<Network> Network::Parse(std::string_view text) {
  Network network;
  std::string address(text);
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    auto value = ParseUnsigned(text.substr(slash + 1));
    if (!value) return Fail(fmt::format("\"{}\": bad prefix length", text));
    prefix = static_cast<int>(*value);
    address = std::string(text.substr(0, slash));
  }
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (inet_pton(AF_INET, address.c_str(), network.bytes_) == 1) {
    network.family_ = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return Fail(fmt::format("\"{}\": IPv4 prefix must be 0..32", text));
  } else if (inet_pton(AF_INET6, address.c_str(), network.bytes_) == 1) {
    network.family_ = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return Fail(fmt::format("\"{}\": IPv6 prefix must be 0..128", text));
  } else {
    return Fail(fmt::format("\"{}\": not an IP address or network", text));
  }
  network.prefix_ = prefix;
  return network;
}

namespace {
bool PrefixMatches(const uint8_t* a, const uint8_t* b, int prefix) {
  int full = prefix / 8;
  if (std::memcmp(a, b, static_cast<size_t>(full)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}
}  // namespace

bool Network::Contains(const sockaddr_storage& address) const {
  if (address.ss_family == AF_INET) {
    if (family_ != AF_INET) return false;
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    return PrefixMatches(reinterpret_cast<const uint8_t*>(&in.sin_addr), bytes_, prefix_);
  }
  if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    const uint8_t* raw = reinterpret_cast<const uint8_t*>(&in6.sin6_addr);
    if (family_ == AF_INET6) return PrefixMatches(raw, bytes_, prefix_);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) return PrefixMatches(raw + 12, bytes_, prefix_);
  }
  return false;
}

bool Network::Contains(std::string_view address_text) const {
  auto parsed = Parse(address_text);
  if (!parsed) return false;
  sockaddr_storage storage{};
  if (parsed->family_ == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(storage);
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, parsed->bytes_, 4);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(storage);
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_addr, parsed->bytes_, 16);
  }
  return Contains(storage);
}

std::string Network::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_, bytes_, text, sizeof text);
  return fmt::format("{}/{}", text, prefix_);
}

bool AnyNetworkContains(const std::vector<Network>& networks, const sockaddr_storage& address) {
  if (address.ss_family == AF_UNIX) return true;  // local IPC is always allowed
  for (const auto& network : networks) {
    if (network.Contains(address)) return true;
  }
  return false;
}

Result<int> OpenListener(const Endpoint& endpoint, int backlog) {
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Fail(fmt::format("socket: {}", std::strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, endpoint.path.c_str(), sizeof(addr.sun_path) - 1);
    // A live server at the path is never stolen; a stale socket file is replaced.
    struct stat st {};
    if (::lstat(endpoint.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        ::close(fd);
        return Fail(fmt::format("cannot listen on {}: the path exists and is not a socket",
                                endpoint.ToString()));
      }
      int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      ::close(probe);
      if (live) {
        ::close(fd);
        return Fail(fmt::format("cannot listen on {}: another server is listening there",
                                endpoint.ToString()));
      }
    }
    // Bind a temporary name, then rename() it over the path: the path never disappears, so a
    // client never sees ENOENT between an old socket and this one.
    std::string temporary = fmt::format("{}.{}.tmp", endpoint.path, ::getpid());
    sockaddr_un temp_addr{};
    temp_addr.sun_family = AF_UNIX;
    if (temporary.size() >= sizeof(temp_addr.sun_path)) {
      ::close(fd);
      return Fail(fmt::format("cannot listen on {}: path too long", endpoint.ToString()));
    }
    std::strncpy(temp_addr.sun_path, temporary.c_str(), sizeof(temp_addr.sun_path) - 1);
    ::unlink(temporary.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&temp_addr), sizeof temp_addr) != 0 ||
        ::listen(fd, backlog) != 0 || ::rename(temporary.c_str(), endpoint.path.c_str()) != 0) {
      int err = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return Fail(fmt::format("cannot listen on {}: {}", endpoint.ToString(), std::strerror(err)));
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Fail(fmt::format("cannot resolve {}: {}", endpoint.ToString(), gai_strerror(rc)));
  }
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    return Fail(fmt::format("socket: {}", std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (found->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  int rc = ::bind(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0 || ::listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    return Fail(fmt::format("cannot listen on {}: {}", endpoint.ToString(), std::strerror(err)));
  }
  return fd;
}

std::string AddressText(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      inet_ntop(AF_INET, reinterpret_cast<const uint8_t*>(&in6.sin6_addr) + 12, text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    }
  }
  return text;
}

uint16_t AddressPort(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return 0;
}

}  // namespace mailsift::net
