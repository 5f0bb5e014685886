#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "base/strings.h"
#include "config/config.h"
#include "log/log.h"
#include "net/endpoint.h"
#include "supervisor/metrics.h"
#include "supervisor/metrics_listener.h"
#include "supervisor/protocol.h"
#include "supervisor/rule_watch.h"
#include "supervisor/status_report.h"

namespace mailsift::supervisor {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kStateVariable = "MAILSIFT_SUPERVISOR_STATE";
constexpr std::string_view kStateFormat = "v1";  // the first word of the state
// How long a finished reload's answer may wait for the old generation to stop accepting.
constexpr std::chrono::milliseconds kStopAcceptingWait{2000};

Clock::time_point After(config::Seconds seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(seconds);
}

void SetCloseOnExec(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

// Where to scrape: "http://127.0.0.1:9985/metrics", "http://[::1]:9985/metrics".
std::string MetricsUrl(const net::Endpoint& address) {
  bool v6 = address.host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/metrics", v6 ? "[" : "", address.host, v6 ? "]" : "",
                     address.port);
}

// True when `pid` is a live (or exited, not yet reaped) child of this process.
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

struct OwnedListener {
  std::string name;
  net::Endpoint address;
  int fd = -1;
};

// The metrics listening socket a config wants; fd -1: none ([metrics] address = "").
struct MetricsSocket {
  int fd = -1;
  net::Endpoint address;
};

struct Generation {
  enum class State { kStarting, kServing, kDraining };
  int number = 0;
  pid_t pid = -1;
  int channel = -1;  // our end of the socketpair
  State state = State::kStarting;
  std::string digest;
  std::string rules = "-";  // the generation's ruleset digest (its RULES line), "-" if none
  std::string buffer;
  std::map<std::string, long long> last_status;
  long long status_replies = 0;  // STATUS lines received, so a request sees its answer arrive
  Clock::time_point started = Clock::now();
  Clock::time_point deadline = Clock::time_point::max();  // READY, or end of drain
  bool exited = false;
  bool stopped_accepting = false;  // said STOPPED_ACCEPTING after DRAIN
};

const char* StateName(Generation::State state) {
  switch (state) {
    case Generation::State::kStarting:
      return "starting";
    case Generation::State::kServing:
      return "serving";
    case Generation::State::kDraining:
      return "draining";
  }
  return "?";
}

class Supervisor {
 public:
  explicit Supervisor(Options options) : options_(std::move(options)) {}
  int Run();

 private:
  // Start-up.
  bool Adopt();  // after an upgrade: take over the state of our previous program
  bool BindListeners(const config::Config& config, std::vector<int>& opened,
                     std::string& error);
  bool OpenControlSocket(std::string& error);
  // Binds [metrics] address when it differs from the one served now; `changed` gets the new
  // socket (fd -1 when the config turns metrics off). False, with the reason, if it cannot.
  bool BindMetrics(const config::Config& config, std::optional<MetricsSocket>& changed,
                   std::string& error);
  // Serves the metrics on `socket` from now on, closing the listener served before.
  void ServeMetrics(const MetricsSocket& socket);
  void DropHandoffMetrics();  // closes a metrics socket bound for a handoff that is over
  bool WritePidFile(std::string& error);
  void Finish(int code);

  // Generations.
  bool Spawn(const config::Config& config, std::string& error);
  void OnChannel(Generation& generation);
  void OnReady(Generation& generation);
  void FailHandoff(Generation& generation, const std::string& reason);
  void Reap();
  void CheckDeadlines();
  // Answers the reloads whose handoff is done once the old generations stopped accepting.
  void FlushReloadReplies();
  Generation* Serving();
  Generation* Find(int number);
  void CloseUnusedListeners();
  void CloseListeners(const std::vector<int>& fds);  // bound for an attempt that failed
  void RunQueuedReloads();

  // Requests.
  void OnControlClient();
  void StartReload(int client);
  void Status(int client, bool json);
  // The generations' counters (each live one is asked, briefly waited for) summed with those
  // of generations that have exited: monotonic across reloads. "active" counts live ones.
  std::map<std::string, long long> CollectTotals();
  std::string MetricsText();
  void BeginStop(bool fast, int client);
  void Upgrade(int client);
  // Runs `PROGRAM check-upgrade` (supervisor.h); false with the reason if the program on disk
  // cannot take over.
  bool CheckUpgrade(std::string& reason);
  void Reply(int client, const std::string& text, bool close_after = true);
  void Notify(const std::string& state);

  // [spam] watch_rule_dirs: follows the serving config; a burst of rule changes is one reload.
  void ConfigureRuleWatch();
  void ReloadIfRulesChanged();

  Options options_;
  config::Config config_;  // the serving generation's config
  std::vector<OwnedListener> listeners_;
  std::vector<std::unique_ptr<Generation>> generations_;
  int next_number_ = 1;
  int signal_fd_ = -1;
  int control_fd_ = -1;

  // The handoff in progress: the new generation and who waits for its outcome.
  int handoff_ = 0;  // generation number, 0 = none
  std::vector<int> handoff_clients_;
  std::vector<std::pair<int, std::string>> reload_replies_;  // done, waiting for old to stop
  Clock::time_point reload_replies_until_;
  std::optional<config::Config> handoff_config_;
  std::vector<int> handoff_opened_;  // listener fds bound for this handoff
  std::optional<MetricsSocket> handoff_metrics_;  // set when this handoff changes the metrics
  bool first_start_ = true;
  bool handoff_is_reload_ = false;  // false: a first start or a crash replacement
  bool reload_queued_ = false;
  std::vector<int> queued_clients_;
  bool upgrade_queued_ = false;  // asked during a handoff; runs once it is over
  int upgrade_client_ = -1;

  // Crash restarts.
  int recent_crashes_ = 0;
  Clock::time_point restart_at_ = Clock::time_point::max();

  // Stop.
  bool stopping_ = false;
  Clock::time_point stop_deadline_ = Clock::time_point::max();
  std::vector<int> stop_clients_;

