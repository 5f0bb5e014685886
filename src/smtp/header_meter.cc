#include "smtp/header_meter.h"

#include <algorithm>
#include <cstring>

namespace mailsift::smtp {

void HeaderMeter::Count(uint64_t n) {
  field_ += n;
  largest_ = std::max(largest_, std::min(field_, limit_ + 1));
  if (field_ > limit_) exceeded_ = true;
}

void HeaderMeter::Feed(std::string_view canonical) {
  const char* p = canonical.data();
  const char* end = p + canonical.size();
  while (p < end && state_ != State::kDone) {
    const unsigned char c = static_cast<unsigned char>(*p);
    switch (state_) {
      case State::kLineStart:
        if (c == '\r') {
          state_ = State::kEmptyCr;
        } else if (c == ' ' || c == '\t') {
          if (!in_field_) {
            state_ = State::kDone;  // a continuation of nothing: not a header (body)
            break;
          }
          Count(1);  // the line end that joins it to the field
          state_ = State::kValue;
          continue;  // the SP/HT is counted as value
        } else if (c > 32 && c < 127 && c != ':') {
          in_field_ = true;
          field_ = 0;
          name_ = 0;
          state_ = State::kName;
          continue;
        } else {
          state_ = State::kDone;  // ":" first, a control or 8-bit byte: not a header
        }
        ++p;
        continue;
      case State::kName:
      case State::kNameSpace:
        // The name is counted once its ':' shows that the line is a header field.
        if (c == ':') {
          Count(name_ + 1);
          state_ = State::kValue;
          ++p;
          continue;
        }
        if (name_ >= kMaxNameScan ||
            (state_ == State::kName ? c <= 32 || c >= 127 : c != ' ' && c != '\t')) {
          if (state_ == State::kName && (c == ' ' || c == '\t') && name_ < kMaxNameScan) {
            state_ = State::kNameSpace;
          } else {
            state_ = State::kDone;  // no colon: the body starts here (Postfix's is_header)
            continue;
          }
        }
        ++name_;
        ++p;
        continue;
      case State::kValue: {
        // The run up to the next CR (canonical content has CR only before LF).
        const void* cr = std::memchr(p, '\r', static_cast<size_t>(end - p));
        const char* stop = cr != nullptr ? static_cast<const char*>(cr) : end;
        Count(static_cast<uint64_t>(stop - p));
        p = stop;
        if (p < end) {
          state_ = State::kCr;
          ++p;
        }
        continue;
      }
      case State::kCr:
        if (c == '\n') {
          state_ = State::kLineStart;
          ++p;
        } else {
          Count(1);  // not canonical input: the CR is content
          state_ = State::kValue;
        }
        continue;
      case State::kEmptyCr:
        // CR LF: the empty line. Anything else is not a header either.
        state_ = State::kDone;
        continue;
      case State::kDone:
        break;
    }
  }
}

}  // namespace mailsift::smtp
