// supervisor/rule_watch.h — `[spam] watch_rule_dirs`: notices that the SpamAssassin rule files
// have changed (sa-update from cron, a hand edit of site_dir) and says when to reload.
//
// RuleWatch keeps an inotify descriptor (close-on-exec, non-blocking) that the supervisor polls
// in its own loop. It watches
//   - each directory of rule_dirs that exists, and site_dir, with their subdirectories (sa-update
//     writes <rule dir>/updates_spamassassin_org/*.cf): every change counts;
//   - the parent of each of those, and for one that does not exist yet the nearest existing
//     ancestor: only a change to the name on the way to it counts (sa-update creating
//     /var/lib/spamassassin/<version>/, a directory renamed into place), so that the rest of,
//     say, /usr/share never triggers a reload.
// Changes are: a file or directory created, written and closed, renamed in or out, deleted, its
// attributes changed. A new directory is watched as soon as its creation is read, and the set
// is recomputed when a watched directory goes away.
//
// A burst of changes gives one reload: Debounce says it is due once quiet_period has passed
// with no further change. The supervisor starts the reload (the same path as `mailsift
// reload`); RuleWatch never loads rules itself and does not know whether they are good.
//
// Thread-safety: single-threaded, the supervisor's loop only.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "config/config.h"

namespace mailsift::supervisor {

using WatchClock = std::chrono::steady_clock;

// The debounce decision, apart from any descriptor: after the first change, a reload is due
// once `quiet` has passed since the latest change.
class Debounce {
 public:
  explicit Debounce(WatchClock::duration quiet = std::chrono::seconds(10)) : quiet_(quiet) {}
  void set_quiet(WatchClock::duration quiet) { quiet_ = quiet; }
  // Records a change at `at`; `where` names it when it is the first of a burst.
  void Change(WatchClock::time_point at, const std::string& where);
  bool pending() const { return pending_; }
  // When the reload is due, Clock::time_point::max() when nothing is pending.
  WatchClock::time_point Due() const;
  // If due at `now`: where the burst began, and the burst is over (nothing pending). Else
  // nullopt.
  std::optional<std::string> TakeDue(WatchClock::time_point now);
  void Clear() { pending_ = false; }

 private:
  WatchClock::duration quiet_;
  bool pending_ = false;
  WatchClock::time_point last_{};
  std::string first_where_;
};

// One directory to watch. `names` empty: every change in it counts; else only changes to these
// entries (the ancestors of a rule directory).
struct WatchTarget {
  std::string path;
  std::set<std::string> names;
  bool operator==(const WatchTarget&) const = default;
};

// The directories to watch for `dirs` (rule_dirs and site_dir), as they are on disk now, sorted
// by path; paths are made absolute and normal. Subdirectories are followed kMaxDepth levels
// down, and at most kMaxTargets directories are returned.
std::vector<WatchTarget> WatchTargets(const std::vector<std::string>& dirs);

class RuleWatch {
 public:
  static constexpr int kMaxDepth = 4;
  static constexpr size_t kMaxTargets = 512;

  RuleWatch() = default;
  ~RuleWatch() { Stop(); }
  RuleWatch(const RuleWatch&) = delete;
  RuleWatch& operator=(const RuleWatch&) = delete;

  // Applies a config: starts, stops or re-targets the watch (on when spam.enabled and
  // spam.watch_rule_dirs). A change still pending stays pending when the watch stays on.
  // Fails (and watches nothing) when inotify cannot be set up; a directory that cannot be
  // watched is only logged.
  Status Configure(const config::Spam& spam);
  void Stop();

  int fd() const { return fd_; }  // -1 when off; poll it for POLLIN
  // Reads every queued event (call when fd() is readable): records changes at `now` and
  // watches new directories.
  void OnReadable(WatchClock::time_point now = WatchClock::now());
  // When TakeDue must be called (Clock::time_point::max(): nothing pending).
  WatchClock::time_point Due() const { return debounce_.Due(); }
  // Once quiet_period has passed since the last change: the directory where the burst began.
  std::optional<std::string> TakeDue(WatchClock::time_point now = WatchClock::now()) {
    return debounce_.TakeDue(now);
  }
  // The directories watched now, sorted (for tests).
  std::vector<std::string> Watched() const;
  // The same for the log: "/usr/share (spamassassin only), /usr/share/spamassassin, …".
  std::string Describe() const;

 private:
  void Rearm();

  int fd_ = -1;
  std::vector<std::string> dirs_;       // rule_dirs and site_dir
  std::map<int, WatchTarget> watches_;  // by watch descriptor
  Debounce debounce_;
};

}  // namespace mailsift::supervisor