  // Counters since the supervisor started.
  Clock::time_point started_ = Clock::now();
  long long reloads_ = 0, failed_reloads_ = 0, crashes_ = 0;
  std::map<std::string, long long> finished_totals_;

  MetricsListener metrics_{[this] { return MetricsText(); }};
  RuleWatch rule_watch_;
  config::Seconds watch_quiet_period_{0};  // as last applied, to log only what changed
};

// --- start-up and shutdown --------------------------------------------------------------------

bool Supervisor::BindListeners(const config::Config& config, std::vector<int>& opened,
                               std::string& error) {
  for (const auto& wanted : config.listeners) {
    auto same = std::find_if(listeners_.begin(), listeners_.end(), [&](const OwnedListener& l) {
      return l.name == wanted.name && l.address == wanted.address;
    });
    if (same != listeners_.end()) {
      // A backlog change applies by calling listen() again on the same socket.
      ::listen(same->fd, wanted.backlog);
      continue;
    }
    auto fd = net::OpenListener(wanted.address, wanted.backlog);
    if (!fd) {
      error = fd.error().message;
      return false;
    }
    opened.push_back(*fd);
    // Keep the new one; an old listener under the same name (an address change) stays until the
    // generations using it have gone.
    listeners_.push_back({wanted.name, wanted.address, *fd});
    log::Info("bound listener {} on {}", wanted.name, wanted.address.ToString());
  }
  return true;
}

bool Supervisor::OpenControlSocket(std::string& error) {
  std::filesystem::path path(config_.control.socket);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  auto endpoint = net::ParseEndpoint("unix:" + config_.control.socket);
  if (!endpoint) {
    error = "control.socket: " + endpoint.error().message;
    return false;
  }
  mode_t old_mask = ::umask(0177);
  auto fd = net::OpenListener(*endpoint, 16);
  ::umask(old_mask);
  if (!fd) {
    error = "control.socket: " + fd.error().message;
    return false;
  }
  ::chmod(config_.control.socket.c_str(), static_cast<mode_t>(config_.control.socket_mode));
  control_fd_ = *fd;
  return true;
}

bool Supervisor::BindMetrics(const config::Config& config, std::optional<MetricsSocket>& changed,
                             std::string& error) {
  bool wanted = !config.metrics.address.empty();
  if (wanted == (metrics_.fd() >= 0) &&
      (!wanted || config.metrics.endpoint == metrics_.address())) {
    return true;
  }
  MetricsSocket socket;
  if (wanted) {
    auto fd = net::OpenListener(config.metrics.endpoint, 64);
    if (!fd) {
      error = "metrics.address: " + fd.error().message;
      return false;
    }
    socket = {*fd, config.metrics.endpoint};
  }
  changed = socket;
  return true;
}

void Supervisor::ServeMetrics(const MetricsSocket& socket) {
  if (metrics_.fd() >= 0 && metrics_.fd() != socket.fd) {
    log::Info("closing the metrics listener on {}", metrics_.address().ToString());
  }
  metrics_.Listen(socket.fd, socket.address);
  if (socket.fd >= 0) log::Info("metrics on {}", MetricsUrl(socket.address));
}

void Supervisor::DropHandoffMetrics() {
  if (handoff_metrics_ && handoff_metrics_->fd >= 0) ::close(handoff_metrics_->fd);
  handoff_metrics_.reset();
}

bool Supervisor::WritePidFile(std::string& error) {
  const std::string& path = config_.control.pid_file;
  if (path.empty()) return true;
  std::ifstream existing(path);
  pid_t old_pid = 0;
  if (existing >> old_pid && old_pid > 0 && old_pid != ::getpid() && ::kill(old_pid, 0) == 0) {
    error = fmt::format("already running: pid {} (from {})", old_pid, path);
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string temporary = path + ".tmp";
  std::ofstream out(temporary, std::ios::trunc);
  out << ::getpid() << "\n";
  out.close();
  if (!out || ::rename(temporary.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot write pid file {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

void Supervisor::Finish(int code) {
  for (int client : stop_clients_) Reply(client, code == 0 ? "ok stopped" : "error stopped");
  stop_clients_.clear();
  for (auto& l : listeners_) {
    ::close(l.fd);
    if (l.address.kind == net::Endpoint::Kind::kUnix) ::unlink(l.address.path.c_str());
  }
  listeners_.clear();
  metrics_.Close();
  DropHandoffMetrics();
  if (control_fd_ >= 0) {
    ::close(control_fd_);
    ::unlink(config_.control.socket.c_str());
  }
  if (!config_.control.pid_file.empty()) ::unlink(config_.control.pid_file.c_str());
  Notify("STOPPING=1");
}

// --- generations ------------------------------------------------------------------------------

bool Supervisor::Spawn(const config::Config& config, std::string& error) {
  std::vector<NamedFd> fds;
  for (const auto& wanted : config.listeners) {
    auto it = std::find_if(listeners_.rbegin(), listeners_.rend(), [&](const OwnedListener& l) {
      return l.name == wanted.name && l.address == wanted.address;
    });
    if (it == listeners_.rend()) {
      error = fmt::format("listener {} is not bound", wanted.name);
      return false;
    }
    fds.push_back({wanted.name, it->fd});
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    error = fmt::format("socketpair: {}", std::strerror(errno));
    return false;
  }
  int number = next_number_++;
  std::string names;
  for (const auto& f : fds) names += (names.empty() ? "" : ":") + f.name;
  std::vector<std::string> args = {options_.program, "generation", "--config",
                                   options_.config_path};
  pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork: {}", std::strerror(errno));
    ::close(pair[0]);
    ::close(pair[1]);
    return false;
  }
  if (pid == 0) {
    // The child: listeners to 3..3+n-1, the channel after them, then exec.
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    int count = static_cast<int>(fds.size());
    std::vector<int> high;
    for (const auto& f : fds) high.push_back(::fcntl(f.fd, F_DUPFD_CLOEXEC, 100));
    int channel = ::fcntl(pair[1], F_DUPFD_CLOEXEC, 100);
    for (int i = 0; i < count; ++i) ::dup2(high[static_cast<size_t>(i)], 3 + i);
    ::dup2(channel, 3 + count);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("LISTEN_") || entry.starts_with("MAILSIFT_CONTROL_FD=") ||
          entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with(kStateVariable)) {
        continue;  // only the supervisor talks to systemd
      }
      env_strings.emplace_back(entry);
    }
    env_strings.push_back(fmt::format("LISTEN_FDS={}", count));
    env_strings.push_back(fmt::format("LISTEN_FDNAMES={}", names));
    env_strings.push_back(fmt::format("LISTEN_PID={}", ::getpid()));
    env_strings.push_back(fmt::format("{}={}", kControlFdVariable, 3 + count));
    env_strings.push_back(fmt::format("MAILSIFT_GENERATION={}", number));
    std::vector<char*> envp, argv;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execve(options_.program.c_str(), argv.data(), envp.data());
    std::string message = fmt::format("FAILED cannot execute {}: {}\n", options_.program,
                                      std::strerror(errno));
    ssize_t ignored = ::write(3 + count, message.data(), message.size());
    (void)ignored;
    ::_exit(127);
  }
  ::close(pair[1]);
  ::fcntl(pair[0], F_SETFL, O_NONBLOCK);
  auto generation = std::make_unique<Generation>();
  generation->number = number;
  generation->pid = pid;
  generation->channel = pair[0];
  generation->digest = config.digest;
  generation->deadline = After(config.supervisor.ready_timeout);
  log::Info("starting generation {} (pid {}) with config {}", number, pid, config.digest);
  handoff_ = number;
  generations_.push_back(std::move(generation));
  return true;
}

Generation* Supervisor::Serving() {
  for (auto& g : generations_) {
    if (g->state == Generation::State::kServing && !g->exited) return g.get();
  }
  return nullptr;
}

Generation* Supervisor::Find(int number) {
  for (auto& g : generations_) {
    if (g->number == number) return g.get();
  }
  return nullptr;
}

void Supervisor::FlushReloadReplies() {
  if (reload_replies_.empty()) return;
  bool old_still_accepting = false;
  for (const auto& g : generations_) {
    if (g->state == Generation::State::kDraining && !g->exited && g->channel >= 0 &&
        !g->stopped_accepting) {
      old_still_accepting = true;
    }
  }
  if (old_still_accepting && Clock::now() < reload_replies_until_) return;
  for (const auto& [client, text] : reload_replies_) Reply(client, text);
  reload_replies_.clear();
}

void Supervisor::OnChannel(Generation& generation) {
  char chunk[4096];
  while (true) {
    ssize_t n = ::recv(generation.channel, chunk, sizeof chunk, 0);
    if (n > 0) {
      generation.buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    // EOF: the generation is exiting; its exit status arrives by SIGCHLD.
    ::close(generation.channel);
    generation.channel = -1;
    break;
  }
  for (const auto& line : TakeLines(generation.buffer)) {
    if (line == "READY") {
      OnReady(generation);
    } else if (line.starts_with("FAILED")) {
      std::string reason = line.size() > 7 ? line.substr(7) : "no reason given";
      if (generation.number == handoff_) {
        FailHandoff(generation, reason);
      } else {
        log::Warn("generation {} reported: {}", generation.number, reason);
      }
    } else if (line.starts_with("STATUS")) {
      generation.last_status = ParseStatus(line);
      ++generation.status_replies;
    } else if (line.starts_with("RULES ")) {
      generation.rules = line.substr(6);
    } else if (line == "STOPPED_ACCEPTING") {
      generation.stopped_accepting = true;
    }
  }
}

void Supervisor::OnReady(Generation& generation) {
  if (generation.number != handoff_) return;
  generation.state = Generation::State::kServing;
  generation.deadline = Clock::time_point::max();
  // Promote: every older serving generation drains now. Until this moment it kept accepting,
  // and the new one has been accepting since before it said READY: no gap.
  for (auto& older : generations_) {
    if (older.get() == &generation || older->exited) continue;
    if (older->state == Generation::State::kServing) {
      older->state = Generation::State::kDraining;
      older->deadline = After(config_.supervisor.drain_timeout + config::Seconds(5));
      if (older->channel < 0 || !WriteLine(older->channel, "DRAIN")) ::kill(older->pid, SIGTERM);
      log::Info("generation {} (pid {}) draining", older->number, older->pid);
    }
  }
  bool was_reload = handoff_is_reload_;
  handoff_is_reload_ = false;
  if (handoff_config_) config_ = std::move(*handoff_config_);
  handoff_config_.reset();
  handoff_opened_.clear();
  ConfigureRuleWatch();
  if (handoff_metrics_) {
    // A changed [metrics] address serves from now on (connections the old listener accepted
    // are still answered).
    ServeMetrics(*handoff_metrics_);
    handoff_metrics_.reset();
  }
  handoff_ = 0;
  recent_crashes_ = 0;
  std::string message = fmt::format("generation {} (pid {}) serving, config {}, rules {}",
                                    generation.number, generation.pid, generation.digest,
                                    generation.rules);
  log::Info("{}", message);
  // The reload's answer waits until the old generations have stopped accepting (at most
  // kStopAcceptingWait): after "ok", every new connection is the new generation's.
  for (int client : handoff_clients_) reload_replies_.push_back({client, "ok " + message});
  handoff_clients_.clear();
  reload_replies_until_ = Clock::now() + kStopAcceptingWait;
  FlushReloadReplies();
  if (first_start_) {
    first_start_ = false;
    Notify(fmt::format("READY=1\nMAINPID={}\nSTATUS={}", ::getpid(), message));
    if (options_.ready_fd >= 0) {
      WriteLine(options_.ready_fd, "ok " + message);
      ::close(options_.ready_fd);
      options_.ready_fd = -1;
    }
  } else {
    if (was_reload) ++reloads_;
    Notify("READY=1\nSTATUS=" + message);
  }
  RunQueuedReloads();
}

void Supervisor::RunQueuedReloads() {
  if (!reload_queued_) {
    if (upgrade_queued_ && handoff_ == 0) {
      upgrade_queued_ = false;
      int client = upgrade_client_;
      upgrade_client_ = -1;
      Upgrade(client);
    }
    return;
  }
  reload_queued_ = false;
  std::vector<int> clients = std::move(queued_clients_);
  queued_clients_.clear();
  if (clients.empty()) StartReload(-1);  // queued by a signal
  for (int client : clients) StartReload(client);
}

void Supervisor::CloseListeners(const std::vector<int>& fds) {
  for (int fd : fds) {
    auto it = std::find_if(listeners_.begin(), listeners_.end(),
                           [fd](const OwnedListener& l) { return l.fd == fd; });
    if (it != listeners_.end()) {
      ::close(it->fd);
      listeners_.erase(it);
    }
  }
}

void Supervisor::FailHandoff(Generation& generation, const std::string& reason) {
  if (generation.number != handoff_) return;
  if (!generation.exited) ::kill(generation.pid, SIGKILL);
  generation.state = Generation::State::kDraining;  // on its way out
  handoff_ = 0;
  CloseListeners(handoff_opened_);
  handoff_opened_.clear();
  DropHandoffMetrics();
  handoff_config_.reset();
  Generation* serving = Serving();
  std::string message =
      serving ? fmt::format("reload failed: {}; generation {} keeps serving", reason,
                            serving->number)
              : fmt::format("generation {} failed: {}", generation.number, reason);
  log::Error("{}", message);
  if (handoff_is_reload_) ++failed_reloads_;
  handoff_is_reload_ = false;
  for (int client : handoff_clients_) Reply(client, "error " + message);
  handoff_clients_.clear();
  if (first_start_) {
    if (options_.ready_fd >= 0) {
      WriteLine(options_.ready_fd, "error " + message);
      ::close(options_.ready_fd);
      options_.ready_fd = -1;
    }
    BeginStop(true, -1);  // nothing serves and nothing ever did: give up with the reason
    return;
  }
  Notify("READY=1\nSTATUS=" + message);
  if (!serving && !stopping_) {
    // Nothing serves (the serving one crashed meanwhile): keep trying, with backoff.
    restart_at_ = After(config::Seconds(std::min(30, 1 << std::min(recent_crashes_, 5))));
    ++recent_crashes_;
  }
  if (serving) RunQueuedReloads();
}

void Supervisor::Reap() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = std::find_if(generations_.begin(), generations_.end(),
                           [pid](const auto& g) { return g->pid == pid; });
    if (it == generations_.end()) continue;
    Generation& g = **it;
    if (g.channel >= 0) OnChannel(g);  // the last words (final STATUS)
    g.exited = true;
    std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                      : WIFSIGNALED(status)
                          ? fmt::format("signal {}", strsignal(WTERMSIG(status)))
                          : std::string("unknown status");
    for (const auto& [key, value] : g.last_status) {
      if (key != "active") finished_totals_[key] += value;
    }
    if (g.number == handoff_) {
      FailHandoff(g, fmt::format("generation {} exited before READY ({})", g.number, how));
    } else if (g.state == Generation::State::kServing) {
      ++crashes_;
      log::Error("generation {} (pid {}) crashed ({}); the listening sockets stay open", g.number,
                 g.pid, how);
      if (!stopping_ && handoff_ == 0) {
        auto delay = config::Seconds(recent_crashes_ == 0 ? 0 : std::min(30, 1 << recent_crashes_));
        ++recent_crashes_;
        restart_at_ = After(delay);
      }
    } else {
      log::Info("generation {} (pid {}) exited ({})", g.number, g.pid, how);
    }
    if (g.channel >= 0) ::close(g.channel);
    generations_.erase(it);
  }
  CloseUnusedListeners();
  if (stopping_ && generations_.empty()) {
    Finish(0);
    ::exit(EX_OK);
  }
}

void Supervisor::CloseUnusedListeners() {
  // A listener the serving config no longer has is closed once no older generation remains
  // (each may still hold a copy, and closing the last copy would reset its queue).
  bool older_alive = false;
  for (auto& g : generations_) {
    if (g->state == Generation::State::kDraining) older_alive = true;
  }
  if (older_alive || handoff_ != 0) return;
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    bool wanted = std::any_of(config_.listeners.begin(), config_.listeners.end(), [&](auto& w) {
      return w.name == it->name && w.address == it->address;
    });
    if (wanted) {
      ++it;
      continue;
    }
    log::Info("closing listener {} on {}: no longer in the config", it->name,
              it->address.ToString());
    ::close(it->fd);
    bool path_still_used = std::any_of(config_.listeners.begin(), config_.listeners.end(),
                                       [&](auto& w) { return w.address == it->address; });
    if (it->address.kind == net::Endpoint::Kind::kUnix && !path_still_used) {
      ::unlink(it->address.path.c_str());
    }
    it = listeners_.erase(it);
  }
}

void Supervisor::CheckDeadlines() {
  auto now = Clock::now();
  for (auto& g : generations_) {
    if (g->exited || now < g->deadline) continue;
    if (g->number == handoff_) {
      FailHandoff(*g, fmt::format("generation {} did not report READY within {} s", g->number,
                                  (handoff_config_ ? *handoff_config_ : config_)
                                      .supervisor.ready_timeout.count()));
    } else if (g->state == Generation::State::kDraining) {
      log::Warn("generation {} (pid {}) still busy at the drain deadline: killed", g->number,
                g->pid);
      ::kill(g->pid, SIGKILL);
      g->deadline = Clock::time_point::max();
    }
  }
  if (now >= restart_at_) {
    restart_at_ = Clock::time_point::max();
    if (!Serving() && handoff_ == 0 && !stopping_) {
      std::string error;
      log::Info("starting a replacement generation");
      if (!Spawn(config_, error)) {
        log::Error("cannot start a generation: {}", error);
        restart_at_ = After(config::Seconds(5));
      }
    }
  }
  if (stopping_ && now >= stop_deadline_) {
    for (auto& g : generations_) {
      if (!g->exited) ::kill(g->pid, SIGKILL);
    }
    stop_deadline_ = Clock::time_point::max();
  }
}

// --- requests ---------------------------------------------------------------------------------

void Supervisor::Reply(int client, const std::string& text, bool close_after) {
  if (client < 0) return;
  WriteLine(client, text);
  if (close_after) ::close(client);
}

void Supervisor::Notify(const std::string& state) { sd_notify(0, state.c_str()); }

void Supervisor::ConfigureRuleWatch() {
  bool was_on = rule_watch_.fd() >= 0;
  std::string before = rule_watch_.Describe();
  auto quiet_before = watch_quiet_period_;
  watch_quiet_period_ = config_.spam.watch_quiet_period;
  if (auto status = rule_watch_.Configure(config_.spam); !status) {
    log::Warn("{}; rule changes need `mailsift reload`", status.error().message);
    return;
  }
  if (rule_watch_.fd() < 0) {
    if (was_on) log::Info("no longer watching the rule directories");
    return;
  }
  std::string list = rule_watch_.Describe();
  if (was_on && list == before && quiet_before == watch_quiet_period_) return;
  log::Info("watching the rule directories (reload {} s after the last change): {}",
            config_.spam.watch_quiet_period.count(), list.empty() ? "none exists" : list);
}

void Supervisor::ReloadIfRulesChanged() {
  if (stopping_) return;
  auto where = rule_watch_.TakeDue();
  if (!where) return;
  // The same path as `mailsift reload` (queued behind a handoff that is running); rules that
  // do not load fail the new generation and the serving one stays.
  log::Info("rule files changed in {}: reloading", *where);
  StartReload(-1);
}

void Supervisor::StartReload(int client) {
  if (stopping_) {
    Reply(client, "error the service is stopping");
    return;
  }
  if (handoff_ != 0) {
    // A handoff is running: this request is served by one more reload after it.
    reload_queued_ = true;
    if (client >= 0) queued_clients_.push_back(client);
    log::Info("reload queued behind generation {}", handoff_);
    return;
  }
  Notify("RELOADING=1");
  log::Info("reloading {}", options_.config_path);
  auto loaded = config::LoadConfig(options_.config_path);
  if (!loaded) {
    std::string reasons;
    for (const auto& p : loaded.error().items) reasons += (reasons.empty() ? "" : "; ") + p;
    Generation* serving = Serving();
    std::string message = fmt::format("reload failed: config: {}; generation {} keeps serving",
                                      reasons, serving ? serving->number : 0);
    log::Error("{}", message);
    ++failed_reloads_;
    Notify("READY=1\nSTATUS=" + message);
    Reply(client, "error " + message);
    return;
  }
  std::string error;
  std::vector<int> opened;
  if (!BindListeners(*loaded, opened, error) || !BindMetrics(*loaded, handoff_metrics_, error)) {
    CloseListeners(opened);
    std::string message = "reload failed: " + error;
    log::Error("{}", message);
    ++failed_reloads_;
    Notify("READY=1\nSTATUS=" + message);
    Reply(client, "error " + message);
    return;
  }
  handoff_opened_ = opened;
  handoff_config_ = std::move(*loaded);
  handoff_is_reload_ = true;
  if (client >= 0) handoff_clients_.push_back(client);
  if (!Spawn(*handoff_config_, error)) {
    handoff_clients_.clear();
    handoff_config_.reset();
    CloseListeners(handoff_opened_);
    handoff_opened_.clear();
    DropHandoffMetrics();
    ++failed_reloads_;
    Reply(client, "error reload failed: " + error);
  }
}

std::map<std::string, long long> Supervisor::CollectTotals() {
  // Ask every live generation, and wait briefly for the answers of those that serve or drain
  // (a starting one answers only once it is READY; its answer arrives through the loop).
  std::map<int, long long> asked;  // generation number → STATUS replies before asking
  for (auto& g : generations_) {
    if (g->exited || g->channel < 0 || !WriteLine(g->channel, "STATUS")) continue;
    if (g->state != Generation::State::kStarting) asked[g->number] = g->status_replies;
  }
  auto until = Clock::now() + std::chrono::milliseconds(500);
  while (!asked.empty() && Clock::now() < until) {
    std::vector<pollfd> fds;
    std::vector<int> order;
    for (auto it = asked.begin(); it != asked.end();) {
      Generation* g = Find(it->first);
      if (!g || g->exited || g->channel < 0 || g->status_replies > it->second) {
        it = asked.erase(it);  // answered, or gone (its last words are in)
        continue;
      }
      fds.push_back({g->channel, POLLIN, 0});
      order.push_back(g->number);
      ++it;
    }
    if (fds.empty()) break;
    ::poll(fds.data(), fds.size(), 50);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (Generation* g = Find(order[i]); g && g->channel >= 0) OnChannel(*g);
    }
  }
  std::map<std::string, long long> totals = finished_totals_;
  for (auto& g : generations_) {
    if (g->exited) continue;
    for (const auto& [key, value] : g->last_status) totals[key] += value;
  }
  return totals;
}

