// supervisor/supervisor.cc — see supervisor.h.
#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
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

#include "base/strings.h"
#include "config/config.h"
#include "log/log.h"
#include "net/endpoint.h"
#include "supervisor/control.h"
#include "supervisor/deadlines.h"
#include "supervisor/handoff.h"
#include "supervisor/metrics.h"
#include "supervisor/metrics_listener.h"
#include "supervisor/protocol.h"
#include "supervisor/rule_watch.h"
#include "supervisor/status_report.h"
#include "supervisor/upgrade.h"

namespace mailsift::supervisor {
namespace {

using Clock = std::chrono::steady_clock;
using HandoffKind = Handoff::Kind;

// Says `type` to a generation on its channel; false when it is gone (or has no channel).
bool Tell(int channel, MessageType type) {
  return channel >= 0 && WriteLine(channel, FormatMessage({type}));
}

// Where to scrape: "http://127.0.0.1:9985/metrics", "http://[::1]:9985/metrics".
std::string MetricsUrl(const net::Endpoint& address) {
  bool v6 = address.host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/metrics", v6 ? "[" : "", address.host, v6 ? "]" : "",
                     address.port);
}

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
  bool BindListeners(const config::Config& config, std::vector<int>& opened, std::string& error);
  // Binds [metrics] address when it differs from the one served now; `changed` gets the new
  // socket (fd -1 when the config turns metrics off). False, with the reason, if it cannot.
  bool BindMetrics(const config::Config& config, std::optional<MetricsSocket>& changed,
                   std::string& error);
  // Serves the metrics on `socket` from now on, closing the listener served before.
  void ServeMetrics(const MetricsSocket& socket);
  bool WritePidFile(std::string& error);
  void Finish(int code);

  // Generations.
  // Starts a generation with `config`: its number, or 0 with the reason.
  int Spawn(const config::Config& config, std::string& error);
  // Drops what a handoff that failed had bound for it: listeners, the metrics socket.
  void UndoHandoff(Handoff::Held& held);
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

  // The handoff in progress (the new generation, who waits for it, what is queued behind it),
  // and the answers of finished reloads waiting for the old generations to stop accepting.
  Handoff handoff_;
  ReloadAnswers reload_answers_;

  // Each generation's READY or drain deadline, the crash restart, the stop's deadline.
  Deadlines deadlines_;

