// supervisor/supervisor.h — the stable process that owns the listening sockets and hands them
// from one generation of the filter to the next.
//
// The supervisor binds every listener (or takes it from systemd), starts a generation
// (fork+exec of the program on disk, `mailsift generation`) with the listening fds, and on a
// reload starts the next one with the same fds: only when the new generation reports READY is
// the old one told to DRAIN, so there is never a moment without an accepting process, and the
// kernel accept queue (shared by both) keeps every connection that arrives meanwhile. A new
// generation that fails — bad config, a spool directory it cannot write, a crash, no READY
// within ready_timeout — is killed and the old one never notices. A serving generation that
// crashes is replaced at once (with backoff when it keeps crashing).
//
// `upgrade` re-executes the supervisor in place (same PID), handing its listeners, control
// socket and generations to the new program through inherited fds.
//
// The supervisor also serves the Prometheus metrics (`[metrics] address`, supervisor/metrics.h):
// it keeps the totals of generations that have exited, so counters never reset on a reload,
// and the HTTP listener, like the SMTP ones, outlives every generation (and an upgrade).
//
// With `[spam] watch_rule_dirs` it also watches the rule directories (supervisor/rule_watch.h)
// and, once sa-update or an editor has finished writing (no change for watch_quiet_period),
// starts a reload as `mailsift reload` does; rules that do not load are refused as usual.
//
// The supervisor never parses mail and never links the scanner. It is single-threaded: one
// poll loop over signals (signalfd), the control socket, the generations' channels, the rule
// watch's inotify descriptor and the metrics listener's non-blocking connections.
// It reports on stderr/syslog and to systemd (READY=1, RELOADING=1, STATUS=, MAINPID=).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mailsift::supervisor {

struct Options {
  std::string config_path;  // absolute
  std::string program;      // absolute path of the program on disk
  int ready_fd = -1;  // `start`: "ok ..." or "error ..." is written here once known
};

// Upgrade. The supervisor first runs `PROGRAM check-upgrade --config FILE` (bounded by
// kUpgradeCheckTimeout): the new program must print UpgradeReadiness() — it understands this
// version of the state handed over in the environment — and exit 0, which it does only when
// it reads the config. Only then does the supervisor exec `PROGRAM foreground --config FILE`
// in place, whatever verb started it (a `start`ed daemon must not daemonize again), with its
// signals still blocked so that no SIGCHLD of a generation is lost across the exec. The new
// program answers the waiting `mailsift upgrade` once it has adopted the listeners, the
// control socket and the generations. A refused or failed upgrade leaves the old supervisor
// running unchanged.
inline constexpr std::chrono::seconds kUpgradeCheckTimeout{10};
inline constexpr std::chrono::seconds kUpgradeAnswerWait{25};  // `mailsift upgrade`'s bound
std::string UpgradeReadiness();

// Runs the supervisor until it stops. Returns the process exit code.
int Run(const Options& options);

}  // namespace mailsift::supervisor
