// supervisor/upgrade.h — `mailsift upgrade`: the supervisor re-executes the program on disk in
// place (same PID), handing its state to the new program through the environment and inherited
// descriptors — amavisd's reload mechanism, applied to the supervisor itself (DESIGN).
//
// The supervisor first runs `PROGRAM check-upgrade --config FILE` (CheckUpgrade, bounded by
// kUpgradeCheckTimeout): the new program must print UpgradeReadiness() — it understands this
// version of the state handed over in the environment — and exit 0, which it does only when it
// reads the config. Only then does ExecUpgrade exec `PROGRAM foreground --config FILE` in place,
// whatever verb started it (a `start`ed daemon must not daemonize again), with the signals
// still blocked so that no SIGCHLD of a generation is lost across the exec. The new program
// reads the state back (ParseUpgradeState), adopts the listeners, the control socket, the
// metrics listener and the generations, and answers the waiting `mailsift upgrade`. A refused
// or failed upgrade leaves the old supervisor running unchanged.
//
// The state is one line of words in kStateVariable, its first word kStateFormat:
//   v1 next=N reloads=N failed=N crashes=N control=FD client=FD
//      L=name,FD,unix:/path | L=name,FD,host|port   (each listener)
//      T.key=N                                     (the totals of exited generations)
//      M=FD,host|port                              (the metrics listener, when on)
//      G=number,pid,channel,state,digest           (each live generation)
// Thread-safety: pure functions, except CheckUpgrade (a child process it waits for) and
// ExecUpgrade (the process's environment and image); the supervisor's loop only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "net/endpoint.h"
#include "supervisor/metrics_listener.h"

namespace mailsift::supervisor {

inline constexpr std::string_view kStateVariable = "MAILSIFT_SUPERVISOR_STATE";
inline constexpr std::string_view kStateFormat = "v1";  // the first word of the state
inline constexpr std::chrono::seconds kUpgradeCheckTimeout{10};
inline constexpr std::chrono::seconds kUpgradeAnswerWait{25};  // `mailsift upgrade`'s bound

// What check-upgrade prints: "mailsift supervisor takes over state v1".
std::string UpgradeReadiness();

// A listening socket the supervisor owns, under its [[listen]] name.
struct OwnedListener {
  std::string name;
  net::Endpoint address;
  int fd = -1;
};

struct UpgradeState {
  struct Generation {
    int number = 0;
    pid_t pid = -1;
    int channel = -1;
    int state = 0;  // the supervisor's Generation::State as a number
    std::string digest;
  };
  int next_number = 1;
  long long reloads = 0;
  long long failed_reloads = 0;
  long long crashes = 0;
  int control_fd = -1;
  int client = -1;  // the `mailsift upgrade` that waits for the answer; -1: SIGUSR2
  std::vector<OwnedListener> listeners;
  std::map<std::string, long long> finished_totals;
  std::optional<MetricsSocket> metrics;
  std::vector<Generation> generations;
};

std::string FormatUpgradeState(const UpgradeState& state);
// Words it does not know are skipped; a malformed L=, M= or G= word is left out.
UpgradeState ParseUpgradeState(std::string_view text);

// The supervisor's environment for a process it starts (a generation, check-upgrade): without
// systemd's LISTEN_* and NOTIFY_SOCKET (only the supervisor talks to systemd), the upgrade state
// and MAILSIFT_CONTROL_FD.
std::vector<std::string> ChildEnvironment();
// execve(program, args, env); returns only when it fails (errno says why).
void Exec(const std::string& program, std::vector<std::string> args, std::vector<std::string> env);

// Runs `program check-upgrade --config config_path`; an error with the reason when the program
// cannot take over (it is missing, crashes, says something else, or does not answer in time).
Status CheckUpgrade(const std::string& program, const std::string& config_path);

// Execs `program foreground --config config_path` in place with `state` (its descriptors
// inherited). Returns only when the exec failed, with everything restored: the reason.
std::string ExecUpgrade(const std::string& program, const std::string& config_path,
                        const UpgradeState& state);

// Marks `fd` close-on-exec again (or not).
void SetCloseOnExec(int fd, bool on);

// True when `pid` is a live (or exited, not yet reaped) child of this process.
bool IsChildOfOurs(pid_t pid);

}  // namespace mailsift::supervisor