  // Stop.
  bool stopping_ = false;
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

void Supervisor::UndoHandoff(Handoff::Held& held) {
  CloseListeners(held.opened);
  held.opened.clear();
  if (held.metrics && held.metrics->fd >= 0) ::close(held.metrics->fd);
  held.metrics.reset();
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
  for (int client : stop_clients_) Answer(client, code == 0 ? "ok stopped" : "error stopped");
  stop_clients_.clear();
  for (auto& l : listeners_) {
    ::close(l.fd);
    if (l.address.kind == net::Endpoint::Kind::kUnix) ::unlink(l.address.path.c_str());
  }
  listeners_.clear();
  metrics_.Close();
  if (!handoff_.idle()) {
    Handoff::Held held = handoff_.End();
    if (held.metrics && held.metrics->fd >= 0) ::close(held.metrics->fd);
  }
  if (control_fd_ >= 0) {
    ::close(control_fd_);
    ::unlink(config_.control.socket.c_str());
  }
  if (!config_.control.pid_file.empty()) ::unlink(config_.control.pid_file.c_str());
  Notify("STOPPING=1");
}

// --- generations ------------------------------------------------------------------------------

int Supervisor::Spawn(const config::Config& config, std::string& error) {
  std::vector<NamedFd> fds;
  for (const auto& wanted : config.listeners) {
    auto it = std::find_if(listeners_.rbegin(), listeners_.rend(), [&](const OwnedListener& l) {
      return l.name == wanted.name && l.address == wanted.address;
    });
    if (it == listeners_.rend()) {
      error = fmt::format("listener {} is not bound", wanted.name);
      return 0;
    }
    fds.push_back({wanted.name, it->fd});
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    error = fmt::format("socketpair: {}", std::strerror(errno));
    return 0;
  }
  int number = next_number_++;
  std::string names;
  for (const auto& f : fds) names += (names.empty() ? "" : ":") + f.name;
  pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork: {}", std::strerror(errno));
    ::close(pair[0]);
    ::close(pair[1]);
    return 0;
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
    std::vector<std::string> env_strings = ChildEnvironment();
    env_strings.push_back(fmt::format("LISTEN_FDS={}", count));
    env_strings.push_back(fmt::format("LISTEN_FDNAMES={}", names));
    env_strings.push_back(fmt::format("LISTEN_PID={}", ::getpid()));
    env_strings.push_back(fmt::format("{}={}", kControlFdVariable, 3 + count));
    env_strings.push_back(fmt::format("MAILSIFT_GENERATION={}", number));
    Exec(options_.program, {options_.program, "generation", "--config", options_.config_path},
         std::move(env_strings));
    std::string reason =
        fmt::format("cannot execute {}: {}", options_.program, std::strerror(errno));
    std::string message = FormatMessage({MessageType::kFailed, reason}) + "\n";
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
  deadlines_.AwaitReady(number, Clock::now(), config.supervisor.ready_timeout);
  log::Info("starting generation {} (pid {}) with config {}", number, pid, config.digest);
  generations_.push_back(std::move(generation));
  return number;
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
  if (reload_answers_.empty()) return;
  bool old_still_accepting = false;
  for (const auto& g : generations_) {
    if (g->state == Generation::State::kDraining && !g->exited && g->channel >= 0 &&
        !g->stopped_accepting) {
      old_still_accepting = true;
    }
  }
  for (const auto& [client, text] : reload_answers_.TakeDue(Clock::now(), old_still_accepting)) {
    Answer(client, text);
  }
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
    auto message = ParseMessage(line);
    if (!message) continue;
    switch (message->type) {
      case MessageType::kReady:
        OnReady(generation);
        break;
      case MessageType::kFailed: {
        std::string reason = message->text.empty() ? "no reason given" : message->text;
        if (generation.number == handoff_.generation()) {
          FailHandoff(generation, reason);
        } else {
          log::Warn("generation {} reported: {}", generation.number, reason);
        }
        break;
      }
      case MessageType::kStatus:
        generation.last_status = ParseStatus(message->text);
        ++generation.status_replies;
        break;
      case MessageType::kRules:
        generation.rules = message->text;
        break;
      case MessageType::kStoppedAccepting:
        generation.stopped_accepting = true;
        break;
      case MessageType::kDrain:  // the supervisor's own word: never sent to it
        break;
    }
  }
}

void Supervisor::OnReady(Generation& generation) {
  if (handoff_.idle() || generation.number != handoff_.generation()) return;
  generation.state = Generation::State::kServing;
  deadlines_.Clear(generation.number);
  // Promote: every older serving generation drains now. Until this moment it kept accepting,
  // and the new one has been accepting since before it said READY: no gap.
  for (auto& older : generations_) {
    if (older.get() == &generation || older->exited) continue;
    if (older->state == Generation::State::kServing) {
      older->state = Generation::State::kDraining;
      deadlines_.AwaitExit(older->number, Clock::now(), config_.supervisor.drain_timeout);
      if (!Tell(older->channel, MessageType::kDrain)) ::kill(older->pid, SIGTERM);
      log::Info("generation {} (pid {}) draining", older->number, older->pid);
    }
  }
  Handoff::Held held = handoff_.End();
  if (held.config) config_ = std::move(*held.config);
  ConfigureRuleWatch();
  if (held.metrics) {
    // A changed [metrics] address serves from now on (connections the old listener accepted
    // are still answered).
    ServeMetrics(*held.metrics);
  }
  deadlines_.Served();
  std::string message =
      fmt::format("generation {} (pid {}) serving, config {}, rules {}", generation.number,
                  generation.pid, generation.digest, generation.rules);
  log::Info("{}", message);
  // The reload's answer waits until the old generations have stopped accepting (at most
  // kStopAcceptingWait): after "ok", every new connection is the new generation's.
  reload_answers_.Add(held.clients, "ok " + message, Clock::now());
  FlushReloadReplies();
  if (held.kind == HandoffKind::kFirstStart) {
    Notify(fmt::format("READY=1\nMAINPID={}\nSTATUS={}", ::getpid(), message));
    if (options_.ready_fd >= 0) {
      WriteLine(options_.ready_fd, "ok " + message);
      ::close(options_.ready_fd);
      options_.ready_fd = -1;
    }
  } else {
    if (held.kind == HandoffKind::kReload) ++reloads_;
    Notify("READY=1\nSTATUS=" + message);
  }
  RunQueuedReloads();
}

