#include "filter/server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio/basic_socket_acceptor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "log/log.h"
#include "scan/verdict.h"
#include "smtp/relay_client.h"

namespace mailsift::filter {

using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

// How long an I/O thread's per-message log lines may wait to be written together.
constexpr std::chrono::milliseconds kLogFlushDelay{20};

struct Server::Worker {
  asio::io_context context{1};
  std::unique_ptr<smtp::RelayPool> pool;
  smtp::SessionRegistry registry;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  asio::steady_timer log_flush{context};
  bool log_flush_armed = false;
  std::thread thread;

  // log::BatchThread's wake: the thread's first buffered line is written within
  // kLogFlushDelay, with whatever lines follow it meanwhile.
  void ArmLogFlush() {
    if (log_flush_armed) return;
    log_flush_armed = true;
    log_flush.expires_after(kLogFlushDelay);
    log_flush.async_wait([this](const asio::error_code&) {
      log_flush_armed = false;
      log::FlushThread();
    });
  }
};

namespace {

asio::awaitable<void> AcceptLoop(Acceptor& acceptor, int family,
                                 smtp::SessionEnvironment environment) {
  constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
  while (acceptor.is_open()) {
    // accept4 rather than asio's accept: the connection comes non-blocking and close-on-exec
    // with the peer's address, so it costs no ioctl(FIONBIO) and no getpeername.
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&address), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      // Counted from this moment, so a drain waits for it even before it runs; served even if
      // the acceptor was closed meanwhile (the connection was already ours).
      environment.counters->active.fetch_add(1, std::memory_order_relaxed);
      net::Socket socket(acceptor.get_executor());
      if (!net::AdoptAccepted(socket, family, fd)) {
        environment.counters->active.fetch_sub(1, std::memory_order_relaxed);
        log::Warn("accept on {}: cannot watch the connection", environment.listener->address_text);
        continue;
      }
      asio::co_spawn(acceptor.get_executor(),
                     smtp::RunSession(std::move(socket), environment, address), asio::detached);
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      // Queue empty: wait until the kernel reports a connection (no syscall while the
      // listening socket stays registered with epoll).
      auto [ec] = co_await acceptor.async_wait(Acceptor::wait_read, kTuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    // A connection that went away while queued, or a signal: try the next one.
    if (error == ECONNABORTED || error == EPROTO || error == EINTR) continue;
    {
      // EMFILE, ENFILE, ENOBUFS...: the connection stays queued; back off briefly.
      log::Warn("accept on {}: {}", environment.listener->address_text, std::strerror(error));
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
    }
  }
}

int FamilyOf(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family;
}

}  // namespace

Server::Server(config::Config config, std::unique_ptr<scan::Pipeline> pipeline)
    : config_(std::move(config)),
      pipeline_(std::move(pipeline)),
      policy_(config_, pipeline_.get(), &policy_counters_) {}

Server::~Server() {
  Stop();
  if (drain_thread_.joinable()) drain_thread_.join();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  // Scans still running post their results to the workers' contexts: finish them first.
  pipeline_.reset();
  for (int fd : listen_fds_) ::close(fd);
}

Status Server::Listen() {
  std::vector<int> fds;
  for (const auto& listener : config_.listeners) {
    auto fd = net::OpenListener(listener.address, listener.backlog);
    if (!fd) {
      for (int open_fd : fds) ::close(open_fd);
      return Fail(fd.error().message);
    }
    fds.push_back(*fd);
  }
  return Adopt(std::move(fds));
}

Status Server::Adopt(std::vector<int> fds) {
  if (fds.size() != config_.listeners.size()) {
    return Fail("the number of listening sockets does not match the [[listen]] entries");
  }
  listen_fds_ = std::move(fds);
  int threads = config_.io_threads > 0 ? config_.io_threads
                                       : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  for (int t = 0; t < threads; ++t) {
    auto worker = std::make_unique<Worker>();
    worker->pool = std::make_unique<smtp::RelayPool>(config_.relay);
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      // Each thread accepts on its own copy of the listening socket.
      int copy = ::fcntl(listen_fds_[i], F_DUPFD_CLOEXEC, 0);
      if (copy < 0) return Fail("cannot duplicate a listening socket");
      auto acceptor = std::make_unique<Acceptor>(worker->context);
      int family = FamilyOf(copy);
      asio::error_code ec;
      acceptor->assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP),
                       copy, ec);
      // AcceptLoop calls accept4 itself and must never block in it. O_NONBLOCK is shared with
      // every copy of the socket (as asio's own accept set it before).
      if (!ec) acceptor->native_non_blocking(true, ec);
      if (ec) return Fail("cannot use a listening socket: " + ec.message());
      if (family != AF_UNIX) {
        // Accepted connections inherit TCP_NODELAY from the listening socket: replies go out
        // at once, without a setsockopt per connection.
        int one = 1;
        ::setsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      smtp::SessionEnvironment environment{&config_,
                                           &config_.listeners[i],
                                           worker->pool.get(),
                                           &counters_,
                                           &draining_,
                                           &worker->registry,
                                           &policy_};
      asio::co_spawn(worker->context, AcceptLoop(*acceptor, family, environment), asio::detached);
      worker->acceptors.push_back(std::move(acceptor));
    }
    workers_.push_back(std::move(worker));
  }
  for (const auto& listener : config_.listeners) {
    log::Info("listening on {} ({}), relaying to {} ({}, {})", listener.address.ToString(),
              config::ToString(listener.protocol), config_.relay.next_hop.ToString(),
              config::ToString(config_.relay.protocol), config::ToString(config_.relay.mode));
  }
  return {};
}

