#include "smtp/relay_reply.h"

#include "base/strings.h"

namespace mailsift::smtp {

RelayReplyReader::Status RelayReplyReader::AddLine(std::string_view line, Reply& reply) {
  ++lines_;
  Status status = assembler_.AddLine(line, reply);
  if (status != Status::kNeedMore) {
    lines_ = 0;
    return status;
  }
  if (lines_ >= kMaxRelayReplyLines) {
    assembler_ = ReplyAssembler{};
    lines_ = 0;
    return Status::kMalformed;
  }
  return Status::kNeedMore;
}

Extensions ParseExtensions(const Reply& ehlo) {
  Extensions extensions;
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    auto words = SplitSpaces(ehlo.lines[i]);
    if (words.empty()) continue;
    std::string keyword = ToUpperAscii(words[0]);
    if (keyword == "PIPELINING") extensions.pipelining = true;
    if (keyword == "SIZE") extensions.size = true;
    if (keyword == "8BITMIME") extensions.eight_bit_mime = true;
    if (keyword == "SMTPUTF8") extensions.smtputf8 = true;
    if (keyword == "DSN") extensions.dsn = true;
    if (keyword == "XFORWARD") {
      for (size_t w = 1; w < words.size(); ++w) {
        extensions.xforward.push_back(ToUpperAscii(words[w]));
      }
    }
  }
  return extensions;
}

}  // namespace mailsift::smtp
