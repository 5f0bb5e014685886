// generation/generation.h — one generation of the filter: the process that the supervisor
// starts with the listening sockets (`mailsift generation`, supervisor/supervisor.h) and that
// serves mail with one immutable config and compiled ruleset until it is told to drain.
//
// Run() loads the config, builds the checks (the rules read and compiled, before anything is
// served: a broken ruleset fails this generation and, on a reload, the serving one stays),
// takes the listening sockets passed to it (LISTEN_FDS, supervisor/protocol.h) or, standalone,
// binds them itself, drops privileges (supervisor.user, .group, .chroot), checks that it can
// write its spool directory as the user it now is, and serves (filter::Server). On the control
// channel (MAILSIFT_CONTROL_FD) it reports RULES and READY, or FAILED with the reason and its
// exit code; then it answers STATUS, drains on DRAIN and says STOPPED_ACCEPTING once none of
// its threads accepts any more (each has closed its copy of the listening sockets; the fds it
// was passed stay open, never accepted on, until Run() returns, so the kernel still queues
// connections for whoever else holds the socket). EOF on the channel (the supervisor is gone)
// drains it too.
// Standalone (no channel, nothing passed) SIGTERM stops it. SIGTERM, SIGINT, SIGHUP and SIGUSR2
// are the supervisor's business, not the generation's: they stay blocked, and only SIGTERM,
// taken by a thread of its own, stops the server.
//
// It reports on stderr or syslog as the config's [log] says (ConfigureLog).
// Thread-safety: Run() is the process's main function, called once from main(); the server's
// I/O and scan threads are its own. ConfigureLog and DropPrivileges change process-wide state
// and belong to start-up, before other threads run.
#pragma once

#include <string>

#include "base/error.h"
#include "config/config.h"

namespace mailsift::generation {

// Runs one generation with the config file at `config_path` (absolute) until it has drained
// or stopped. Returns the process exit code: 0, EX_CONFIG (78) for a config or check that does
// not load or a spool directory it cannot write, EX_NOPERM (77) when privileges cannot be
// dropped, EX_OSERR (71) when a listener was not passed or the server cannot listen.
int Run(const std::string& config_path);

// The config's [log] settings: syslog with its ident and facility when asked for (or when the
// supervisor runs detached, MAILSIFT_LOG=syslog), stderr unless detached. Also the supervisor's
// (cli/main.cc), which a generation inherits its stderr from.
void ConfigureLog(const config::Config& config);

// Becomes supervisor.user and supervisor.group and enters supervisor.chroot, as the config
// says (nothing when they are empty). The error names the key that cannot be applied.
Status DropPrivileges(const config::Config& config);

}  // namespace mailsift::generation
