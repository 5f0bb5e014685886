// generation/generation.cc — see generation.h.
#include "generation/generation.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "filter/server.h"
#include "generation/prefilter.h"
#include "log/log.h"
#include "scan/checks.h"
#include "scan/pipeline.h"
#include "smtp/server_session.h"
#include "supervisor/protocol.h"

namespace mailsift::generation {
namespace {

using supervisor::FormatMessage;
using supervisor::Message;
using supervisor::MessageType;

bool Send(int channel, MessageType type, std::string text = {}) {
  return supervisor::WriteLine(channel, FormatMessage({type, std::move(text)}));
}

// The control channel until the server has stopped: STATUS answered, DRAIN obeyed, and
// STOPPED_ACCEPTING said once every thread has closed its copy of the listening sockets (the
// supervisor then tells the `mailsift reload` that asked that only the new generation accepts).
void Converse(int channel, filter::Server& server, config::Seconds drain_timeout) {
  auto status_text = [&server] { return server.StatusFields(); };
  std::string buffer;
  bool draining = false;
  bool told_stopped_accepting = false;
  while (!server.stopped()) {
    if (draining && !told_stopped_accepting && server.accepting_stopped()) {
      told_stopped_accepting = Send(channel, MessageType::kStoppedAccepting);
    }
    pollfd fd{channel, POLLIN, 0};
    if (::poll(&fd, 1, draining && !told_stopped_accepting ? 5 : 200) <= 0) continue;
    char chunk[512];
    ssize_t n = ::recv(channel, chunk, sizeof chunk, 0);
    if (n <= 0) {
      // The supervisor is gone: finish what we have and leave.
      if (!draining) server.Drain(drain_timeout);
      break;
    }
    buffer.append(chunk, static_cast<size_t>(n));
    for (const auto& line : supervisor::TakeLines(buffer)) {
      auto message = supervisor::ParseMessage(line);
      if (!message) continue;
      if (message->type == MessageType::kDrain && !draining) {
        draining = true;
        server.Drain(drain_timeout);
      } else if (message->type == MessageType::kStatus && message->text.empty()) {
        Send(channel, MessageType::kStatus, status_text());
      }
    }
  }
}

}  // namespace

Status DropPrivileges(const config::Config& config) {
  const auto& s = config.supervisor;
  uid_t uid = 0;
  gid_t gid = 0;
  if (!s.user.empty()) {
    passwd* pw = ::getpwnam(s.user.c_str());
    if (!pw) return Fail("supervisor.user: no user \"" + s.user + "\"");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!s.group.empty()) {
    group* gr = ::getgrnam(s.group.c_str());
    if (!gr) return Fail("supervisor.group: no group \"" + s.group + "\"");
    gid = gr->gr_gid;
  }
  if (!s.chroot.empty()) {
    if (::chroot(s.chroot.c_str()) != 0 || ::chdir("/") != 0) {
      return Fail("supervisor.chroot: " + s.chroot + ": " + std::strerror(errno));
    }
  }
  if (!s.user.empty() || !s.group.empty()) {
    if (::setgroups(0, nullptr) != 0 && errno != EPERM) {
      return Fail(std::string("setgroups: ") + std::strerror(errno));
    }
    if (::setgid(gid) != 0 || (!s.user.empty() && ::setuid(uid) != 0)) {
      return Fail("cannot switch to user \"" + s.user + "\": " + std::strerror(errno));
    }
  }
  return {};
}

void ConfigureLog(const config::Config& config) {
  const char* where = std::getenv("MAILSIFT_LOG");
  const bool detached = where != nullptr && std::string_view(where) == "syslog";
  if (!detached && !config.log.syslog) return;
  log::Configure(
      {log::Level::kInfo, !detached, true, config.log.syslog_ident, config.log.syslog_facility});
}

int Run(const std::string& path) {
  int channel = -1;
  if (const char* fd = std::getenv(std::string(supervisor::kControlFdVariable).c_str())) {
    channel = std::atoi(fd);
    ::unsetenv(std::string(supervisor::kControlFdVariable).c_str());
    ::fcntl(channel, F_SETFD, FD_CLOEXEC);
  }
  auto fail = [&](const std::string& reason, int code) {
    log::Error("{}", reason);
    if (channel >= 0) Send(channel, MessageType::kFailed, reason);
    return code;
  };
  // The supervisor orchestrates: a terminal's Ctrl-C or a HUP is its business, not ours.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto loaded = config::LoadConfig(path);
  if (!loaded) {
    std::string reasons;
    for (const auto& p : loaded.error().items) reasons += (reasons.empty() ? "" : "; ") + p;
    return fail("config: " + reasons, EX_CONFIG);
  }
  config::Config config = std::move(*loaded);
  config::Seconds drain_timeout = config.supervisor.drain_timeout;
  ConfigureLog(config);
  std::promise<void> privileges_dropped;
  const rules::PrefilterOptions prefilter =
      GenerationPrefilter(config, privileges_dropped.get_future().share());

  // Privilege order: the rules are read AND compiled here, as root, before DropPrivileges —
  // the order is kept on purpose, and DESIGN's "drops privileges right after start" holds for
  // everything a peer can reach. Why not drop first: spam.rule_dirs, spam.site_dir and the
  // banned check's libmagic database are paths of the host, outside supervisor.chroot, and
  // sa-update's directory may be root's alone; as supervisor.user inside the chroot the
  // generation could not read them (tests/integration/test_supervisor.py's chroot case). Why
  // not "read as root, compile after the drop": scan::BuildChecks reads and compiles in one
  // step (the .cf parser follows `include` lines as it reads). What runs as root is therefore
  // only the parsing of root's own files — the same trust as the config file, never mail or a
  // peer's bytes: no listener is served (filter::Server::Run) and no child process started
  // before the drop. The prefilter's builder process and its cache file wait for the drop
  // (`privileges_dropped`, the start gate), so they are the service user's.
  //
  // The checks are built before anything is served: a broken ruleset or banned pattern fails
  // this generation, and on a reload the running one keeps serving.
  std::unique_ptr<scan::Pipeline> pipeline;
  std::string rules_digest;
  {
    auto built = scan::BuildChecks(config, prefilter);
    if (!built) return fail(built.error().message, EX_CONFIG);
    for (const std::string& summary : built->summaries) log::Info("{}", summary);
    rules_digest = built->rules_digest;
    if (!built->checks.empty()) {
      pipeline =
          std::make_unique<scan::Pipeline>(std::move(built->checks), config.spam.scan_threads);
    }
  }
  filter::Server server(config, std::move(pipeline));
  auto passed = supervisor::TakeListenFds();
  if (channel >= 0 || !passed.empty()) {
    std::vector<int> fds;
    for (const auto& listener : config.listeners) {
      auto it = std::find_if(passed.begin(), passed.end(),
                             [&](const auto& p) { return p.name == listener.name; });
      if (it == passed.end()) return fail("listener " + listener.name + " was not passed", 71);
      fds.push_back(it->fd);
    }
    for (const auto& p : passed) {
      if (std::find(fds.begin(), fds.end(), p.fd) == fds.end()) ::close(p.fd);
    }
    if (auto status = server.Adopt(fds); !status) return fail(status.error().message, EX_OSERR);
  } else if (auto status = server.Listen(); !status) {
    return fail(status.error().message, EX_OSERR);
  }
  if (auto dropped = DropPrivileges(config); !dropped) {
    return fail(dropped.error().message, EX_NOPERM);
  }
  privileges_dropped.set_value();
  // Checked as the user we now are (and inside the chroot, if any).
  if (::access(config.spool.directory.c_str(), W_OK | X_OK) != 0) {
    return fail("spool.directory: \"" + config.spool.directory + "\" is not a writable directory",
                EX_CONFIG);
  }

  std::thread runner([&server] { server.Run(); });
  std::thread signal_thread([&server, signals] {
    int number = 0;
    while (sigwait(&signals, &number) == 0) {
      if (number == SIGTERM) {
        server.Stop();
        return;
      }
    }
  });
  if (channel >= 0) {
    if (!rules_digest.empty()) Send(channel, MessageType::kRules, rules_digest);
    Send(channel, MessageType::kReady);
    Converse(channel, server, drain_timeout);
  } else {
    log::Info("running standalone (no supervisor): SIGTERM stops");
  }
  runner.join();
  if (channel >= 0) Send(channel, MessageType::kStatus, server.StatusFields());
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return EX_OK;
}

}  // namespace mailsift::generation
