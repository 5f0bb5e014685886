// supervisor/handoff.h — the state of a generation handoff: which new generation the supervisor
// waits for, what it started it with, who waits for the outcome, and what waits for it to end.
//
// A handoff is idle or starting. It starts when the supervisor has started a generation —
// the first one (kFirstStart), one for a reload (kReload: `mailsift reload`, SIGHUP, the rule
// watch), or one that replaces a crashed generation (kReplacement) — and holds until that
// generation says READY, fails, exits or misses its ready_timeout; End() then gives back what
// it held, for the supervisor to apply (READY: the config, the metrics socket, the answers) or
// to undo (the listeners bound for it, the metrics socket). Only one handoff runs at a time:
// a reload or an upgrade asked meanwhile is queued here and taken once it is over.
//
// A finished reload is answered once the old generations have stopped accepting, or after
// kStopAcceptingWait: the answers wait in ReloadAnswers. Time is passed in (`now`), never read,
// so that tests drive it as rule_watch_test does.
//
// Handoff holds no descriptor it closes and does no I/O: the supervisor replies, closes and
// kills. Thread-safety: single-threaded, the supervisor's loop only.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "supervisor/metrics_listener.h"

namespace mailsift::supervisor {

class Handoff {
 public:
  enum class State { kIdle, kStarting };
  enum class Kind { kFirstStart, kReload, kReplacement };

  // What a starting handoff holds.
  struct Held {
    Held() = default;
    explicit Held(Kind held_kind, std::optional<config::Config> held_config = std::nullopt)
        : kind(held_kind), config(std::move(held_config)) {}
    Kind kind = Kind::kReplacement;
    std::optional<config::Config> config;  // the new generation's; none: the serving config
    std::vector<int> opened;               // listener fds bound for it
    std::optional<MetricsSocket> metrics;  // set when it changes the metrics listener
    std::vector<int> clients;              // control clients waiting for the outcome
  };

  State state() const { return state_; }
  bool idle() const { return state_ == State::kIdle; }
  // The generation waited for; 0 when idle.
  int generation() const { return generation_; }
  const Held& held() const { return held_; }

  // Idle → starting: generation `number` was started with what `held` says.
  void Begin(int number, Held held);
  // Starting → idle: what it held.
  Held End();

  // Requests that arrive while a handoff runs. A reload queued by a signal or the rule watch
  // has no client (-1); every queued client is served by one more reload.
  void QueueReload(int client);
  bool reload_queued() const { return reload_queued_; }
  // The queued reload's clients (empty when a signal queued it); nullopt when none is queued.
  std::optional<std::vector<int>> TakeQueuedReload();
  // False when an upgrade is already queued.
  bool QueueUpgrade(int client);
  bool upgrade_queued() const { return upgrade_queued_; }
  // The queued upgrade's client (-1: a signal's); nullopt when none is queued.
  std::optional<int> TakeQueuedUpgrade();
  // Stopping: every client waiting for the handoff or for a queued reload, taken (the queued
  // reload itself stays queued; it is refused when it runs).
  std::vector<int> TakeWaitingClients();

 private:
  State state_ = State::kIdle;
  int generation_ = 0;
  Held held_;
  bool reload_queued_ = false;
  std::vector<int> queued_clients_;
  bool upgrade_queued_ = false;
  int upgrade_client_ = -1;
};

// The answers of reloads whose handoff is done, waiting until no old generation accepts any
// more (after "ok", every new connection is the new generation's), for kStopAcceptingWait at
// the most.
class ReloadAnswers {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kStopAcceptingWait{2000};

  // `text` for each of `clients`; the wait restarts at `now`.
  void Add(const std::vector<int>& clients, const std::string& text, Clock::time_point now);
  bool empty() const { return answers_.empty(); }
  // When the answers are due at the latest; Clock::time_point::max() when there are none.
  Clock::time_point Due() const { return answers_.empty() ? Clock::time_point::max() : until_; }
  // Every answer, once `old_still_accepting` is false or `now` is past the wait; else none.
  std::vector<std::pair<int, std::string>> TakeDue(Clock::time_point now, bool old_still_accepting);

 private:
  std::vector<std::pair<int, std::string>> answers_;
  Clock::time_point until_{};
};

}  // namespace mailsift::supervisor
