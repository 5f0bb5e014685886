// smtp/relay_reply.h — what the relay client (smtp/relay_client.h) reads from the next hop,
// apart from the socket: its replies, line by line (RFC 5321 §4.2.1; LMTP's are the same,
// RFC 2033 §4.2), and the SMTP extensions its EHLO or LHLO reply offers (RFC 5321 §4.1.1.1).
//
// RelayReplyReader takes the next hop's lines as net::Stream::ReadLine gives them (without the
// line end; a line of more than kMaxRelayReplyLine bytes with its CRLF is a protocol error
// before it gets here) and assembles one reply at a time. A malformed line ends the exchange,
// and so does a reply still unfinished after kMaxRelayReplyLines lines: the client then closes
// the connection (RelayFailure::kProtocol). fuzz/relay_reply_fuzz runs both parts.
//
// Pure. A reader belongs to one connection; ParseExtensions is thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace mailsift::smtp {

inline constexpr size_t kMaxRelayReplyLine = 4096;  // bytes, CRLF included
inline constexpr size_t kMaxRelayReplyLines = 100;  // lines of one reply

class RelayReplyReader {
 public:
  using Status = ReplyAssembler::Status;
  // Adds one line of the current reply. On kComplete, `reply` holds the whole reply and the
  // reader is ready for the next one; after kMalformed the reader starts afresh too.
  Status AddLine(std::string_view line, Reply& reply);

 private:
  ReplyAssembler assembler_;
  size_t lines_ = 0;  // of the current reply so far
};

// The extensions the next hop offers, from the keyword lines of its EHLO/LHLO reply (every
// line after the first; keywords are case-insensitive).
struct Extensions {
  bool pipelining = false;
  bool size = false;
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool dsn = false;
  std::vector<std::string> xforward;  // attribute names offered, upper case
};
Extensions ParseExtensions(const Reply& ehlo);

}  // namespace mailsift::smtp