void Supervisor::RunQueuedReloads() {
  auto clients = handoff_.TakeQueuedReload();
  if (!clients) {
    if (handoff_.upgrade_queued() && handoff_.idle()) Upgrade(*handoff_.TakeQueuedUpgrade());
    return;
  }
  if (clients->empty()) StartReload(-1);  // queued by a signal
  for (int client : *clients) StartReload(client);
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
  if (handoff_.idle() || generation.number != handoff_.generation()) return;
  if (!generation.exited) ::kill(generation.pid, SIGKILL);
  generation.state = Generation::State::kDraining;  // on its way out
  Handoff::Held held = handoff_.End();
  UndoHandoff(held);
  Generation* serving = Serving();
  std::string message =
      serving
          ? fmt::format("reload failed: {}; generation {} keeps serving", reason, serving->number)
          : fmt::format("generation {} failed: {}", generation.number, reason);
  log::Error("{}", message);
  if (held.kind == HandoffKind::kReload) ++failed_reloads_;
  for (int client : held.clients) Answer(client, "error " + message);
  if (held.kind == HandoffKind::kFirstStart) {
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
    deadlines_.RestartAfterFailedStart(Clock::now());
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
    std::string how = WIFEXITED(status)     ? fmt::format("exit status {}", WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? fmt::format("signal {}", strsignal(WTERMSIG(status)))
                                            : std::string("unknown status");
    for (const auto& [key, value] : g.last_status) {
      if (key != "active") finished_totals_[key] += value;
    }
    if (g.number == handoff_.generation()) {
      FailHandoff(g, fmt::format("generation {} exited before READY ({})", g.number, how));
    } else if (g.state == Generation::State::kServing) {
      ++crashes_;
      log::Error("generation {} (pid {}) crashed ({}); the listening sockets stay open", g.number,
                 g.pid, how);
      if (!stopping_ && handoff_.idle()) deadlines_.RestartAfterCrash(Clock::now());
    } else {
      log::Info("generation {} (pid {}) exited ({})", g.number, g.pid, how);
    }
    if (g.channel >= 0) ::close(g.channel);
    deadlines_.Clear(g.number);
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
  if (older_alive || !handoff_.idle()) return;
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
    if (g->exited || !deadlines_.GenerationDue(g->number, now)) continue;
    if (g->number == handoff_.generation()) {
      const auto& held = handoff_.held();
      const config::Config& config = held.config ? *held.config : config_;
      FailHandoff(*g, fmt::format("generation {} did not report READY within {} s", g->number,
                                  config.supervisor.ready_timeout.count()));
    } else if (g->state == Generation::State::kDraining) {
      log::Warn("generation {} (pid {}) still busy at the drain deadline: killed", g->number,
                g->pid);
      ::kill(g->pid, SIGKILL);
      deadlines_.Clear(g->number);
    }
  }
  if (deadlines_.TakeRestart(now)) {
    if (!Serving() && handoff_.idle() && !stopping_) {
      std::string error;
      log::Info("starting a replacement generation");
      if (int number = Spawn(config_, error); number != 0) {
        handoff_.Begin(number, Handoff::Held(HandoffKind::kReplacement));
      } else {
        log::Error("cannot start a generation: {}", error);
        deadlines_.RetryRestart(Clock::now());
      }
    }
  }
  if (stopping_ && deadlines_.TakeStop(now)) {
    for (auto& g : generations_) {
      if (!g->exited) ::kill(g->pid, SIGKILL);
    }
  }
}

// --- requests ---------------------------------------------------------------------------------

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
    Answer(client, "error the service is stopping");
    return;
  }
  if (!handoff_.idle()) {
    // A handoff is running: this request is served by one more reload after it.
    handoff_.QueueReload(client);
    log::Info("reload queued behind generation {}", handoff_.generation());
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
    Answer(client, "error " + message);
    return;
  }
  std::string error;
  Handoff::Held held(HandoffKind::kReload);
  if (!BindListeners(*loaded, held.opened, error) || !BindMetrics(*loaded, held.metrics, error)) {
    CloseListeners(held.opened);
    std::string message = "reload failed: " + error;
    log::Error("{}", message);
    ++failed_reloads_;
    Notify("READY=1\nSTATUS=" + message);
    Answer(client, "error " + message);
    return;
  }
  int number = Spawn(*loaded, error);
  if (number == 0) {
    UndoHandoff(held);
    ++failed_reloads_;
    Answer(client, "error reload failed: " + error);
    return;
  }
  held.config = std::move(*loaded);
  if (client >= 0) held.clients.push_back(client);
  handoff_.Begin(number, std::move(held));
}

