// filter/server.h — one generation of the filter: listeners, I/O threads, sessions.
//
// A Server runs the proxy with one immutable Config: it accepts on every listening socket
// (bound by itself, or inherited from a supervisor or systemd), runs each session as a
// coroutine on one of its I/O threads, and keeps a pool of next-hop connections per thread.
// Drain() stops accepting (closing only its own copies of the listening sockets, never
// shutdown()), lets open transactions finish, answers idle sessions 421 4.3.2 at their next
// command, and ends when the last session has ended or the deadline passes.
//
// Thread-safety: Run() blocks the calling thread; Drain()/Stop() may be called from any thread
// (e.g. a signal handler thread).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "config/config.h"
#include "policy/scan_policy.h"
#include "scan/pipeline.h"
#include "smtp/server_session.h"

namespace mailsift::filter {

class Server {
 public:
  // `pipeline` (may be null: no content checks) runs the generation's checks; the Server owns
  // it and ends it before its I/O threads' contexts.
  explicit Server(config::Config config, std::unique_ptr<scan::Pipeline> pipeline = nullptr);
  ~Server();

  // Binds every configured listener. Errors name the listener.
  Status Listen();
  // Uses already-bound listening fds instead, in config order (ownership passes to Server).
  Status Adopt(std::vector<int> fds);

  // Serves until Stop() or the end of a Drain(). Returns when every thread has ended.
  void Run();
  // Graceful end: see the header comment. `timeout` bounds the wait for open sessions.
  void Drain(config::Seconds timeout);
  // Immediate end: open sessions are cut.
  void Stop();

  const smtp::SessionCounters& counters() const { return counters_; }
  const policy::PolicyCounters& policy_counters() const { return policy_counters_; }
  // The counters as "key=value" fields for the supervisor's STATUS line (supervisor/protocol.h):
  // "active=1 sessions=20 … verdict.CLEAN.pass=18 … check_time.spam.le_0.005=17 …".
  std::string StatusFields() const;
  bool stopped() const { return stopped_.load(); }
  // After Drain(): true once no thread accepts new connections any more.
  bool accepting_stopped() const { return accept_closes_pending_.load() == 0 || stopped(); }
  const config::Config& config() const { return config_; }

 private:
  struct Worker;

  config::Config config_;
  std::vector<int> listen_fds_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<scan::Pipeline> pipeline_;
  smtp::SessionCounters counters_;
  policy::PolicyCounters policy_counters_;
  policy::ScanPolicy policy_;  // decides on every message with pipeline_
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> accept_closes_pending_{-1};  // -1: not draining
  std::thread drain_thread_;
};

}  // namespace mailsift::filter
