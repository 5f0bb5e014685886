#include "log/log.h"

#include <limits.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iterator>
#include <list>
#include <mutex>
#include <string>

namespace mailsift::log {
namespace {
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_to_stderr{true};
std::atomic<bool> g_to_syslog{false};
std::atomic<int> g_fd{STDERR_FILENO};

const char* LevelTag(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug: ";
    case Level::kInfo:
      return "";
    case Level::kWarn:
      return "warning: ";
    case Level::kError:
      return "error: ";
  }
  return "";
}

int SyslogPriority(Level level) {
  switch (level) {
    case Level::kDebug:
      return LOG_DEBUG;
    case Level::kInfo:
      return LOG_INFO;
    case Level::kWarn:
      return LOG_WARNING;
    case Level::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}
}  // namespace

namespace {

int SyslogFacility(std::string_view name) {
  static constexpr std::pair<std::string_view, int> kFacilities[] = {
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (const auto& [facility_name, facility] : kFacilities) {
    if (name == facility_name) return facility;
  }
  return LOG_MAIL;
}

}  // namespace

void Configure(const Options& options) {
  g_min_level = static_cast<int>(options.min_level);
  g_to_stderr = options.to_stderr;
  g_fd = options.fd;
  if (options.to_syslog) {
    // openlog() keeps the pointer: the ident lives as long as the process.
    static std::mutex mutex;
    static std::list<std::string> idents;
    std::lock_guard lock(mutex);
    idents.push_back(options.syslog_ident);
    openlog(idents.back().c_str(), LOG_PID, SyslogFacility(options.syslog_facility));
  }
  g_to_syslog = options.to_syslog;
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(); }

namespace {

void WriteAll(std::string_view line) {
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(g_fd.load(std::memory_order_relaxed), data, left);
    if (n <= 0) break;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

// One thread's batch (BatchThread) and its timestamp cache.
struct ThreadState {
  bool batching = false;
  std::function<void()> wake;
  std::string buffer;
  std::time_t stamp_seconds = -1;
  char stamp[32] = {};

  ~ThreadState() { WriteAll(buffer); }
};

thread_local ThreadState t_state;

// Appends "<time> mailsift[<pid>]: <tag><text>\n" to `out`.
void FormatLine(ThreadState& state, Level level, std::string_view text, std::string& out) {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  if (seconds != state.stamp_seconds) {
    // gmtime_r and strftime once per second and thread, not once per line.
    std::tm tm_utc;
    gmtime_r(&seconds, &tm_utc);
    std::strftime(state.stamp, sizeof state.stamp, "%Y-%m-%dT%H:%M:%S", &tm_utc);
    state.stamp_seconds = seconds;
  }
  static const pid_t pid = getpid();  // a generation never forks after logging starts
  fmt::format_to(std::back_inserter(out), "{}.{:03}Z mailsift[{}]: {}{}\n", state.stamp, millis,
                 pid, LevelTag(level), text);
}

}  // namespace

void Write(Level level, std::string_view text) {
  if (!Enabled(level)) return;
  if (g_to_syslog) {
    syslog(SyslogPriority(level), "%s%.*s", LevelTag(level), static_cast<int>(text.size()),
           text.data());
  }
  if (!g_to_stderr) return;
  ThreadState& state = t_state;
  if (state.batching && level == Level::kInfo) {
    const size_t before = state.buffer.size();
    FormatLine(state, level, text, state.buffer);
    if (state.buffer.size() > PIPE_BUF && before > 0) {
      // Writes of at most PIPE_BUF bytes never interleave with other writers' on a pipe: the
      // new line starts the next batch.
      WriteAll(std::string_view(state.buffer).substr(0, before));
      state.buffer.erase(0, before);
    }
    if (state.buffer.size() >= PIPE_BUF) {
      WriteAll(state.buffer);
      state.buffer.clear();
    } else if (before == 0 && state.wake) {
      state.wake();
    }
    return;
  }
  FlushThread();  // this thread's earlier lines first
  // One write per line: concurrent lines never interleave (stderr is unbuffered).
  std::string line;
  FormatLine(state, level, text, line);
  WriteAll(line);
}

void BatchThread(std::function<void()> wake) {
  t_state.batching = true;
  t_state.wake = std::move(wake);
}

void FlushThread() {
  ThreadState& state = t_state;
  if (state.buffer.empty()) return;
  WriteAll(state.buffer);
  state.buffer.clear();
}

}  // namespace mailsift::log
