// policy/message_policy.h — what a front end asks about one received message, and the answer.
//
// The policy module decides what becomes of a message once its content is in: it runs the
// generation's checks, keeps the metrics of what they found, selects the policy bank, makes
// amavisd's verdict, quarantines, applies the after-queue bounce rules, and chooses the reply,
// the header edits and the main log line's verdict. A front end only speaks its protocol and
// relays: the SMTP session (smtp/server_session.h) today, a milter later. So this interface,
// like Envoy's narrow filter interfaces, holds no type of either protocol: the envelope and
// the message content go in, a Decision comes out, whose reply is a key of the one reply table
// (reply_table.h) that every front end answers from.
//
// What the caller sees: Decide() never throws and never fails; trouble (a scan past the
// deadline, an unreadable message, a quarantine that cannot be written) is a Decision to
// tempfail. What it reports: warnings for check trouble (clamd down, regex match limits),
// errors for quarantine trouble; the main log line stays the front end's, with the verdict
// given here.
//
// Thread-safety: a MessagePolicy is shared by every session of a generation; Decide() may be
// called from several I/O threads at once and resumes on the caller's executor.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "base/envelope.h"
#include "policy/reply_table.h"
#include "spool/spool.h"

namespace mailsift::policy {

// What the front end knows of one message besides its content.
struct MessageFacts {
  Envelope envelope;      // the recipients that were accepted, only
  bool smtputf8 = false;  // MAIL FROM said SMTPUTF8: UTF-8 in headers is allowed (RFC 6532)
  std::string mail_id;    // for replies, log lines and the quarantine
  std::string listener;   // the name of the listener it came in on (policy banks)
  // The original client's address, for policy banks: the MTA's XFORWARD ADDR when it sent
  // one (without an "IPv6:" prefix), else the peer's; "" when unknown.
  std::string client_address;
};

struct Decision {
  // True: relay the message with the header edits below and answer with the next hop's
  // reply. False: answer `reply` (with `reply_detail`) for each recipient and relay nothing.
  bool relay = true;
  ReplyId reply = ReplyId::kOk;
  std::string reply_detail;

  // The main log line: blocked, its whole verdict ("Blocked SPAM {RejectedInbound}");
  // relayed, the verdict to log once the next hop has accepted ("Passed CLEAN
  // {RelayedInbound}"). `log_reason`: a blocked message's reason in the queued_as field
  // ("scan timed out"; "" = none).
  std::string log_verdict = "Passed CLEAN {RelayedInbound}";
  std::string log_reason;
  std::string hits = "-";       // the spam score ("-" = not scanned)
  std::string quarantine_file;  // where the message was quarantined ("" = not)
  std::string policy_bank;      // the bank that selected the message ("" = none)

  // Header edits for the relayed message: `added_headers` (CRLF fields: X-Virus-Scanned,
  // X-Spam-*, X-Quarantine-ID) go first; when `replaced_size` > 0, the first `replaced_size`
  // bytes of the message (its header section) are replaced by `header_section`.
  std::string added_headers;
  std::string header_section;
  size_t replaced_size = 0;
};

class MessagePolicy {
 public:
  virtual ~MessagePolicy() = default;
  // Decides on one message. `message`: its content as received, in SMTP form (CRLF line ends,
  // no dot-stuffing). `deadline`: the message's; checks that miss it make a tempfail.
  virtual asio::awaitable<Decision> Decide(const MessageFacts& facts, const spool::Spool& message,
                                           std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace mailsift::policy
