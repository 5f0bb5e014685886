// base/strings.h — small ASCII string helpers for protocol parsing (SMTP is ASCII-cased).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift {

// Case-insensitive ASCII comparison (bytes >= 0x80 compare exactly).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);
// Whether `needle` occurs in `text`, ASCII letters compared without case.
bool ContainsIgnoreCase(std::string_view text, std::string_view needle);
std::string ToUpperAscii(std::string_view text);
std::string ToLowerAscii(std::string_view text);
char ToLowerAscii(char c);
// True when no byte of `text` is above 0x7f.
bool IsAscii(std::string_view text);
std::string_view TrimSpaces(std::string_view text);  // spaces and tabs at both ends
// Splits at runs of spaces; never returns empty pieces.
std::vector<std::string_view> SplitSpaces(std::string_view text);
// Parses a non-negative decimal integer that fits in uint64; nullopt on anything else.
std::optional<uint64_t> ParseUnsigned(std::string_view text);
// A JSON string literal for `text`: quotes, backslashes and control bytes escaped, other bytes
// as they are.
std::string JsonQuote(std::string_view text);
// FNV-1a over `text`, continuing from `hash` (so several pieces can be hashed in turn).
inline constexpr uint64_t kFnv1aOffset = 14695981039346656037ull;
uint64_t Fnv1a(std::string_view text, uint64_t hash = kFnv1aOffset);

// The unfolded value of the first header field `name` in the header section at the start of
// `message` (which may be cut short; LF or CRLF lines), trimmed; "" if absent. For log lines and
// the quarantine index, not for parsing (mime/header.h parses).
std::string FindHeaderValue(std::string_view message, std::string_view name);

}  // namespace mailsift
