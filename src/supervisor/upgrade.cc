// supervisor/upgrade.cc — see upgrade.h.
#include "supervisor/upgrade.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace mailsift::supervisor {

std::string UpgradeReadiness() {
  return fmt::format("mailsift supervisor takes over state {}", kStateFormat);
}

std::string FormatUpgradeState(const UpgradeState& s) {
  std::string state =
      fmt::format("{} next={} reloads={} failed={} crashes={} control={} client={}", kStateFormat,
                  s.next_number, s.reloads, s.failed_reloads, s.crashes, s.control_fd, s.client);
  for (const auto& l : s.listeners) {
    state += fmt::format(" L={},{},{}", l.name, l.fd,
                         l.address.kind == net::Endpoint::Kind::kUnix
                             ? "unix:" + l.address.path
                             : l.address.host + "|" + std::to_string(l.address.port));
  }
  // The counters of generations that have exited, so that totals stay monotonic.
  for (const auto& [key, value] : s.finished_totals) state += fmt::format(" T.{}={}", key, value);
  if (s.metrics) {
    state +=
        fmt::format(" M={},{}|{}", s.metrics->fd, s.metrics->address.host, s.metrics->address.port);
  }
  for (const auto& g : s.generations) {
    state += fmt::format(" G={},{},{},{},{}", g.number, g.pid, g.channel, g.state, g.digest);
  }
  return state;
}

UpgradeState ParseUpgradeState(std::string_view text) {
  UpgradeState s;
  for (std::string_view word : SplitSpaces(text)) {
    auto value_of = [&](std::string_view key) -> std::optional<long long> {
      if (!word.starts_with(key)) return std::nullopt;
      auto v = ParseUnsigned(word.substr(key.size()));
      if (!v) {
        if (word.substr(key.size()) == "-1") return -1;
        return std::nullopt;
      }
      return static_cast<long long>(*v);
    };
    if (auto v = value_of("next=")) s.next_number = static_cast<int>(*v);
    if (auto v = value_of("reloads=")) s.reloads = *v;
    if (auto v = value_of("failed=")) s.failed_reloads = *v;
    if (auto v = value_of("crashes=")) s.crashes = *v;
    if (auto v = value_of("control=")) s.control_fd = static_cast<int>(*v);
    if (auto v = value_of("client=")) s.client = static_cast<int>(*v);
    if (word.starts_with("L=")) {
      std::string body(word.substr(2));
      size_t c1 = body.find(','), c2 = body.find(',', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      OwnedListener l;
      l.name = body.substr(0, c1);
      l.fd = std::atoi(body.substr(c1 + 1, c2 - c1 - 1).c_str());
      std::string where = body.substr(c2 + 1);
      if (where.starts_with("unix:")) {
        auto endpoint = net::ParseEndpoint(where);
        if (!endpoint) continue;
        l.address = *endpoint;
      } else {
        size_t bar = where.rfind('|');
        l.address.kind = net::Endpoint::Kind::kInet;
        l.address.host = where.substr(0, bar);
        l.address.port = static_cast<uint16_t>(std::atoi(where.substr(bar + 1).c_str()));
      }
      s.listeners.push_back(l);
    }
    if (size_t equals = word.find('='); word.starts_with("T.") && equals != word.npos) {
      if (auto value = ParseUnsigned(word.substr(equals + 1))) {
        s.finished_totals[std::string(word.substr(2, equals - 2))] = static_cast<long long>(*value);
      }
      continue;
    }
    if (word.starts_with("M=")) {
      std::string body(word.substr(2));
      size_t comma = body.find(','), bar = body.rfind('|');
      if (comma == std::string::npos || bar == std::string::npos || bar < comma) continue;
      MetricsSocket metrics;
      metrics.address.host = body.substr(comma + 1, bar - comma - 1);
      metrics.address.port = static_cast<uint16_t>(std::atoi(body.substr(bar + 1).c_str()));
      metrics.fd = std::atoi(body.substr(0, comma).c_str());
      s.metrics = metrics;
    }
    if (word.starts_with("G=")) {
      std::vector<std::string> parts;
      std::stringstream in{std::string(word.substr(2))};
      for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
      if (parts.size() != 5) continue;
      UpgradeState::Generation g;
      g.number = std::atoi(parts[0].c_str());
      g.pid = std::atoi(parts[1].c_str());
      g.channel = std::atoi(parts[2].c_str());
      g.state = std::atoi(parts[3].c_str());
      g.digest = parts[4];
      s.generations.push_back(g);
    }
  }
  return s;
}

std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("LISTEN_") || entry.starts_with("MAILSIFT_CONTROL_FD=") ||
        entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with(kStateVariable)) {
      continue;  // only the supervisor talks to systemd
    }
    env.emplace_back(entry);
  }
  return env;
}

