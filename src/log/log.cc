#include "log/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <list>
#include <mutex>
#include <string>

namespace mailsift::log {
namespace {
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_to_stderr{true};
std::atomic<bool> g_to_syslog{false};

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

void Write(Level level, std::string_view text) {
  if (!Enabled(level)) return;
  if (g_to_syslog) {
    syslog(SyslogPriority(level), "%s%.*s", LevelTag(level), static_cast<int>(text.size()),
           text.data());
  }
  if (!g_to_stderr) return;
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  static const pid_t pid = getpid();  // a generation never forks after logging starts
  std::string line = fmt::format("{}.{:03}Z mailsift[{}]: {}{}\n", stamp, millis, pid,
                                 LevelTag(level), text);
  // One write per line: concurrent lines never interleave (stderr is unbuffered).
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) break;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace mailsift::log