std::string Supervisor::MetricsText() {
  std::map<std::string, long long> totals = CollectTotals();
  SupervisorFacts facts;
  for (auto& g : generations_) {
    if (g->exited) continue;
    switch (g->state) {
      case Generation::State::kStarting:
        ++facts.generations_starting;
        break;
      case Generation::State::kServing:
        ++facts.generations_serving;
        break;
      case Generation::State::kDraining:
        ++facts.generations_draining;
        break;
    }
  }
  facts.reloads_ok = reloads_;
  facts.reloads_failed = failed_reloads_;
  facts.crashes = crashes_;
  return RenderMetrics(totals, facts);
}

void Supervisor::Status(int client, bool json) {
  Reap();  // a generation that has just exited is never listed
  StatusReport report;
  report.totals = CollectTotals();
  report.pid = ::getpid();
  report.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
  report.config_path = options_.config_path;
  report.config_digest = config_.digest;
  for (auto& g : generations_) {
    if (g->exited) continue;
    auto age = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - g->started).count();
    auto active = g->last_status.count("active") ? g->last_status.at("active") : 0;
    report.generations.push_back(
        {g->number, g->pid, StateName(g->state), active, g->digest, g->rules, age});
  }
  for (const auto& l : listeners_) report.listeners.push_back({l.name, l.address.ToString()});
  if (metrics_.fd() >= 0) report.metrics_url = MetricsUrl(metrics_.address());
  report.reloads = reloads_;
  report.failed_reloads = failed_reloads_;
  report.crashes = crashes_;
  Reply(client, "ok " + (json ? FormatStatusJson(report) : FormatStatusText(report)));
}

