// mime/codec.h — Content-Transfer-Encoding decoders (RFC 2045 §6.7, §6.8).
//
// Both decoders are lenient, as mail readers are, and never fail: base64 skips every byte that
// is not in the alphabet and restarts after "=" padding (concatenated blocks decode in turn);
// quoted-printable removes soft line breaks ("=" at the end of a line, also with trailing
// blanks after it), drops trailing blanks of encoded lines, decodes "=XX" in either case and
// keeps a bad escape as the literal text. Line ends are kept as they are (LF or CRLF).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailsift::mime {

struct DecodeStats {
  size_t bad_bytes = 0;  // base64: bytes outside the alphabet (line ends not counted);
                         // QP: malformed escapes kept as text
};

// The value of a base64 alphabet character (RFC 4648 §4), -1 for any other byte (and for '=').
int Base64Value(unsigned char c);

// Appends at most `max_out` decoded bytes to `out`; returns true when the input was cut short.
bool DecodeBase64(std::string_view in, std::string& out, size_t max_out = SIZE_MAX,
                  DecodeStats* stats = nullptr);
bool DecodeQuotedPrintable(std::string_view in, std::string& out, size_t max_out = SIZE_MAX,
                           DecodeStats* stats = nullptr);

// RFC 2047 §4.2 "Q" encoding: like quoted-printable but "_" is a space and there are no lines.
std::string DecodeQEncoding(std::string_view in);

}  // namespace mailsift::mime
