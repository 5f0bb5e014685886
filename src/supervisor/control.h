// supervisor/control.h — the supervisor's control socket: the Unix socket ([control] socket,
// mode socket_mode) on which `mailsift reload|status|stop|upgrade` ask, one request line per
// connection, and read one answer: "ok <text>" or "error <text>", after which the supervisor
// closes the connection (`stop`: it closes as it exits, with no answer to a client that went).
//
// Requests (FormatRequest, ParseRequest): "reload", "status", "status json", "stop",
// "stop fast", "upgrade". Anything else is answered kUnknownRequest.
// Thread-safety: pure functions, plus blocking I/O on fds the caller owns; ReadRequest waits
// at most kRequestTimeout.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace mailsift::supervisor {

enum class Request { kReload, kStatus, kStatusJson, kStop, kStopFast, kUpgrade };

inline constexpr std::string_view kUnknownRequest =
    "error unknown request; use reload, status, status json, stop, stop fast or upgrade";
inline constexpr std::chrono::seconds kRequestTimeout{2};
inline constexpr size_t kMaxRequestLine = 200;

std::string_view FormatRequest(Request request);
// The request on `line` (without its line end); nullopt for anything else.
std::optional<Request> ParseRequest(std::string_view line);

// Binds the control socket at `path` (its directory made if missing), owner-only while it is
// bound, then `mode`. The error names control.socket.
Result<int> OpenControlSocket(const std::string& path, int mode);

// Accepts one client on `control_fd` and reads its request line (at most kMaxRequestLine bytes,
// a CR before the LF dropped), waiting at most kRequestTimeout. nullopt when accept fails.
struct ControlClient {
  int fd = -1;
  std::string line;
};
std::optional<ControlClient> AcceptControlClient(int control_fd);

// Writes `text` as one line to `client` (nothing when it is -1: the request came from a
// signal), then closes it unless `close_after` is false.
void Answer(int client, const std::string& text, bool close_after = true);

}  // namespace mailsift::supervisor