void Supervisor::BeginStop(bool fast, int client) {
  if (client >= 0) stop_clients_.push_back(client);
  if (stopping_ && !fast) return;
  stopping_ = true;
  Notify("STOPPING=1");
  log::Info("stopping{}", fast ? " now" : ": draining every generation");
  stop_deadline_ = fast ? Clock::now() : After(config_.supervisor.drain_timeout + config::Seconds(5));
  for (auto& g : generations_) {
    if (g->exited) continue;
    if (fast || g->state == Generation::State::kStarting) {
      ::kill(g->pid, SIGKILL);
    } else {
      g->state = Generation::State::kDraining;
      if (g->channel < 0 || !WriteLine(g->channel, "DRAIN")) ::kill(g->pid, SIGTERM);
    }
  }
  for (int c : handoff_clients_) Reply(c, "error the service is stopping");
  handoff_clients_.clear();
  for (int c : queued_clients_) Reply(c, "error the service is stopping");
  queued_clients_.clear();
  if (upgrade_queued_) Reply(upgrade_client_, "error the service is stopping");
  upgrade_queued_ = false;
  upgrade_client_ = -1;
  if (generations_.empty()) {
    Finish(0);
    ::exit(EX_OK);
  }
}

bool Supervisor::CheckUpgrade(std::string& reason) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    reason = fmt::format("pipe: {}", std::strerror(errno));
    return false;
  }
  std::vector<std::string> args = {options_.program, "check-upgrade", "--config",
                                   options_.config_path};
  pid_t pid = ::fork();
  if (pid < 0) {
    reason = fmt::format("fork: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return false;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("LISTEN_") || entry.starts_with("NOTIFY_SOCKET=") ||
          entry.starts_with(kStateVariable)) {
        continue;
      }
      env_strings.emplace_back(entry);
    }
    std::vector<char*> envp, argv;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execve(options_.program.c_str(), argv.data(), envp.data());
    std::string message = fmt::format("cannot execute {}: {}\n", options_.program,
                                      std::strerror(errno));
    ssize_t ignored = ::write(1, message.data(), message.size());
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
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
  // Reaped here, not by Reap(): it is not a generation.
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
    reason = fmt::format("{} check-upgrade did not answer within {} s", options_.program,
                         kUpgradeCheckTimeout.count());
  } else if (WIFSIGNALED(status)) {
    reason = fmt::format("{} check-upgrade was killed by signal {}", options_.program,
                         strsignal(WTERMSIG(status)));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    reason = fmt::format("{} check-upgrade exited with status {}{}{}", options_.program,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1, said.empty() ? "" : ": ",
                         said);
  } else if (said != UpgradeReadiness()) {
    reason = fmt::format("{} is not a program that can take over this supervisor (it said "
                         "\"{}\", not \"{}\")",
                         options_.program, said.substr(0, 200), UpgradeReadiness());
  } else {
    return true;
  }
  return false;
}

