// supervisor/deadlines.h — the supervisor's timers: when a starting generation must have said
// READY (supervisor.ready_timeout), when a draining one must have exited (drain_timeout and a
// grace of kDrainGrace), when a replacement generation is started after a crash (the backoff),
// and when a stop kills whatever still runs. CheckDeadlines asks it what is due; the loop asks
// it when to wake up next (Next, PollTimeout).
//
// What happens at a deadline stays the supervisor's: a generation whose deadline has passed
// stays due until the supervisor clears it (it fails the handoff, or kills the generation); a
// restart or a stop that is due is taken once. Time is passed in (`now`), never read, so that
// tests drive it as handoff_test and rule_watch_test do.
//
// The restart backoff counts the crashes in a row (reset when a generation says READY): after
// a serving generation crashed, the first replacement starts at once, the next after 2, 4, 8,
// 16 s, then every 30 s; after a replacement failed with nothing serving, 1 s, then 2, 4, 8,
// 16, 30 s likewise.
//
// Deadlines does no I/O and kills nothing. Thread-safety: single-threaded, the supervisor's
// loop only.
#pragma once

#include <chrono>
#include <map>

#include "config/config.h"

namespace mailsift::supervisor {

class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;
  // A draining generation's time past drain_timeout before it is killed (its own drain ends at
  // drain_timeout; this is for its last words and its exit), also a graceful stop's.
  static constexpr config::Seconds kDrainGrace{5};
  // After a replacement generation could not be started at all (fork failed).
  static constexpr config::Seconds kSpawnRetry{5};
  static constexpr int kMaxPollTimeoutMs = 1000;

  // --- generations, by number: at most one deadline each, every call replaces it ------------
  // Started at `now`: it must say READY within `ready_timeout`.
  void AwaitReady(int generation, Clock::time_point now, config::Seconds ready_timeout);
  // Told to drain at `now`: it must have exited within `drain_timeout` + kDrainGrace.
  void AwaitExit(int generation, Clock::time_point now, config::Seconds drain_timeout);
  // It said READY, was killed, or has gone.
  void Clear(int generation);
  // True once `now` is at or past its deadline, until Clear().
  bool GenerationDue(int generation, Clock::time_point now) const;

  // --- restarts -------------------------------------------------------------------------------
  // A serving generation crashed at `now`: a replacement after the backoff (none for the first
  // crash in a row). Counts the crash.
  void RestartAfterCrash(Clock::time_point now);
  // A generation failed to start at `now` and nothing serves: another one after the backoff
  // (at least 1 s). Counts the failure.
  void RestartAfterFailedStart(Clock::time_point now);
  // A replacement could not be started at `now`: try again after kSpawnRetry.
  void RetryRestart(Clock::time_point now);
  // At `now` (an upgrade found nothing serving).
  void RestartNow(Clock::time_point now);
  // A generation said READY: the crashes in a row start again from none.
  void Served() { crashes_in_a_row_ = 0; }
  int crashes_in_a_row() const { return crashes_in_a_row_; }
  // True, once, when the restart is due at `now` (then none is pending).
  bool TakeRestart(Clock::time_point now);

  // --- stop -----------------------------------------------------------------------------------
  // A stop began at `now`: `fast` kills at once, else after drain_timeout + kDrainGrace.
  void Stop(Clock::time_point now, bool fast, config::Seconds drain_timeout);
  // True, once, when the stop's deadline is due at `now`.
  bool TakeStop(Clock::time_point now);

  // The earliest deadline of all; Clock::time_point::max() when none is set.
  Clock::time_point Next() const;

 private:
  std::map<int, Clock::time_point> generations_;
  Clock::time_point restart_at_ = Clock::time_point::max();
  Clock::time_point stop_at_ = Clock::time_point::max();
  int crashes_in_a_row_ = 0;
};

// The poll timeout (ms) of a loop that must wake at `next`: until just past it, at most
// Deadlines::kMaxPollTimeoutMs, 0 when it has passed; the maximum when `next` is
// Clock::time_point::max().
int PollTimeout(Deadlines::Clock::time_point next, Deadlines::Clock::time_point now);

}  // namespace mailsift::supervisor
