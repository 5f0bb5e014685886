// log/log.h — the logging facade: one line per call, to stderr (foreground) and/or syslog.
//
// Three levels of trouble as in Postfix: Warn (recoverable), Fatal (environment: the process
// exits and its supervisor restarts it), Panic (our own bug). Info carries the one main line
// per message. Lines reach stderr as whole lines, at most PIPE_BUF bytes per write(2) unless
// one line is longer, so lines from several threads never interleave. Thread-safe; the sink
// settings are atomics set at start-up.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace mailsift::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Options {
  Level min_level = Level::kInfo;
  bool to_stderr = true;
  bool to_syslog = false;
  std::string syslog_ident = "mailsift";
  std::string syslog_facility = "mail";  // mail, daemon, user, local0 … local7
  // Where the stderr-style lines go: stderr, or a log file opened for appending by a command
  // that writes into the service's log ([log] file) without being the service.
  int fd = 2;
};

// Configures the sinks. Call before threads start or at any time (atomic switches).
void Configure(const Options& options);
bool Enabled(Level level);
void Write(Level level, std::string_view text);

// Batching for a thread that writes one Info line per message (an I/O thread): from now on
// its Info lines for stderr are kept in a per-thread buffer and written together, one
// write(2) per PIPE_BUF bytes of whole lines instead of one per line. Any other level first
// writes the buffer, then its own line at once, so the thread's lines keep their order and
// trouble is never delayed. `wake` runs on this thread when a line enters the empty buffer;
// the caller must then run FlushThread() on this thread soon (the I/O threads arm a timer of
// a few ms). Syslog is not batched. Lines still buffered if the process is killed are lost.
void BatchThread(std::function<void()> wake);
// Writes this thread's buffered lines. Also runs when the thread exits.
void FlushThread();

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
