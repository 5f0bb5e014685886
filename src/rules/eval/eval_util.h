// rules/eval/eval_util.h — small Perl-alike helpers the eval plugin files share.
//
// How SpamAssassin's Perl reads an eval's arguments and numbers: an optional argument (undef
// when missing), Perl's numeric value of a string. Internal to rules/eval.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Perl's numeric value of a string: leading blanks, then the longest decimal number prefix
// (Inf/NaN spelled out are numbers too); anything else is 0.
double PerlNumber(std::string_view s);

// Argument `i`, or nullptr (Perl's undef) when the rule gave fewer.
const std::string* ArgOrNull(const std::vector<std::string>& args, size_t i);

}  // namespace mailsift::rules
