// supervisor/control.cc — see control.h.
#include "supervisor/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>

#include "net/endpoint.h"
#include "supervisor/protocol.h"

namespace mailsift::supervisor {
namespace {

struct RequestWord {
  Request request;
  std::string_view line;
};

constexpr RequestWord kRequests[] = {
    {Request::kReload, "reload"},          {Request::kStatus, "status"},
    {Request::kStatusJson, "status json"}, {Request::kStop, "stop"},
    {Request::kStopFast, "stop fast"},     {Request::kUpgrade, "upgrade"},
};

}  // namespace

std::string_view FormatRequest(Request request) {
  for (const RequestWord& r : kRequests) {
    if (r.request == request) return r.line;
  }
  return {};
}

std::optional<Request> ParseRequest(std::string_view line) {
  for (const RequestWord& r : kRequests) {
    if (r.line == line) return r.request;
  }
  return std::nullopt;
}

Result<int> OpenControlSocket(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  auto endpoint = net::ParseEndpoint("unix:" + path);
  if (!endpoint) return Fail("control.socket: " + endpoint.error().message);
  mode_t old_mask = ::umask(0177);
  auto fd = net::OpenListener(*endpoint, 16);
  ::umask(old_mask);
  if (!fd) return Fail("control.socket: " + fd.error().message);
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
  return *fd;
}

std::optional<ControlClient> AcceptControlClient(int control_fd) {
  int client = ::accept4(control_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return std::nullopt;
  timeval timeout{kRequestTimeout.count(), 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string line;
  char c;
  while (line.size() < kMaxRequestLine && ::recv(client, &c, 1, 0) == 1 && c != '\n') {
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return ControlClient{client, std::move(line)};
}

void Answer(int client, const std::string& text, bool close_after) {
  if (client < 0) return;
  WriteLine(client, text);
  if (close_after) ::close(client);
}

}  // namespace mailsift::supervisor
