// supervisor/protocol.cc — see protocol.h.
#include "supervisor/protocol.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/strings.h"

namespace mailsift::supervisor {
namespace {

struct Keyword {
  MessageType type;
  std::string_view word;
  bool takes_text;
};

constexpr Keyword kKeywords[] = {
    {MessageType::kReady, "READY", false},
    {MessageType::kFailed, "FAILED", true},
    {MessageType::kStatus, "STATUS", true},
    {MessageType::kRules, "RULES", true},
    {MessageType::kStoppedAccepting, "STOPPED_ACCEPTING", false},
    {MessageType::kDrain, "DRAIN", false},
};

}  // namespace

std::string FormatMessage(const Message& message) {
  for (const Keyword& k : kKeywords) {
    if (k.type != message.type) continue;
    std::string line(k.word);
    if (k.takes_text && !message.text.empty()) line += " " + message.text;
    return line;
  }
  return {};
}

std::optional<Message> ParseMessage(std::string_view line) {
  size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  std::string_view text = space == std::string_view::npos ? "" : line.substr(space + 1);
  for (const Keyword& k : kKeywords) {
    if (k.word != word) continue;
    if (!k.takes_text && space != std::string_view::npos) return std::nullopt;
    if (k.type == MessageType::kRules && space == std::string_view::npos) return std::nullopt;
    return Message{k.type, std::string(text)};
  }
  return std::nullopt;
}

std::vector<NamedFd> TakeListenFds() {
  std::vector<NamedFd> result;
  char** names = nullptr;
  int count = sd_listen_fds_with_names(1, &names);
  if (count <= 0) return result;
  for (int i = 0; i < count; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    result.push_back({names && names[i] ? names[i] : "", fd});
  }
  if (names) {
    for (int i = 0; i < count; ++i) std::free(names[i]);
    std::free(names);
  }
  return result;
}

bool WriteLine(int fd, std::string_view line) {
  std::string data(line);
  data += '\n';
  size_t sent = 0;
  while (sent < data.size()) {
    // write(), not send(): the fd may be a pipe (`start`'s readiness report). Both sides
    // ignore SIGPIPE.
    ssize_t n = ::write(fd, data.data() + sent, data.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      ::usleep(1000);
      continue;
    }
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::vector<std::string> TakeLines(std::string& buffer) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t newline = buffer.find('\n', start);
    if (newline == std::string::npos) break;
    lines.push_back(buffer.substr(start, newline - start));
    start = newline + 1;
  }
  buffer.erase(0, start);
  return lines;
}

std::map<std::string, long long> ParseStatus(std::string_view line) {
  std::map<std::string, long long> values;
  for (std::string_view word : SplitSpaces(line)) {
    size_t equals = word.find('=');
    if (equals == std::string_view::npos) continue;
    auto number = ParseUnsigned(word.substr(equals + 1));
    if (number) values[std::string(word.substr(0, equals))] = static_cast<long long>(*number);
  }
  return values;
}

}  // namespace mailsift::supervisor
