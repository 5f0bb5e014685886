// supervisor/protocol.h — what the supervisor and a generation say to each other, and how a
// generation finds its listening sockets.
//
// A generation is started by fork+exec with its listening sockets as fds 3.. and the standard
// LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID variables (so systemd socket activation and the
// supervisor use one path), plus MAILSIFT_CONTROL_FD: one end of a socketpair on which both
// sides write lines, one Message each (FormatMessage, ParseMessage):
//   generation → supervisor:  "RULES <digest>"     its ruleset's digest, before READY (none
//                                                  when spam checks are off)
//                             "READY"              serving: the old generation may drain
//                             "FAILED <reason>"    it cannot serve; it exits
//                             "STATUS k=v k=v ..." its counters (smtp::StatusFields), when asked
//                                                  and once more as it exits
//                             "STOPPED_ACCEPTING"  after DRAIN, once no thread of it accepts
//                                                  any more (each closed its copy of the
//                                                  listening sockets)
//   supervisor → generation:  "DRAIN"              stop accepting, finish, exit
//                             "STATUS"             asks for a STATUS line
// A generation that sees EOF on the channel (the supervisor is gone) drains and exits.
// Thread-safety: pure functions, plus blocking I/O on fds the caller owns.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace mailsift::supervisor {

inline constexpr std::string_view kControlFdVariable = "MAILSIFT_CONTROL_FD";

struct NamedFd {
  std::string name;
  int fd = -1;
};

// One line of the channel. The keyword is the first word of the line; `text` is the rest after
// one space: FAILED's reason, RULES's digest, STATUS's fields (empty: the question).
enum class MessageType { kReady, kFailed, kStatus, kRules, kStoppedAccepting, kDrain };

struct Message {
  Message() = default;
  Message(MessageType message_type, std::string message_text = {})
      : type(message_type), text(std::move(message_text)) {}
  MessageType type = MessageType::kReady;
  std::string text;
  bool operator==(const Message&) const = default;
};

// "FAILED no such user" for {kFailed, "no such user"}; the keyword alone when `text` is empty.
std::string FormatMessage(const Message& message);

// The message on `line` (without its "\n"); nullopt for a line that is none: an unknown
// keyword, text after READY, DRAIN or STOPPED_ACCEPTING, or RULES without a digest.
std::optional<Message> ParseMessage(std::string_view line);

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
