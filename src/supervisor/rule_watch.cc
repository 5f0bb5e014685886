// supervisor/rule_watch.cc — see rule_watch.h.
#include "supervisor/rule_watch.h"

#include <fmt/format.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log/log.h"

namespace mailsift::supervisor {
namespace {

namespace fs = std::filesystem;

// Written and closed, created, renamed in or out, deleted, attributes changed; and the watched
// directory itself going away. IN_ONLYDIR: a file that took a directory's name is not watched.
constexpr uint32_t kMask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// `path` absolute and normal, without a trailing slash.
fs::path Normal(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  p = p.lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

bool IsDirectory(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

}  // namespace

// --- Debounce ---------------------------------------------------------------------------------

void Debounce::Change(WatchClock::time_point at, const std::string& where) {
  if (!pending_) {
    pending_ = true;
    first_where_ = where;
    last_ = at;
  }
  last_ = std::max(last_, at);
}

WatchClock::time_point Debounce::Due() const {
  return pending_ ? last_ + quiet_ : WatchClock::time_point::max();
}

std::optional<std::string> Debounce::TakeDue(WatchClock::time_point now) {
  if (!pending_ || now < last_ + quiet_) return std::nullopt;
  pending_ = false;
  return first_where_;
}

// --- the directories to watch -----------------------------------------------------------------

std::vector<WatchTarget> WatchTargets(const std::vector<std::string>& dirs) {
  // path → the names that count in it; nullopt: every name.
  std::map<std::string, std::optional<std::set<std::string>>> wanted;
  auto every_name = [&](const fs::path& dir) { wanted[dir.string()] = std::nullopt; };
  auto one_name = [&](const fs::path& dir, const fs::path& name) {
    auto [it, inserted] = wanted.try_emplace(dir.string(), std::set<std::string>{});
    if (it->second) it->second->insert(name.string());
  };
  for (const std::string& dir : dirs) {
    if (dir.empty()) continue;
    fs::path path = Normal(dir);
    if (IsDirectory(path)) {
      every_name(path);
      if (path.has_relative_path()) one_name(path.parent_path(), path.filename());
      std::error_code ec;
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
      for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code sec;
        if (!it->is_directory(sec) || it->is_symlink(sec)) continue;
        if (wanted.size() >= RuleWatch::kMaxTargets) break;
        every_name(it->path());
        if (it.depth() + 1 >= RuleWatch::kMaxDepth) it.disable_recursion_pending();
      }
      continue;
    }
    // Not there (yet): the nearest existing ancestor, for the name on the way down to it.
    fs::path child = path, ancestor = path.parent_path();
    while (ancestor != child && !IsDirectory(ancestor)) {
      child = ancestor;
      ancestor = ancestor.parent_path();
    }
    if (ancestor != child) one_name(ancestor, child.filename());
  }
  std::vector<WatchTarget> targets;
  for (auto& [path, names] : wanted) {
    if (targets.size() >= RuleWatch::kMaxTargets) break;
    targets.push_back({path, names ? std::move(*names) : std::set<std::string>{}});
  }
  return targets;
}

// --- RuleWatch --------------------------------------------------------------------------------

Status RuleWatch::Configure(const config::Spam& spam) {
  if (!spam.enabled || !spam.watch_rule_dirs) {
    Stop();
    return {};
  }
  debounce_.set_quiet(std::chrono::duration_cast<WatchClock::duration>(spam.watch_quiet_period));
  dirs_ = spam.rule_dirs;
  if (!spam.site_dir.empty()) dirs_.push_back(spam.site_dir);
  if (fd_ < 0) {
    fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0) {
      return Fail(
          fmt::format("cannot watch the rule directories: inotify: {}", std::strerror(errno)));
    }
  }
  Rearm();
  return {};
}

void RuleWatch::Stop() {
  if (fd_ >= 0) ::close(fd_);  // removes every watch
  fd_ = -1;
  watches_.clear();
  debounce_.Clear();
}

void RuleWatch::Rearm() {
  std::map<int, WatchTarget> next;
  std::vector<std::string> failed;
  for (WatchTarget& target : WatchTargets(dirs_)) {
    int wd = ::inotify_add_watch(fd_, target.path.c_str(), kMask);
    if (wd < 0) {
      // Gone meanwhile: the next event in its parent re-arms. Anything else (the watch limit,
      // fs.inotify.max_user_watches; no permission) is worth a warning.
      if (errno != ENOENT && errno != ENOTDIR) {
        failed.push_back(fmt::format("{}: {}", target.path, std::strerror(errno)));
      }
      continue;
    }
    auto [it, inserted] = next.try_emplace(wd, target);
    if (!inserted) {  // two paths, one directory (a symlink): the wider filter wins
      if (it->second.names.empty() || target.names.empty()) {
        it->second.names.clear();
      } else {
        it->second.names.insert(target.names.begin(), target.names.end());
      }
    }
  }
  for (const auto& [wd, target] : watches_) {
    if (!next.contains(wd)) ::inotify_rm_watch(fd_, wd);
  }
  watches_ = std::move(next);
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : "; ") + f;
    log::Warn("rule watch: cannot watch {}", list);
  }
}

void RuleWatch::OnReadable(WatchClock::time_point now) {
  if (fd_ < 0) return;
  bool rearm = false;
  alignas(inotify_event) char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: all read
    for (ssize_t offset = 0; offset + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were lost: assume the rules changed, and look again at what exists.
        debounce_.Change(now, dirs_.empty() ? std::string("?") : Normal(dirs_.front()).string());
        rearm = true;
        continue;
      }
      auto it = watches_.find(event->wd);
      if (it == watches_.end()) continue;  // a watch removed by Rearm
      const WatchTarget& target = it->second;
      std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        rearm = true;
        if (target.names.empty() && !(event->mask & IN_IGNORED)) debounce_.Change(now, target.path);
        continue;
      }
      if (!target.names.empty()) {
        if (!target.names.contains(name)) continue;  // another entry of an ancestor
        rearm = true;  // a rule directory (or a directory above it) came or went
        debounce_.Change(now, (fs::path(target.path) / name).string());
        continue;
      }
      if (event->mask & IN_ISDIR) rearm = true;
      debounce_.Change(now, target.path);
    }
  }
  if (rearm) Rearm();
}

std::vector<std::string> RuleWatch::Watched() const {
  std::vector<std::string> paths;
  for (const auto& [wd, target] : watches_) paths.push_back(target.path);
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string RuleWatch::Describe() const {
  std::vector<const WatchTarget*> sorted;
  for (const auto& [wd, target] : watches_) sorted.push_back(&target);
  std::sort(sorted.begin(), sorted.end(),
            [](const WatchTarget* a, const WatchTarget* b) { return a->path < b->path; });
  std::string out;
  for (const WatchTarget* target : sorted) {
    if (!out.empty()) out += ", ";
    out += target->path;
    if (target->names.empty()) continue;
    std::string names;
    for (const auto& name : target->names) names += (names.empty() ? "" : ", ") + name;
    out += " (" + names + " only)";
  }
  return out;
}

}  // namespace mailsift::supervisor
