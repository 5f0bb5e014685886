// rules/eval/eval_util.h — small Perl-alike helpers the eval plugin files share.
//
// How SpamAssassin's Perl reads an eval's arguments and numbers (an optional argument, undef
// when missing; Perl's numeric value of a string), and the regex pieces of the header plugins
// (PCRE2 options, capture groups, s///g). Internal to rules/eval.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/regex/perl_regex.h"

namespace mailsift::rules {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The length of a match of /\d+\.\d+\.\d+\.\d+/ (ASCII digits) starting at s[pos], or 0 when
// none starts there.
size_t DottedQuadLength(std::string_view s, size_t pos);

// Perl's numeric value of a string: leading blanks, then the longest decimal number prefix
// (Inf/NaN spelled out are numbers too); anything else is 0.
double PerlNumber(std::string_view s);

// Argument `i`, or nullptr (Perl's undef) when the rule gave fewer.
const std::string* ArgOrNull(const std::vector<std::string>& args, size_t i);

// Argument `i`, or "" when the rule gave fewer.
const std::string& ArgOrEmpty(const std::vector<std::string>& args, size_t i);
std::string_view ArgView(const std::vector<std::string>& args, size_t i);

// Perl numeric conversion of an eval argument as strtod reads the trimmed text ("3", "-0.5");
// 0 for anything else. (HeaderEval's reading; PerlNumber above is the exact Perl one.)
double LeadingNumber(std::string_view s);

// The first element, or "".
std::string FirstOrEmpty(const std::vector<std::string>& v);

// True when `s` has a byte that is not Perl's \s.
bool HasNonSpace(std::string_view s);

// PCRE2 options of the plugins' patterns (byte semantics, ASCII classes, as SA's byte strings).
inline constexpr uint32_t kCaseless = PCRE2_CASELESS;
inline constexpr uint32_t kExtended = PCRE2_EXTENDED;
inline constexpr uint32_t kDotAll = PCRE2_DOTALL;
// PerlRegex's default match limit, for the patterns built per message.
inline constexpr uint32_t kOnceMatchLimit = 1000000;

// Capture group `i` of a match of `subject`, or "" when it did not take part.
std::string_view GroupText(std::string_view subject, const std::vector<Span>& g, size_t i);
inline bool HasGroup(const std::vector<Span>& g, size_t i) { return i < g.size() && g[i].set(); }

// Perl's s/re/replacement/g with a literal replacement.
std::string ReplaceAll(const PerlRegex& re, std::string_view text, std::string_view replacement);

}  // namespace mailsift::rules
