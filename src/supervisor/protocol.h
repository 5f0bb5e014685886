// supervisor/protocol.h — what the supervisor and a generation say to each other, and how a
// generation finds its listening sockets.
//
// A generation is started by fork+exec with its listening sockets as fds 3.. and the standard
// LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID variables (so systemd socket activation and the
// supervisor use one path), plus MAILSIFT_CONTROL_FD: one end of a socketpair on which both
// sides write lines:
//   generation → supervisor:  "READY"  |  "FAILED <reason>"  |  "STATUS k=v k=v ..."
//   supervisor → generation:  "DRAIN"  |  "STATUS"
// A generation that sees EOF on the channel (the supervisor is gone) drains and exits.
// Thread-safety: pure functions, plus blocking I/O on fds the caller owns.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace mailsift::supervisor {

inline constexpr std::string_view kControlFdVariable = "MAILSIFT_CONTROL_FD";

struct NamedFd {
  std::string name;
  int fd = -1;
};

// The listening fds passed by LISTEN_FDS (from the supervisor or systemd), with their names.
// Clears the variables so children do not inherit them. Empty when none were passed.
std::vector<NamedFd> TakeListenFds();

// Writes one line (adds "\n"); false if the peer is gone.
bool WriteLine(int fd, std::string_view line);

// Splits complete lines off `buffer` (which keeps any partial line).
std::vector<std::string> TakeLines(std::string& buffer);

// "STATUS active=1 sessions=20" → {active: 1, sessions: 20}.
std::map<std::string, long long> ParseStatus(std::string_view line);

}  // namespace mailsift::supervisor