void Exec(const std::string& program, std::vector<std::string> args, std::vector<std::string> env) {
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execve(program.c_str(), argv.data(), envp.data());
}

Status CheckUpgrade(const std::string& program, const std::string& config_path) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Fail(fmt::format("pipe: {}", std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) {
    std::string reason = fmt::format("fork: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return Fail(reason);
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    Exec(program, {program, "check-upgrade", "--config", config_path}, ChildEnvironment());
    std::string message = fmt::format("cannot execute {}: {}\n", program, std::strerror(errno));
    ssize_t ignored = ::write(1, message.data(), message.size());
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  using Clock = std::chrono::steady_clock;
  std::string output;
  auto until = Clock::now() + kUpgradeCheckTimeout;
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd readable{out[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) == 0) {
      timed_out = true;
      break;
    }
    char chunk[1024];
    ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 16384) output.append(chunk, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  // Reaped here, not by the supervisor's Reap(): it is not a generation.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The last line it wrote: the readiness line, or the reason it cannot take over.
  std::string said;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::string_view trimmed = TrimSpaces(line);
    if (trimmed.ends_with('\r')) trimmed.remove_suffix(1);
    if (!trimmed.empty()) said = std::string(trimmed);
  }
  if (timed_out) {
    return Fail(fmt::format("{} check-upgrade did not answer within {} s", program,
                            kUpgradeCheckTimeout.count()));
  }
  if (WIFSIGNALED(status)) {
    return Fail(fmt::format("{} check-upgrade was killed by signal {}", program,
                            strsignal(WTERMSIG(status))));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(fmt::format("{} check-upgrade exited with status {}{}{}", program,
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1, said.empty() ? "" : ": ",
                            said));
  }
  if (said != UpgradeReadiness()) {
    return Fail(
        fmt::format("{} is not a program that can take over this supervisor (it said "
                    "\"{}\", not \"{}\")",
                    program, said.substr(0, 200), UpgradeReadiness()));
  }
  return {};
}

std::string ExecUpgrade(const std::string& program, const std::string& config_path,
                        const UpgradeState& state) {
  std::vector<int> inherited = {state.control_fd, state.client};
  for (const auto& l : state.listeners) inherited.push_back(l.fd);
  if (state.metrics) inherited.push_back(state.metrics->fd);
  for (const auto& g : state.generations) {
    if (g.channel >= 0) inherited.push_back(g.channel);
  }
  for (int fd : inherited) {
    if (fd >= 0) SetCloseOnExec(fd, false);
  }
  ::setenv(std::string(kStateVariable).c_str(), FormatUpgradeState(state).c_str(), 1);
  // Always the attached supervisor: the verb that started us (`start`) would daemonize again.
  std::vector<std::string> args = {program, "foreground", "--config", config_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The signals stay blocked across the exec: a SIGCHLD (or a HUP) that arrives meanwhile stays
  // pending, and the new program's signalfd reads it. Unblocked, it would be discarded.
  ::execv(program.c_str(), argv.data());
  // Still here: the exec failed; keep running as we were.
  int err = errno;
  ::unsetenv(std::string(kStateVariable).c_str());
  for (int fd : inherited) {
    if (fd >= 0) SetCloseOnExec(fd, true);
  }
  return std::strerror(err);
}

void SetCloseOnExec(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

bool IsChildOfOurs(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 1));
  std::string state;
  long long parent = 0;
  fields >> state >> parent;
  return parent == ::getpid();
}

}  // namespace mailsift::supervisor
