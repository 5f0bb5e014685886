// smtp/data_framer.h — smuggling-proof DATA framing and canonical re-serialisation.
//
// DataFramer turns the bytes a client sends after 354 (RFC 5321 §4.1.1.4, §4.5.2) into the
// canonical message: every line ends in CRLF, and the transparency dot is removed. It is a
// byte-level state machine with constant state, so an end-of-data mark split across reads is
// still recognised exactly once and memory does not grow with line or message length.
//
// The only end of data is CRLF "." CRLF, or "." CRLF as the very first line. Every other
// look-alike — LF.LF, LF.CRLF, CR.CR, CRLF.CR, CR.LF, NUL-interrupted dots — is content
// (see the SMTP smuggling research, CVE-2023-51764). A bare CR or LF is reported through
// saw_bare_newline() (the caller refuses the message under bare_newline = "reject"); in the
// content a bare LF ends a line (which can never end the data) and a bare CR becomes a space,
// so what the framer produces is canonical either way.
//
// In raw mode (BDAT, RFC 3030) there is no transparency and no end mark: the caller says
// when the last chunk ended by calling Finish().
//
// DotStuffer does the reverse for the next hop: every line that starts with "." gets another.
// Both are single-threaded objects; use one per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailsift::smtp {

class DataFramer {
 public:
  enum class Mode { kDotTerminated, kRaw };

  explicit DataFramer(Mode mode = Mode::kDotTerminated);

  // Consumes bytes of `input` up to and including the end-of-data mark and appends the
  // canonical content to `out`. Returns how many bytes were consumed: all of them unless the
  // end was found, in which case the rest belongs to the next command.
  size_t Feed(std::string_view input, std::string& out);

  // Raw mode: ends the message. A last line without CRLF gets one; a pending CR is resolved.
  void Finish(std::string& out);

  bool finished() const { return finished_; }
  bool saw_bare_newline() const { return saw_bare_newline_; }

 private:
  enum class State {
    kLineStart,      // after CRLF (or at the start): a "." here may begin the end mark
    kLineStartBare,  // after a bare LF: a "." here is content only
    kDot,            // "." at kLineStart
    kDotCr,          // "." CR at kLineStart
    kMidLine,
    kCr,  // CR inside a line, waiting to see if LF follows
  };

  void BareNewline(std::string& out);
  void StrayCr(std::string& out);
  void EndLine(std::string& out);
  void Content(const char* data, size_t n, std::string& out);

  Mode mode_;
  State state_ = State::kLineStart;
  bool finished_ = false;
  bool saw_bare_newline_ = false;
  bool dot_after_bare_ = false;  // the kDot/kDotCr line began after a bare LF
};

class DotStuffer {
 public:
  // Appends `chunk` of canonical content to `out` with transparency dots added.
  void Stuff(std::string_view chunk, std::string& out);
  // True if the content so far ended with a complete line (so "." CRLF can follow directly).
  bool at_line_start() const { return at_line_start_; }

 private:
  bool at_line_start_ = true;
};

}  // namespace mailsift::smtp
