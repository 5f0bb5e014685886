// smtp/server_session.h — one inbound SMTP or LMTP session, from greeting to close.
//
// The session is an explicit state machine (greeted → helo → in-transaction → data) run as
// one coroutine. It answers every command from the reply table, mirrors the envelope to the
// next hop as it goes (so a recipient the next hop refuses is refused at its RCPT), receives
// the message through the smuggling-proof DataFramer into a Spool, and at the end of the data
// relays it and answers with the reply rules of the relay mode:
//   after-queue:  250 only after the next hop accepted; unreachable, timeout or 4xx → 451;
//                 5xx → the next hop's 5xx.
//   before-queue: the next hop's end-of-data reply word for word, for every recipient.
// LMTP (RFC 2033): one end-of-data reply per accepted recipient.
//
// What it reports: one main log line per transaction (amavisd's format), warnings for
// protocol trouble. Thread-safety: a session runs on one io_context thread; the shared
// SessionEnvironment is read-only apart from its atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <asio/awaitable.hpp>

#include "config/config.h"
#include "net/stream.h"
#include "smtp/relay_client.h"

namespace mailsift::scan {
class Pipeline;
}

namespace mailsift::smtp {

// Time spent in one check, as a Prometheus histogram (bucket bounds in seconds).
struct CheckTimeHistogram {
  static constexpr std::array<double, 12> kBounds = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                     0.1,   0.2,   0.5,   1,    2,    5};
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts{};  // the last one: +Inf
  std::atomic<uint64_t> sum_us{0};
  void Add(std::chrono::nanoseconds elapsed);
};

// The checks whose time is measured, in this order.
inline constexpr std::array<std::string_view, 4> kTimedChecks = {"spam", "virus", "banned",
                                                                  "bad_header"};

struct SessionCounters {
  std::atomic<int> active{0};
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> messages_relayed{0};
  std::atomic<uint64_t> messages_tempfailed{0};
  std::atomic<uint64_t> messages_rejected{0};
  std::atomic<uint64_t> messages_spam{0};       // SPAM or SPAMMY by the spam check
  std::atomic<uint64_t> scan_timeouts{0};       // scans that missed the message deadline
  std::atomic<uint64_t> regex_limit_hits{0};    // rule regexes stopped by their match limit
  std::atomic<uint64_t> relay_errors{0};        // next hop unreachable, timing out, lost, 4xx
  // Of relay_errors: the next hop closed or reset the connection after our end of data,
  // before its reply (answered 451 at once).
  std::atomic<uint64_t> relay_closed_at_end{0};
  // Clients cut off for trickling: a command line past timeouts.command_line, or message data
  // below limits.min_data_rate (421 4.4.2).
  std::atomic<uint64_t> slow_clients{0};
  std::atomic<uint64_t> clamd_errors{0};        // clamd unreachable, timing out or erroring
  std::atomic<uint64_t> quarantined{0};
  std::atomic<uint64_t> quarantine_errors{0};   // could not quarantine: the message tempfailed
  // Scanned messages by content category (scan::Category) and action (config::Action).
  std::array<std::array<std::atomic<uint64_t>, 4>, 7> verdicts{};
  std::array<CheckTimeHistogram, kTimedChecks.size()> check_time{};
};

// The counters as "key=value" fields for the supervisor's STATUS line (supervisor/protocol.h):
// "active=1 sessions=20 … verdict.CLEAN.pass=18 … check_time.spam.le_0.005=17 …".
std::string StatusFields(const SessionCounters& counters);

// The sessions of one I/O thread, so that a drain can reach the idle ones at once.
// Single-threaded: used only on its thread.
class SessionRegistry {
 public:
  using Waker = std::function<void()>;
  uint64_t Add(Waker waker) {
    wakers_.emplace(next_id_, std::move(waker));
    return next_id_++;
  }
  void Remove(uint64_t id) { wakers_.erase(id); }
  void WakeAll() {
    auto copy = wakers_;  // a waker may end its session
    for (auto& [id, waker] : copy) waker();
  }

 private:
  std::unordered_map<uint64_t, Waker> wakers_;
  uint64_t next_id_ = 0;
};

struct SessionEnvironment {
  const config::Config* config = nullptr;
  const config::Listener* listener = nullptr;
  RelayPool* relay_pool = nullptr;  // this thread's pool (after-queue mode)
  SessionCounters* counters = nullptr;
  const std::atomic<bool>* draining = nullptr;  // set: idle sessions get 421 4.3.2
  SessionRegistry* registry = nullptr;          // this thread's sessions
  scan::Pipeline* pipeline = nullptr;           // the generation's checks; null: no scanning
};

// Runs the session to its end; closes the socket. Never throws.
// `peer`: the client's address as accept() gave it.
asio::awaitable<void> RunSession(net::Socket socket, SessionEnvironment environment,
                                 const sockaddr_storage& peer);

}  // namespace mailsift::smtp
