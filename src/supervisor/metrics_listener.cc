// supervisor/metrics_listener.cc — see metrics_listener.h.
#include "supervisor/metrics_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include "supervisor/metrics.h"

namespace mailsift::supervisor {

void MetricsListener::Listen(int fd, const net::Endpoint& address) {
  if (listen_fd_ >= 0 && listen_fd_ != fd) ::close(listen_fd_);
  listen_fd_ = fd;
  address_ = fd >= 0 ? address : net::Endpoint{};
}

void MetricsListener::Close() {
  Listen(-1, {});
  for (auto& c : connections_) Drop(c);
  connections_.clear();
}

void MetricsListener::AddPollFds(std::vector<pollfd>& fds) const {
  if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
  for (const auto& c : connections_) {
    fds.push_back({c.fd, static_cast<short>(c.answering ? POLLOUT : POLLIN), 0});
  }
}

MetricsListener::Clock::time_point MetricsListener::NextDeadline() const {
  auto next = Clock::time_point::max();
  for (const auto& c : connections_) next = std::min(next, c.deadline);
  return next;
}

void MetricsListener::OnPoll(const std::vector<pollfd>& fds) {
  std::map<int, short> events;
  for (const auto& p : fds) {
    if (p.revents != 0) events[p.fd] |= p.revents;
  }
  // Rendering may re-enter the supervisor (it asks the generations for their counters), which
  // may replace the listening socket: only the one polled is accepted on.
  int polled_listener = listen_fd_;
  std::optional<std::string> metrics;  // rendered once per round
  auto render = [&] {
    if (!metrics) metrics = render_();
    return *metrics;
  };
  for (size_t i = 0; i < connections_.size(); ++i) {
    auto it = events.find(connections_[i].fd);
    if (it == events.end()) continue;
    Connection& c = connections_[i];
    if (!c.answering) {
      Read(c);
      if (c.fd >= 0 && RequestHeadComplete(c.in)) {
        // render() may run the supervisor's channel handling, which never touches connections_.
        c.out = AnswerMetricsRequest(c.in, render);
        c.answering = true;
        c.deadline = Clock::now() + kResponseTimeout;
        Write(c);
      }
    } else {
      Write(c);
    }
  }
  auto now = Clock::now();
  for (auto& c : connections_) {
    if (c.fd >= 0 && now >= c.deadline) Drop(c);
  }
  std::erase_if(connections_, [](const Connection& c) { return c.fd < 0; });
  if (listen_fd_ >= 0 && listen_fd_ == polled_listener && events.contains(listen_fd_)) Accept();
}

void MetricsListener::Accept() {
  // A bounded number per round, so a flood of connections cannot hold the loop.
  for (size_t n = 0; n < kMaxConnections; ++n) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or trouble (EMFILE, ECONNABORTED): try again next round
    if (connections_.size() >= kMaxConnections) {
      Drop(connections_.front());
      connections_.erase(connections_.begin());
    }
    Connection c;
    c.fd = fd;
    c.deadline = Clock::now() + kRequestTimeout;
    connections_.push_back(std::move(c));
  }
}

void MetricsListener::Read(Connection& c) {
  char chunk[2048];
  while (!RequestHeadComplete(c.in)) {
    ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      c.in.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    Drop(c);  // closed before a whole request, or an error: nothing to answer
    return;
  }
}

void MetricsListener::Write(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // the client is gone
  }
  Drop(c);  // answered (HTTP/1.0 style: the close ends the response)
}

void MetricsListener::Drop(Connection& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
}

}  // namespace mailsift::supervisor
