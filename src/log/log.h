// log/log.h — the logging facade: one line per call, to stderr (foreground) and/or syslog.
//
// Three levels of trouble as in Postfix: Warn (recoverable), Fatal (environment: the process
// exits and its supervisor restarts it), Panic (our own bug). Info carries the one main line
// per message. Each call writes one whole line with a single write(2), so lines from several
// threads never interleave. Thread-safe; the sink settings are atomics set at start-up.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace mailsift::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Options {
  Level min_level = Level::kInfo;
  bool to_stderr = true;
  bool to_syslog = false;
  std::string syslog_ident = "mailsift";
  std::string syslog_facility = "mail";  // mail, daemon, user, local0 … local7
};

// Configures the sinks. Call before threads start or at any time (atomic switches).
void Configure(const Options& options);
bool Enabled(Level level);
void Write(Level level, std::string_view text);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace mailsift::log