std::map<std::string, long long> Supervisor::CollectTotals() {
  // Ask every live generation, and wait briefly for the answers of those that serve or drain
  // (a starting one answers only once it is READY; its answer arrives through the loop).
  std::map<int, long long> asked;  // generation number → STATUS replies before asking
  for (auto& g : generations_) {
    if (g->exited || !Tell(g->channel, MessageType::kStatus)) continue;
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
  Answer(client, "ok " + (json ? FormatStatusJson(report) : FormatStatusText(report)));
}

void Supervisor::BeginStop(bool fast, int client) {
  if (client >= 0) stop_clients_.push_back(client);
  if (stopping_ && !fast) return;
  stopping_ = true;
  Notify("STOPPING=1");
  log::Info("stopping{}", fast ? " now" : ": draining every generation");
  deadlines_.Stop(Clock::now(), fast, config_.supervisor.drain_timeout);
  for (auto& g : generations_) {
    if (g->exited) continue;
    if (fast || g->state == Generation::State::kStarting) {
      ::kill(g->pid, SIGKILL);
    } else {
      g->state = Generation::State::kDraining;
      if (!Tell(g->channel, MessageType::kDrain)) ::kill(g->pid, SIGTERM);
    }
  }
  for (int c : handoff_.TakeWaitingClients()) Answer(c, "error the service is stopping");
  if (auto upgrade = handoff_.TakeQueuedUpgrade()) {
    Answer(*upgrade, "error the service is stopping");
  }
  if (generations_.empty()) {
    Finish(0);
    ::exit(EX_OK);
  }
}

void Supervisor::Upgrade(int client) {
  if (stopping_) {
    Answer(client, "error the service is stopping");
    return;
  }
  if (!handoff_.idle() || handoff_.reload_queued()) {
    // The state of a handoff does not travel: the upgrade runs once the handoff is over.
    if (!handoff_.QueueUpgrade(client)) {
      Answer(client, "error an upgrade is already waiting for the running reload");
      return;
    }
    log::Info("upgrade queued behind generation {}", handoff_.generation());
    return;
  }
  log::Info("upgrade: checking {}", options_.program);
  if (auto checked = CheckUpgrade(options_.program, options_.config_path); !checked) {
    std::string message = fmt::format("upgrade refused: {}; supervisor pid {} keeps running",
                                      checked.error().message, ::getpid());
    log::Error("{}", message);
    Answer(client, "error " + message);
    return;
  }
  // The state travels in one environment variable; the fds it names are inherited.
  UpgradeState state;
  state.next_number = next_number_;
  state.reloads = reloads_;
  state.failed_reloads = failed_reloads_;
  state.crashes = crashes_;
  state.control_fd = control_fd_;
  state.client = client;
  state.listeners = listeners_;
  state.finished_totals = finished_totals_;
  if (metrics_.fd() >= 0) state.metrics = MetricsSocket{metrics_.fd(), metrics_.address()};
  for (const auto& g : generations_) {
    if (g->exited) continue;
    state.generations.push_back(
        {g->number, g->pid, g->channel, static_cast<int>(g->state), g->digest});
  }
  log::Info("upgrade: executing {} in place (pid {})", options_.program, ::getpid());
  std::string error = ExecUpgrade(options_.program, options_.config_path, state);
  // Still here: the exec failed; keep running as we were.
  log::Error("upgrade failed: cannot execute {}: {}", options_.program, error);
  Answer(client, fmt::format("error upgrade failed: cannot execute {}: {}; supervisor pid {} keeps "
                             "running",
                             options_.program, error, ::getpid()));
}

bool Supervisor::Adopt() {
  const char* raw = ::getenv(std::string(kStateVariable).c_str());
  if (!raw) return false;
  std::string text(raw);
  ::unsetenv(std::string(kStateVariable).c_str());
  if (!text.starts_with(std::string(kStateFormat) + " ")) {
    // check-upgrade said we understand it; anything else is our bug.
    log::Error("upgrade: state of an unknown format: {}", text.substr(0, 40));
  }
  UpgradeState state = ParseUpgradeState(text);
  next_number_ = state.next_number;
  reloads_ = state.reloads;
  failed_reloads_ = state.failed_reloads;
  crashes_ = state.crashes;
  control_fd_ = state.control_fd;
  int client = state.client;
  for (const auto& l : state.listeners) {
    SetCloseOnExec(l.fd, true);
    listeners_.push_back(l);
  }
  finished_totals_ = state.finished_totals;
  if (state.metrics) {
    SetCloseOnExec(state.metrics->fd, true);
    metrics_.Listen(state.metrics->fd, state.metrics->address);
  }
  for (const auto& adopted : state.generations) {
    auto g = std::make_unique<Generation>();
    g->number = adopted.number;
    g->pid = adopted.pid;
    g->channel = adopted.channel;
    g->state = static_cast<Generation::State>(adopted.state);
    g->digest = adopted.digest;
    if (g->state == Generation::State::kDraining) {
      deadlines_.AwaitExit(g->number, Clock::now(), config_.supervisor.drain_timeout);
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
      deadlines_.Clear(g->number);
      continue;
    }
    generations_.push_back(std::move(g));
  }
  if (control_fd_ >= 0) SetCloseOnExec(control_fd_, true);
  // A generation that exited while the old program was being replaced: its SIGCHLD is still
  // pending (the signals stayed blocked across the exec), but reap it now, before anything
  // reports it.
  Reap();
  if (!Serving() && handoff_.idle() && !stopping_) deadlines_.RestartNow(Clock::now());
  log::Info("upgraded in place: pid {}, {} listener(s), {} generation(s) adopted", ::getpid(),
            listeners_.size(), generations_.size());
  Notify(fmt::format("MAINPID={}\nREADY=1\nSTATUS=upgraded in place", ::getpid()));
  if (client >= 0) {
    SetCloseOnExec(client, true);
    Answer(client, fmt::format("ok upgraded in place: supervisor pid {} runs {}", ::getpid(),
                               options_.program));
  }
  return true;
}

void Supervisor::OnControlClient() {
  auto client = AcceptControlClient(control_fd_);
  if (!client) return;
  auto request = ParseRequest(client->line);
  if (!request) {
    Answer(client->fd, std::string(kUnknownRequest));
    return;
  }
  switch (*request) {
    case Request::kReload:
      StartReload(client->fd);
      break;
    case Request::kStatus:
      Status(client->fd, false);
      break;
    case Request::kStatusJson:
      Status(client->fd, true);
      break;
    case Request::kStop:
      BeginStop(false, client->fd);
      break;
    case Request::kStopFast:
      BeginStop(true, client->fd);
      break;
    case Request::kUpgrade:
      Upgrade(client->fd);
      break;
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
    bool bound = BindListeners(config_, opened, error) && BindMetrics(config_, metrics, error);
    if (bound) {
      if (auto fd = OpenControlSocket(config_.control.socket, config_.control.socket_mode)) {
        control_fd_ = *fd;
      } else {
        error = fd.error().message;
        bound = false;
      }
    }
    if (!bound) {
      if (metrics) metrics_.Listen(metrics->fd, metrics->address);  // closed by Finish
      log::Error("{}", error);
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error " + error);
      Finish(1);
      return EX_OSERR;
    }
    if (metrics) ServeMetrics(*metrics);
    int number = Spawn(config_, error);
    if (number == 0) {
      log::Error("{}", error);
      if (options_.ready_fd >= 0) WriteLine(options_.ready_fd, "error " + error);
      Finish(1);
      return EX_OSERR;
    }
    handoff_.Begin(number, Handoff::Held(HandoffKind::kFirstStart, config_));
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
    auto next = std::min(
        {deadlines_.Next(), metrics_.NextDeadline(), rule_watch_.Due(), reload_answers_.Due()});
    int timeout = PollTimeout(next, Clock::now());
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

int Run(const Options& options) {
  Supervisor supervisor(options);
  return supervisor.Run();
}

}  // namespace mailsift::supervisor
