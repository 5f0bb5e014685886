#include "smtp/data_framer.h"

#include <algorithm>
#include <cstring>

namespace mailsift::smtp {

DataFramer::DataFramer(Mode mode) : mode_(mode) {
  if (mode_ == Mode::kRaw) state_ = State::kLineStartBare;  // no end mark in raw mode
}

void DataFramer::Content(const char* data, size_t n, std::string& out) { out.append(data, n); }

void DataFramer::EndLine(std::string& out) { out.append("\r\n", 2); }

void DataFramer::BareNewline(std::string& out) {
  // A bare LF: the line ends here in the canonical output, but the next line cannot be the
  // end mark. In reject mode the content no longer matters; the caller refuses the message.
  saw_bare_newline_ = true;
  EndLine(out);
  state_ = State::kLineStartBare;
}

void DataFramer::StrayCr(std::string& out) {
  // A CR not followed by LF becomes a space (Postfix's cleanup_replace_stray_cr_lf).
  saw_bare_newline_ = true;
  Content(" ", 1, out);
}

size_t DataFramer::Feed(std::string_view input, std::string& out) {
  const char* p = input.data();
  const char* end = p + input.size();
  // The next LF at or after p (end if none), found once per line rather than once per run,
  // so that a line full of stray CRs is still scanned in linear time.
  const char* lf = nullptr;
  while (p < end && !finished_) {
    char c = *p;
    switch (state_) {
      case State::kLineStart:
      case State::kLineStartBare:
        if (c == '.' && mode_ == Mode::kDotTerminated) {
          if (state_ == State::kLineStart) {
            state_ = State::kDot;
          } else {
            // After a bare LF: this line can never end the data. A leading dot is still the
            // transparency dot if another character follows; keep a lone "." as content.
            state_ = State::kDot;
            dot_after_bare_ = true;
          }
          ++p;
          continue;
        }
        state_ = State::kMidLine;
        continue;  // reprocess c in kMidLine
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
          ++p;
          continue;
        }
        if (c == '\n') {
          // "." then bare LF: content "." (never the end).
          Content(".", 1, out);
          ++p;
          dot_after_bare_ = false;
          BareNewline(out);
          continue;
        }
        // The transparency dot of a stuffed line: drop it (RFC 5321 §4.5.2).
        dot_after_bare_ = false;
        state_ = State::kMidLine;
        continue;  // c is the first content byte
      case State::kDotCr:
        if (c == '\n' && !dot_after_bare_) {
          finished_ = true;
          ++p;
          continue;
        }
        if (c == '\n') {
          // "." CRLF after a bare LF: content line ".".
          Content(".", 1, out);
          EndLine(out);
          dot_after_bare_ = false;
          state_ = State::kLineStart;
          ++p;
          continue;
        }
        // "." CR x: the dot is content, the CR is stray.
        Content(".", 1, out);
        dot_after_bare_ = false;
        StrayCr(out);
        state_ = State::kMidLine;
        continue;  // reprocess c
      case State::kMidLine: {
        // Fast path: copy the run up to the next CR or LF, both found with memchr (in
        // well-formed data the CR is the byte before the LF).
        if (lf == nullptr || lf < p) {
          lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
          if (lf == nullptr) lf = end;
        }
        const char* stop =
            static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(lf - p)));
        if (stop == nullptr) stop = lf;
        if (stop > p) {
          Content(p, static_cast<size_t>(stop - p), out);
          p = stop;
          continue;
        }
        if (c == '\r') {
          state_ = State::kCr;
        } else {
          BareNewline(out);
        }
        ++p;
        continue;
      }
      case State::kCr:
        if (c == '\n') {
          EndLine(out);
          state_ = mode_ == Mode::kDotTerminated ? State::kLineStart : State::kLineStartBare;
          ++p;
          continue;
        }
        StrayCr(out);
        state_ = State::kMidLine;
        continue;  // reprocess c (which may be another CR)
    }
  }
  return static_cast<size_t>(p - input.data());
}

void DataFramer::Finish(std::string& out) {
  switch (state_) {
    case State::kLineStart:
    case State::kLineStartBare:
      break;
    case State::kDot:
      Content(".", 1, out);
      EndLine(out);
      break;
    case State::kDotCr:
      Content(".", 1, out);
      StrayCr(out);
      EndLine(out);
      break;
    case State::kMidLine:
      EndLine(out);
      break;
    case State::kCr:
      StrayCr(out);
      EndLine(out);
      break;
  }
  state_ = State::kLineStartBare;
  finished_ = true;
}

void DotStuffer::Stuff(std::string_view chunk, std::string& out) {
  size_t start = 0;
  while (start < chunk.size()) {
    if (at_line_start_ && chunk[start] == '.') out.push_back('.');
    size_t newline = chunk.find('\n', start);
    if (newline == std::string_view::npos) {
      out.append(chunk.substr(start));
      at_line_start_ = false;
      return;
    }
    out.append(chunk.substr(start, newline + 1 - start));
    at_line_start_ = true;
    start = newline + 1;
  }
}

}  // namespace mailsift::smtp
