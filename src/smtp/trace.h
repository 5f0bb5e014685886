// smtp/trace.h — the trace facts mailsift adds or reads: mail ids, its Received: header
// (RFC 5321 §4.4, in amavisd's layout), and RFC 5322 dates (base/strings.h has the quick header
// lookup for logs). Pure functions except NewMailId (a per-thread random generator). Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace mailsift::smtp {

// 12 characters of [A-Za-z0-9_-], like amavisd's mail_id.
std::string NewMailId();

// "Sun, 29 Nov 2026 18:01:15 +0000"
std::string Rfc5322Date(std::chrono::system_clock::time_point when);

struct ReceivedFacts {
  std::string_view helo;         // the client's HELO/EHLO/LHLO name
  std::string_view client_addr;  // numeric, "" for a Unix-socket client
  std::string_view hostname;     // ours
  std::string_view listener;     // "port 10024" or "unix socket"
  std::string_view protocol;     // "ESMTP", "SMTP", "LMTP" (RFC 3848)
  std::string_view mail_id;
  std::string_view single_recipient;  // "" unless exactly one recipient
  std::chrono::system_clock::time_point when;
};

// The whole header field, folded, ending in CRLF.
std::string ReceivedHeader(const ReceivedFacts& facts);

}  // namespace mailsift::smtp
