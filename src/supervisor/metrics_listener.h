// supervisor/metrics_listener.h — the supervisor's HTTP listener for Prometheus (`[metrics]
// address`), driven by the supervisor's own poll loop, so that it never blocks it.
//
// Sockets are non-blocking. A connection has kRequestTimeout to send its request head and
// kResponseTimeout to take the answer (supervisor/metrics.h, AnswerMetricsRequest); then it
// is closed. At most kMaxConnections are open; one more closes the oldest. A silent or slow
// client therefore costs a file descriptor for a moment, never a pause of the loop or of a
// concurrent scrape. The metrics text is rendered at most once per poll round, however many
// scrapes arrive together.
//
// The listener owns its listening socket; the supervisor replaces it when a reload changes the
// address (Listen) and passes it on through `upgrade` (fd()). Thread-safety: single-threaded,
// the supervisor's loop only.
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net/endpoint.h"

namespace mailsift::supervisor {

// The metrics listening socket a config wants; fd -1: none ([metrics] address = "").
struct MetricsSocket {
  int fd = -1;
  net::Endpoint address;
};

class MetricsListener {
 public:
  using Clock = std::chrono::steady_clock;
  using Render = std::function<std::string()>;

  static constexpr auto kRequestTimeout = std::chrono::milliseconds(1000);
  static constexpr auto kResponseTimeout = std::chrono::milliseconds(5000);
  static constexpr size_t kMaxConnections = 16;

  // `render` gives the metrics text for each GET /metrics.
  explicit MetricsListener(Render render) : render_(std::move(render)) {}
  ~MetricsListener() { Close(); }
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  // Takes a listening socket (non-blocking, close-on-exec) bound to `address`, closing the one
  // it had (connections already accepted are answered). fd -1: no listener.
  void Listen(int fd, const net::Endpoint& address);
  int fd() const { return listen_fd_; }
  const net::Endpoint& address() const { return address_; }
  // Closes the listening socket and every connection.
  void Close();

  // Appends what to poll for: the listening socket and each connection.
  void AddPollFds(std::vector<pollfd>& fds) const;
  // Handles what poll reported (entries are matched by fd; others are ignored): accepts, reads,
  // answers, writes, and closes connections past their deadline.
  void OnPoll(const std::vector<pollfd>& fds);
  // The earliest connection deadline (OnPoll must run by then), or Clock::time_point::max().
  Clock::time_point NextDeadline() const;
  size_t connections() const { return connections_.size(); }

 private:
  struct Connection {
    int fd = -1;
    bool answering = false;  // the request head is in; `out` is being written
    std::string in;
    std::string out;
    size_t sent = 0;
    Clock::time_point deadline;
  };
  void Accept();
  void Read(Connection& c);
  void Write(Connection& c);
  static void Drop(Connection& c);

  Render render_;
  int listen_fd_ = -1;
  net::Endpoint address_;
  std::vector<Connection> connections_;  // oldest first
};

}  // namespace mailsift::supervisor
