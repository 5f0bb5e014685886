// smtp/reply.h — SMTP replies as a client reads them (RFC 5321 §4.2; RFC 2034/3463 codes).
//
// ReplyAssembler collects the lines of one possibly multi-line reply ("250-…" … "250 …").
// Reply gives the code, the enhanced status code if the peer sent one, and the wire form.
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::smtp {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text after "NNN-" / "NNN " of each line

  int Class() const { return code / 100; }
  // The enhanced status code at the start of the first line ("2.0.0"), or "".
  std::string Enhanced() const;
  // The wire form with an enhanced status code on every line: the peer's own if it sent one,
  // else `fallback` (e.g. "2.0.0"), so that our ENHANCEDSTATUSCODES promise holds.
  std::string WireWithEnhanced(std::string_view fallback) const;
  // "250 2.0.0 Ok: queued as X" (lines joined with a space) for logs and nested replies.
  std::string OneLine() const;
};

class ReplyAssembler {
 public:
  enum class Status { kNeedMore, kComplete, kMalformed };
  // Adds one line (without CRLF). On kComplete, `reply` holds the whole reply and the
  // assembler is ready for the next one.
  Status AddLine(std::string_view line, Reply& reply);

 private:
  Reply partial_;
};

// The enhanced status code at the start of `text`, or "" (RFC 3463 class.subject.detail).
std::string_view LeadingEnhancedCode(std::string_view text);

}  // namespace mailsift::smtp
