// smtp/header_meter.h — the size of each header field of a message, measured as it arrives.
//
// HeaderMeter is fed the canonical content (CRLF lines, as DataFramer produces it) in chunks
// of any size and says once a field of the primary header section has grown past the limit,
// so that the caller can stop keeping the message long before a 20 MB header line is whole.
// It holds constant state: memory does not grow with line or message length.
//
// A field is counted as Postfix's cleanup(8) stores it against header_size_limit: its name and
// value, each continuation line (one starting with SP or HT) joined by one byte, the final
// line end not counted. The header section ends, as Postfix's is_header() decides, at the
// empty line or at the first line that is not a header field: a line that is neither a
// continuation nor "name:" (name: printable ASCII but ':', optionally followed by SP/HT before
// the ':'), or whose name runs past kMaxNameScan bytes without a ':' (Postfix looks for the
// colon in one record of line_length_limit bytes). Body lines are not measured.
// Single-threaded; one per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mailsift::smtp {

class HeaderMeter {
 public:
  // Postfix's line_length_limit: how far is_header() looks for the colon.
  static constexpr uint64_t kMaxNameScan = 2048;

  explicit HeaderMeter(uint64_t limit) : limit_(limit) {}

  // Measures the next bytes of canonical content.
  void Feed(std::string_view canonical);

  // A header field grew past the limit (sticky).
  bool exceeded() const { return exceeded_; }
  // The header section has ended (nothing more is measured).
  bool done() const { return state_ == State::kDone; }
  // The largest field seen so far, at most limit + 1.
  uint64_t largest() const { return largest_; }

 private:
  enum class State {
    kLineStart,  // at the start of a line in the header section
    kName,       // in a field name
    kNameSpace,  // SP/HT after a name, before its ':'
    kValue,      // after the ':' (or in a continuation line)
    kCr,         // CR at the end of a field line
    kEmptyCr,    // CR at the start of a line: the empty line that ends the section
    kDone,
  };

  void Count(uint64_t n);

  uint64_t limit_;
  State state_ = State::kLineStart;
  bool in_field_ = false;  // a field is open (a continuation line may follow)
  uint64_t field_ = 0;     // the open field's size
  uint64_t name_ = 0;      // bytes of the name (and SP/HT) read before its ':'
  uint64_t largest_ = 0;
  bool exceeded_ = false;
};

}  // namespace mailsift::smtp
