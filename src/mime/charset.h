// mime/charset.h — bytes in a declared charset to UTF-8, with ICU (ucnv).
//
// Conversion never fails: an unknown or unusable charset name falls back to windows-1252 (a
// superset of latin-1 for the printable range, as browsers do, WHATWG Encoding §4.2), and bytes
// that are invalid in the charset become U+FFFD. Labels are matched the way mail needs:
// iso-8859-1 / latin1 / us-ascii are read as windows-1252 (the bytes 0x80-0x9F in "latin-1"
// mail are almost always cp1252 punctuation), and gb2312 as GBK. Text that is declared
// us-ascii or carries no charset but is valid UTF-8 stays UTF-8.
//
// Thread-safety: pure functions; each call opens its own ICU converter.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::mime {

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// Converts `bytes` from `charset` (a MIME charset label, any case, may be empty) to UTF-8.
std::string ToUtf8(std::string_view bytes, std::string_view charset);

// Replaces each invalid UTF-8 sequence in `bytes` with U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace mailsift::mime
