// smtp/relay_client.h — the SMTP/LMTP client that hands messages to the next hop.
//
// One RelayClient is one connection: it connects (TCP or Unix), reads the greeting, sends
// EHLO (LHLO for LMTP; HELO if EHLO is refused) and learns the extensions. It then runs
// transactions: SendCommands() writes a group of envelope commands, pipelined when the next
// hop offers PIPELINING (RFC 2920), and returns one reply per command; SendMessage() sends
// DATA, the content with transparency dots and the final ".", and returns the reply (SMTP) or
// one reply per accepted recipient (LMTP, RFC 2033 §4.2). A connection can carry many
// transactions; RelayPool keeps idle ones for reuse.
//
// Every call runs under the caller's deadline. Failures are reported as RelayFailure, never
// thrown. Thread-safety: a RelayClient belongs to one coroutine at a time on one io_context.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/stream.h"
#include "smtp/relay_reply.h"
#include "smtp/reply.h"
#include "spool/spool.h"

namespace mailsift::smtp {

// kClosedAtEnd: the next hop closed or reset the connection after our final "." and before
// its reply (reported as soon as the EOF or RST arrives, never at the deadline).
enum class RelayFailure { kNone, kUnreachable, kTimeout, kLost, kProtocol, kLocal, kClosedAtEnd };
std::string_view Describe(RelayFailure failure);

struct RelayReplies {
  RelayFailure failure = RelayFailure::kNone;
  std::vector<Reply> replies;  // one per command (or per LMTP recipient); fewer on failure
};

class RelayClient {
 public:
  RelayClient(asio::any_io_executor executor, const config::Relay& relay,
              const config::Timeouts& timeouts, std::string helo_name);
  ~RelayClient();

  // Connects and greets. kNone on success.
  asio::awaitable<RelayFailure> Open(net::Deadline deadline);
  bool is_open() const;
  const Extensions& extensions() const { return extensions_; }
  // "smtp:[127.0.0.1]:10025", as amavisd names its next hop in replies.
  const std::string& name() const { return name_; }

  // Sends commands (no CRLF) and collects one reply per command, pipelined if offered.
  asio::awaitable<RelayReplies> SendCommands(const std::vector<std::string>& commands,
                                             net::Deadline deadline);
  // DATA, `header` + `content` (canonical CRLF lines) with transparency dots, ".".
  // `lmtp_recipients` is the number of replies to expect after "." in LMTP (accepted RCPTs).
  // The first `skip` bytes of `content` are left out (`header` then carries their rewrite).
  asio::awaitable<RelayReplies> SendMessage(std::string_view header, const spool::Spool& content,
                                            size_t lmtp_recipients, net::Deadline deadline,
                                            size_t skip = 0);
  // Politely ends the connection: QUIT without waiting for the answer.
  void Quit();
  void Abort();

  // Bookkeeping for RelayPool and the session.
  net::Clock::time_point idle_since;
  bool needs_reset = false;  // a transaction was begun and abandoned: RSET before MAIL

 private:
  asio::awaitable<RelayFailure> ReadReply(Reply& reply);
  // Sends `command` (none if empty) and reads the reply; closes the connection on failure.
  asio::awaitable<RelayFailure> Exchange(std::string_view command, Reply& reply);
  RelayFailure FailureFrom(net::IoStatus status) const;

  asio::any_io_executor executor_;
  const config::Relay& relay_;
  const config::Timeouts& timeouts_;
  std::string helo_name_;
  std::string name_;
  std::unique_ptr<net::Stream> stream_;
  Extensions extensions_;
  bool lmtp_;
};

// Idle relay connections for reuse (after-queue mode). One pool per io_context thread.
class RelayPool {
 public:
  RelayPool(const config::Relay& relay) : relay_(relay) {}
  ~RelayPool();
  // An idle, open connection, or null. Connections idle longer than the configured idle
  // timeout are closed instead of returned.
  std::unique_ptr<RelayClient> Take();
  // Keeps a connection for reuse, or closes it if the pool is full or it is not reusable.
  void Give(std::unique_ptr<RelayClient> client);
  // Ends every idle connection (QUIT).
  void CloseIdle();

 private:
  const config::Relay& relay_;
  std::vector<std::unique_ptr<RelayClient>> idle_;
};

}  // namespace mailsift::smtp