void Server::Run() {
  for (auto& worker : workers_) {
    worker->thread = std::thread([w = worker.get()] {
      log::BatchThread([w] { w->ArmLogFlush(); });
      auto guard = asio::make_work_guard(w->context);
      w->context.run();
      log::FlushThread();  // lines of the last few ms, before Run() returns
    });
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void Server::Drain(config::Seconds timeout) {
  if (draining_.exchange(true)) return;
  accept_closes_pending_.store(static_cast<int>(workers_.size()));
  std::atomic<int>* closes_pending = &accept_closes_pending_;
  for (auto& worker : workers_) {
    asio::post(worker->context, [w = worker.get(), closes_pending] {
      for (auto& acceptor : w->acceptors) {
        asio::error_code ignored;
        acceptor->close(ignored);  // our copy only: the kernel queue stays for the others
      }
      w->registry.WakeAll();  // sessions between transactions get their drain grace
      w->pool->CloseIdle();
      closes_pending->fetch_sub(1);
    });
  }
  drain_thread_ = std::thread([this, timeout, closes_pending] {
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    // Done when no thread accepts any more and every accepted session has ended — or at once
    // when the server was stopped meanwhile (a SIGTERM to the generation itself, as from its
    // process group): its threads are gone and will not run the closes posted above.
    while (!stopped_.load() && (closes_pending->load() > 0 || counters_.active.load() > 0) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Stop();
  });
}

void Server::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& worker : workers_) worker->context.stop();
}

std::string Server::StatusFields() const {
  const smtp::SessionCounters& c = counters_;
  const policy::PolicyCounters& p = policy_counters_;
  std::string out = fmt::format(
      "active={} sessions={} relayed={} tempfailed={} rejected={} spam={} scan_timeouts={} "
      "regex_limit_hits={} relay_errors={} clamd_errors={} quarantined={} quarantine_errors={} "
      "relay_closed_at_end={} slow_clients={}",
      c.active.load(), c.sessions.load(), c.messages_relayed.load(), c.messages_tempfailed.load(),
      c.messages_rejected.load(), p.messages_spam.load(), p.scan_timeouts.load(),
      p.regex_limit_hits.load(), c.relay_errors.load(), p.clamd_errors.load(), p.quarantined.load(),
      p.quarantine_errors.load(), c.relay_closed_at_end.load(), c.slow_clients.load());
  for (size_t category = 0; category < p.verdicts.size(); ++category) {
    for (size_t action = 0; action < p.verdicts[category].size(); ++action) {
      uint64_t n = p.verdicts[category][action].load();
      if (n == 0) continue;
      out += fmt::format(" verdict.{}.{}={}",
                         scan::CategoryName(static_cast<scan::Category>(category)),
                         config::ToString(static_cast<config::Action>(action)), n);
    }
  }
  for (size_t check = 0; check < p.check_time.size(); ++check) {
    const policy::CheckTimeHistogram& h = p.check_time[check];
    const std::string_view name = scan::CheckKindName(static_cast<scan::CheckKind>(check));
    uint64_t total = 0;
    for (const auto& n : h.counts) total += n.load();
    if (total == 0) continue;
    // Cumulative, as Prometheus buckets are.
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h.counts.size(); ++b) {
      cumulative += h.counts[b].load();
      std::string bound = b < policy::CheckTimeHistogram::kBounds.size()
                              ? fmt::format("{}", policy::CheckTimeHistogram::kBounds[b])
                              : std::string("+Inf");
      out += fmt::format(" check_time.{}.{}={}", name, bound, cumulative);
    }
    out +=
        fmt::format(" check_time_us.{}={} check_count.{}={}", name, h.sum_us.load(), name, total);
  }
  return out;
}

}  // namespace mailsift::filter
