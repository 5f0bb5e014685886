// smtp/server_session.h — one inbound SMTP or LMTP session, from greeting to close.
//
// The session is an explicit state machine (connected → greeted → mail → bdat → closing, the
// Session::State enum) run as one coroutine. It answers every command from the reply table
// (policy/reply_table.h), mirrors the envelope to the next hop as it goes (so a recipient the
// next hop refuses is refused at its RCPT), receives the message through the smuggling-proof
// DataFramer into a Spool, and at the end of the data asks the message policy
// (policy/message_policy.h) what becomes of it: a blocked message gets the policy's reply and
// is never relayed; a passed one is relayed with the policy's header edits and answered with
// the reply rules of the relay mode:
//   after-queue:  250 only after the next hop accepted; unreachable, timeout or 4xx → 451;
//                 5xx → the next hop's 5xx.
//   before-queue: the next hop's end-of-data reply word for word, for every recipient.
// LMTP (RFC 2033): one end-of-data reply per accepted recipient.
//
// The session speaks SMTP and relays; it neither scans nor quarantines.
// What it reports: one main log line per transaction (amavisd's format, with the policy's
// verdict), warnings for protocol trouble. Thread-safety: a session runs on one io_context thread;
// the shared SessionEnvironment is read-only apart from its atomics.
#pragma once

#include <asio/awaitable.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "net/stream.h"
#include "smtp/relay_client.h"

namespace mailsift::policy {
class MessagePolicy;
}

namespace mailsift::smtp {

// What the sessions count (the policy counts what the checks found: policy/scan_policy.h).
struct SessionCounters {
  std::atomic<int> active{0};
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> messages_relayed{0};
  std::atomic<uint64_t> messages_tempfailed{0};
  std::atomic<uint64_t> messages_rejected{0};
  std::atomic<uint64_t> relay_errors{0};  // next hop unreachable, timing out, lost, 4xx
  // Of relay_errors: the next hop closed or reset the connection after our end of data,
  // before its reply (answered 451 at once).
  std::atomic<uint64_t> relay_closed_at_end{0};
  // Clients cut off for trickling: a command line past timeouts.command_line, or message data
  // below limits.min_data_rate (421 4.4.2).
  std::atomic<uint64_t> slow_clients{0};
};

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
  // What becomes of each received message; null: every message is relayed unchanged.
  policy::MessagePolicy* policy = nullptr;
};

// Runs the session to its end; closes the socket. Never throws.
// `peer`: the client's address as accept() gave it; taken by value, as the coroutine may first
// run after the caller's copy is gone (co_spawn from another thread posts it).
asio::awaitable<void> RunSession(net::Socket socket, SessionEnvironment environment,
                                 sockaddr_storage peer);

}  // namespace mailsift::smtp