void Supervisor::Upgrade(int client) {
  if (stopping_) {
    Reply(client, "error the service is stopping");
    return;
  }
  if (handoff_ != 0 || reload_queued_) {
    // The state of a handoff does not travel: the upgrade runs once the handoff is over.
    if (upgrade_queued_) {
      Reply(client, "error an upgrade is already waiting for the running reload");
      return;
    }
    upgrade_queued_ = true;
    upgrade_client_ = client;
    log::Info("upgrade queued behind generation {}", handoff_);
    return;
  }
  log::Info("upgrade: checking {}", options_.program);
  std::string reason;
  if (!CheckUpgrade(reason)) {
    std::string message =
        fmt::format("upgrade refused: {}; supervisor pid {} keeps running", reason, ::getpid());
    log::Error("{}", message);
    Reply(client, "error " + message);
    return;
  }
  // The state travels in one environment variable; the fds it names are inherited.
  std::string state = fmt::format("{} next={} reloads={} failed={} crashes={} control={} client={}",
                                  kStateFormat, next_number_, reloads_, failed_reloads_, crashes_,
                                  control_fd_, client);
  std::vector<int> inherited = {control_fd_, client};
  for (const auto& l : listeners_) {
    state += fmt::format(" L={},{},{}", l.name, l.fd, l.address.kind == net::Endpoint::Kind::kUnix
                                                          ? "unix:" + l.address.path
                                                          : l.address.host + "|" +
                                                                std::to_string(l.address.port));
    inherited.push_back(l.fd);
  }
  // The counters of generations that have exited, so that totals stay monotonic.
  for (const auto& [key, value] : finished_totals_) state += fmt::format(" T.{}={}", key, value);
  if (metrics_.fd() >= 0) {
    state +=
        fmt::format(" M={},{}|{}", metrics_.fd(), metrics_.address().host, metrics_.address().port);
    inherited.push_back(metrics_.fd());
  }
  for (const auto& g : generations_) {
    if (g->exited) continue;
    state += fmt::format(" G={},{},{},{},{}", g->number, g->pid, g->channel,
                         static_cast<int>(g->state), g->digest);
    if (g->channel >= 0) inherited.push_back(g->channel);
  }
  for (int fd : inherited) {
    if (fd >= 0) SetCloseOnExec(fd, false);
  }
  ::setenv(std::string(kStateVariable).c_str(), state.c_str(), 1);
  log::Info("upgrade: executing {} in place (pid {})", options_.program, ::getpid());
  // Always the attached supervisor: the verb that started us (`start`) would daemonize again.
  std::vector<std::string> args = {options_.program, "foreground", "--config",
                                   options_.config_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The signals stay blocked across the exec: a SIGCHLD (or a HUP) that arrives meanwhile stays
  // pending, and the new program's signalfd reads it. Unblocked, it would be discarded.
  ::execv(options_.program.c_str(), argv.data());
  // Still here: the exec failed; keep running as we were.
  int err = errno;
  ::unsetenv(std::string(kStateVariable).c_str());
  for (int fd : inherited) {
    if (fd >= 0) SetCloseOnExec(fd, true);
  }
  log::Error("upgrade failed: cannot execute {}: {}", options_.program, std::strerror(err));
  Reply(client, fmt::format("error upgrade failed: cannot execute {}: {}; supervisor pid {} keeps "
                            "running",
                            options_.program, std::strerror(err), ::getpid()));
}

bool Supervisor::Adopt() {
  const char* raw = ::getenv(std::string(kStateVariable).c_str());
  if (!raw) return false;
  std::string state(raw);
  ::unsetenv(std::string(kStateVariable).c_str());
  if (!state.starts_with(std::string(kStateFormat) + " ")) {
    // check-upgrade said we understand it; anything else is our bug.
    log::Error("upgrade: state of an unknown format: {}", state.substr(0, 40));
  }
  int client = -1;
  for (std::string_view word : SplitSpaces(state)) {
    auto value_of = [&](std::string_view key) -> std::optional<long long> {
      if (!word.starts_with(key)) return std::nullopt;
      auto v = ParseUnsigned(word.substr(key.size()));
      if (!v) {
        if (word.substr(key.size()) == "-1") return -1;
        return std::nullopt;
      }
      return static_cast<long long>(*v);
    };
    if (auto v = value_of("next=")) next_number_ = static_cast<int>(*v);
    if (auto v = value_of("reloads=")) reloads_ = *v;
    if (auto v = value_of("failed=")) failed_reloads_ = *v;
    if (auto v = value_of("crashes=")) crashes_ = *v;
    if (auto v = value_of("control=")) control_fd_ = static_cast<int>(*v);
    if (auto v = value_of("client=")) client = static_cast<int>(*v);
    if (word.starts_with("L=")) {
      std::string body(word.substr(2));
      size_t c1 = body.find(','), c2 = body.find(',', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      OwnedListener l;
      l.name = body.substr(0, c1);
      l.fd = std::atoi(body.substr(c1 + 1, c2 - c1 - 1).c_str());
      std::string where = body.substr(c2 + 1);
      if (where.starts_with("unix:")) {
        l.address = *net::ParseEndpoint(where);
      } else {
        size_t bar = where.rfind('|');
        l.address.kind = net::Endpoint::Kind::kInet;
        l.address.host = where.substr(0, bar);
        l.address.port = static_cast<uint16_t>(std::atoi(where.substr(bar + 1).c_str()));
      }
      SetCloseOnExec(l.fd, true);
      listeners_.push_back(l);
    }
    if (size_t equals = word.find('='); word.starts_with("T.") && equals != word.npos) {
      if (auto value = ParseUnsigned(word.substr(equals + 1))) {
        finished_totals_[std::string(word.substr(2, equals - 2))] = static_cast<long long>(*value);
      }
      continue;
    }
    if (word.starts_with("M=")) {
      std::string body(word.substr(2));
      size_t comma = body.find(','), bar = body.rfind('|');
      if (comma == std::string::npos || bar == std::string::npos || bar < comma) continue;
      net::Endpoint address;
      address.host = body.substr(comma + 1, bar - comma - 1);
      address.port = static_cast<uint16_t>(std::atoi(body.substr(bar + 1).c_str()));
      int fd = std::atoi(body.substr(0, comma).c_str());
      SetCloseOnExec(fd, true);
      metrics_.Listen(fd, address);
    }
    if (word.starts_with("G=")) {
      std::vector<std::string> parts;
      std::stringstream in{std::string(word.substr(2))};
      for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
      if (parts.size() != 5) continue;
      auto g = std::make_unique<Generation>();
      g->number = std::atoi(parts[0].c_str());
      g->pid = std::atoi(parts[1].c_str());
      g->channel = std::atoi(parts[2].c_str());
      g->state = static_cast<Generation::State>(std::atoi(parts[3].c_str()));
      g->digest = parts[4];
      if (g->state == Generation::State::kDraining) {
        g->deadline = After(config_.supervisor.drain_timeout + config::Seconds(5));
      }
      if (g->channel >= 0) {
        SetCloseOnExec(g->channel, true);
        ::fcntl(g->channel, F_SETFL, O_NONBLOCK);
      }
      if (!IsChildOfOurs(g->pid)) {
        // Not ours to watch (nor to report as serving): it has gone, or it is someone else's.
        log::Warn("upgrade: generation {} (pid {}) is not a child of this supervisor: dropped",
                  g->number, g->pid);
        if (g->channel >= 0) ::close(g->channel);
        continue;
      }
      generations_.push_back(std::move(g));
    }
  }
  if (control_fd_ >= 0) SetCloseOnExec(control_fd_, true);
  first_start_ = false;
  // A generation that exited while the old program was being replaced: its SIGCHLD is still
  // pending (the signals stayed blocked across the exec), but reap it now, before anything
  // reports it.
  Reap();
  if (!Serving() && handoff_ == 0 && !stopping_) restart_at_ = Clock::now();
  log::Info("upgraded in place: pid {}, {} listener(s), {} generation(s) adopted", ::getpid(),
            listeners_.size(), generations_.size());
  Notify(fmt::format("MAINPID={}\nREADY=1\nSTATUS=upgraded in place", ::getpid()));
  if (client >= 0) {
    SetCloseOnExec(client, true);
    Reply(client, fmt::format("ok upgraded in place: supervisor pid {} runs {}", ::getpid(),
                              options_.program));
  }
  return true;
}

void Supervisor::OnControlClient() {
  int client = ::accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return;
  timeval timeout{2, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string line;
  char c;
  while (line.size() < 200 && ::recv(client, &c, 1, 0) == 1 && c != '\n') line.push_back(c);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line == "reload") {
    StartReload(client);
  } else if (line == "status") {
    Status(client, false);
  } else if (line == "status json") {
    Status(client, true);
  } else if (line == "stop") {
    BeginStop(false, client);
  } else if (line == "stop fast") {
    BeginStop(true, client);
  } else if (line == "upgrade") {
    Upgrade(client);
  } else {
    Reply(client, "error unknown request; use reload, status, status json, stop, stop fast or upgrade");
  }
}

// --- the loop ---------------------------------------------------------------------------------

int Supervisor::Run() {
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD}) sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_ = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);

  auto loaded = config::LoadConfig(options_.config_path);
  bool upgraded = ::getenv(std::string(kStateVariable).c_str()) != nullptr;
  if (!loaded) {
    for (const auto& p : loaded.error().items) log::Error("config error: {}", p);
    if (!upgraded) {
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error config error");
      return EX_CONFIG;
    }
    config_ = config::DefaultConfig();  // keep serving what we adopt
  } else {
    config_ = std::move(*loaded);
  }

  if (upgraded) {
    Adopt();
    // The adopted metrics listener, or the one the config on disk names (kept as it is when
    // that config does not load).
    std::string error;
    std::optional<MetricsSocket> metrics;
    if (loaded && !BindMetrics(config_, metrics, error)) {
      log::Warn("{}; metrics stay {}", error,
                metrics_.fd() >= 0 ? "on " + metrics_.address().ToString() : "off");
    } else if (metrics) {
      ServeMetrics(*metrics);
    }
  } else {
    std::string error;
    if (!WritePidFile(error)) {
      log::Error("{}", error);
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error " + error);
      return EX_UNAVAILABLE;
    }
    // systemd socket activation: take what it passes, bind the rest ourselves.
    for (const auto& passed : TakeListenFds()) {
      auto wanted = std::find_if(config_.listeners.begin(), config_.listeners.end(),
                                 [&](const auto& l) { return l.name == passed.name; });
      if (wanted == config_.listeners.end()) {
        log::Warn("systemd passed a socket named \"{}\" that no [[listen]] has: closed",
                  passed.name);
        ::close(passed.fd);
        continue;
      }
      listeners_.push_back({passed.name, wanted->address, passed.fd});
      log::Info("listener {} from systemd", passed.name);
    }
    std::vector<int> opened;
    std::optional<MetricsSocket> metrics;
    if (!BindListeners(config_, opened, error) || !BindMetrics(config_, metrics, error) ||
        !OpenControlSocket(error)) {
      if (metrics) metrics_.Listen(metrics->fd, metrics->address);  // closed by Finish
      log::Error("{}", error);
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error " + error);
      Finish(1);
      return EX_OSERR;
    }
    if (metrics) ServeMetrics(*metrics);
    handoff_config_ = config_;
    if (!Spawn(config_, error)) {
      log::Error("{}", error);
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error " + error);
      Finish(1);
      return EX_OSERR;
    }
  }

  ConfigureRuleWatch();

  while (true) {
    std::vector<pollfd> fds = {{signal_fd_, POLLIN, 0}};
    if (control_fd_ >= 0) fds.push_back({control_fd_, POLLIN, 0});
    std::vector<int> numbers;
    for (auto& g : generations_) {
      if (g->channel >= 0) {
        fds.push_back({g->channel, POLLIN, 0});
        numbers.push_back(g->number);
      }
    }
    size_t watch_index = 0;  // 0: not polled (fds[0] is the signalfd)
    if (rule_watch_.fd() >= 0) {
      watch_index = fds.size();
      fds.push_back({rule_watch_.fd(), POLLIN, 0});
    }
    size_t metrics_begin = fds.size();
    metrics_.AddPollFds(fds);
    auto next = std::min({restart_at_, metrics_.NextDeadline(), rule_watch_.Due()});
    for (auto& g : generations_) next = std::min(next, g->deadline);
    next = std::min(next, stop_deadline_);
    int timeout = 1000;
    if (!reload_replies_.empty()) next = std::min(next, reload_replies_until_);
    if (next != Clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
    }
    int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR) {
      log::Error("poll: {}", std::strerror(errno));
      return EX_OSERR;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
        switch (info.ssi_signo) {
          case SIGCHLD:
            Reap();
            break;
          case SIGHUP:
            StartReload(-1);
            break;
          case SIGUSR2:
            Upgrade(-1);
            break;
          case SIGTERM:
          case SIGINT:
            BeginStop(false, -1);
            break;
        }
      }
    }
    size_t index = 1;
    if (control_fd_ >= 0) {
      if (fds[index].revents & POLLIN) OnControlClient();
      ++index;
    }
    for (int number : numbers) {
      short revents = fds[index++].revents;
      if (!(revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (Generation* g = Find(number); g && g->channel >= 0) OnChannel(*g);
    }
    if (watch_index > 0 && fds[watch_index].fd == rule_watch_.fd() &&
        (fds[watch_index].revents & POLLIN)) {
      rule_watch_.OnReadable();
    }
    metrics_.OnPoll(std::vector<pollfd>(fds.begin() + static_cast<long>(metrics_begin), fds.end()));
    CheckDeadlines();
    FlushReloadReplies();
    ReloadIfRulesChanged();
  }
}

}  // namespace

std::string UpgradeReadiness() {
  return fmt::format("mailsift supervisor takes over state {}", kStateFormat);
}

int Run(const Options& options) {
  Supervisor supervisor(options);
  return supervisor.Run();
}

}  // namespace mailsift::supervisor
