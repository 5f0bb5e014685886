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
// socket and generations to the new program through inherited fds (supervisor/upgrade.h).
//
// Its parts: the handoff's state (supervisor/handoff.h), the control socket and its requests
// (supervisor/control.h), the upgrade (supervisor/upgrade.h), the channel to each generation
// (supervisor/protocol.h); this file's Run() is the loop that ties them together.
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

#include <string>

#include "supervisor/upgrade.h"

namespace mailsift::supervisor {

struct Options {
  std::string config_path;  // absolute
  std::string program;      // absolute path of the program on disk
  int ready_fd = -1;        // `start`: "ok ..." or "error ..." is written here once known
};

// Upgrade (`mailsift upgrade`, SIGUSR2): supervisor/upgrade.h — check-upgrade, then an exec
// in place that hands everything over; kUpgradeAnswerWait bounds `mailsift upgrade`'s wait.

// Runs the supervisor until it stops. Returns the process exit code.
int Run(const Options& options);

}  // namespace mailsift::supervisor
