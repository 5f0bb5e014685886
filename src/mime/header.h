// mime/header.h — the header section of a message or body part (RFC 5322 §2.2, §3.6).
//
// ParseHeaderSection splits the bytes before the first empty line into fields, in order. Each
// field keeps its raw value (everything after the colon, folding line breaks included) and the
// unfolded value (RFC 5322 §2.2.3: a line break followed by a blank is removed, leading and
// trailing blanks trimmed); Decoded() gives the value with RFC 2047 encoded words decoded to
// UTF-8.
// Lookup by name is ASCII case-insensitive and returns every instance in order.
//
// Malformed input never fails: LF or CRLF line ends are both accepted; a line that is neither
// a field nor a continuation ends the header section and starts the body (the result says so,
// as SpamAssassin's missing_head_body_separator does); a continuation line before the first
// field is dropped; raw 8-bit bytes in values are kept as they are.
//
// Thread-safety: Headers is an immutable value after parsing; the functions are pure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailsift::mime {

std::string DecodeEncodedWords(std::string_view text);

struct HeaderField {
  std::string name;   // as written, without the colon or blanks before it
  std::string raw;    // after the colon, up to the last line end (excluded), folding kept
  std::string value;  // unfolded and trimmed
  // `value` with RFC 2047 encoded words decoded, UTF-8 (made on each call, not kept: a field
  // may be megabytes long and few readers want it).
  std::string Decoded() const { return DecodeEncodedWords(value); }
};

// Copies share the fields (immutable): the parser hands one header section to the message and
// to its first entity without copying a 20 MB header line twice.
class Headers {
 public:
  Headers() = default;
  explicit Headers(std::vector<HeaderField> fields)
      : fields_(std::make_shared<const std::vector<HeaderField>>(std::move(fields))) {}

  const std::vector<HeaderField>& fields() const { return fields_ ? *fields_ : Empty(); }
  bool empty() const { return fields().empty(); }

  // Every field named `name` (case-insensitive), in message order.
  std::vector<const HeaderField*> GetAll(std::string_view name) const;
  // The first field named `name`, or nullptr.
  const HeaderField* Get(std::string_view name) const;
  // The unfolded value of the first field named `name`, or "" when there is none.
  std::string_view Value(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }

 private:
  static const std::vector<HeaderField>& Empty();
  std::shared_ptr<const std::vector<HeaderField>> fields_;
};

struct HeaderSection {
  Headers headers;
  size_t body_offset = 0;          // where the body starts in the input (after the empty line)
  bool missing_separator = false;  // the body began at a non-header line, not an empty line
  size_t dropped_lines = 0;        // continuation lines with no field to continue
};

// Parses the header section at the start of `entity` (a message or a body part).
HeaderSection ParseHeaderSection(std::string_view entity);

// RFC 5322 §2.2.3 unfolding plus trimming of blanks and line ends at both ends.
std::string Unfold(std::string_view raw);

// Decodes RFC 2047 encoded words ("=?charset?B|Q?text?=", with an optional "*lang" after the
// charset, RFC 2231 §5) in `text` and returns UTF-8. Blanks between two adjacent encoded words
// are dropped (§6.2); consecutive words in one charset are converted together, so a multi-byte
// character split across words survives. Words are recognised also inside other text, as mail
// readers do. A malformed word is kept as written. Text outside words is kept byte for byte
// (raw 8-bit bytes there are not converted, so the result is UTF-8 only when they were).
std::string DecodeEncodedWords(std::string_view text);

}  // namespace mailsift::mime
