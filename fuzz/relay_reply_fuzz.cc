// libFuzzer target: the next hop's replies as the relay client reads them (smtp/relay_reply.h).
// The input is what the next hop sends, cut into lines as net::Stream::ReadLine cuts them (at
// LF, one CR before it dropped; a line over kMaxRelayReplyLine bytes or an unfinished last line
// ends the exchange). For any input:
//   - every complete reply has a code from 200 to 599 and 1 to kMaxRelayReplyLines lines, and
//     a reader never needs more than kMaxRelayReplyLines lines to decide;
//   - the wire form we pass on (WireWithEnhanced, with a fallback of the reply's class) reads
//     back as the same code and number of lines, with an enhanced code of the reply's class on
//     its first line (classes 2, 4 and 5, RFC 3463);
//   - the EHLO extensions parsed from any reply hold only upper-case XFORWARD names.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/relay_reply.h"

using namespace mailsift::smtp;

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

// The lines of `bytes` as Stream::ReadLine gives them; stops at a line longer than `max_line`
// (CRLF included) or an unfinished one.
std::vector<std::string_view> Lines(std::string_view bytes, size_t max_line) {
  std::vector<std::string_view> lines;
  while (true) {
    size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos || newline + 1 > max_line) break;
    size_t length = newline;
    if (length > 0 && bytes[length - 1] == '\r') --length;
    lines.push_back(bytes.substr(0, length));
    bytes.remove_prefix(newline + 1);
  }
  return lines;
}

void CheckReply(const Reply& reply) {
  Require(reply.code >= 200 && reply.code <= 599);
  Require(!reply.lines.empty() && reply.lines.size() <= kMaxRelayReplyLines);
  const std::string fallback = std::to_string(reply.Class()) + ".0.0";
  const std::string wire = reply.WireWithEnhanced(fallback);
  RelayReplyReader again;
  Reply echoed;
  RelayReplyReader::Status status = RelayReplyReader::Status::kNeedMore;
  for (std::string_view line : Lines(wire, wire.size())) {  // our prefix may pass the limit
    Require(status == RelayReplyReader::Status::kNeedMore);
    status = again.AddLine(line, echoed);
  }
  Require(status == RelayReplyReader::Status::kComplete);
  Require(echoed.code == reply.code && echoed.lines.size() == reply.lines.size());
  const std::string enhanced = echoed.Enhanced();
  // RFC 3463 has no class 3 (a 354 is never passed on).
  if (reply.Class() != 3) Require(!enhanced.empty() && enhanced[0] - '0' == reply.Class());

  Extensions extensions = ParseExtensions(reply);
  for (const std::string& name : extensions.xforward) {
    for (char c : name) Require(!(c >= 'a' && c <= 'z'));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  RelayReplyReader reader;
  size_t pending = 0;  // lines of the reply being read
  for (std::string_view line : Lines(bytes, kMaxRelayReplyLine)) {
    Reply reply;
    RelayReplyReader::Status status = reader.AddLine(line, reply);
    ++pending;
    Require(pending <= kMaxRelayReplyLines);
    if (status == RelayReplyReader::Status::kMalformed) break;  // the client closes
    if (status == RelayReplyReader::Status::kComplete) {
      Require(reply.lines.size() == pending);
      CheckReply(reply);
      pending = 0;
    }
  }
  return 0;
}
