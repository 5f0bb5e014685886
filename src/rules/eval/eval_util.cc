// rules/eval/eval_util.cc — see eval_util.h.
#include "rules/eval/eval_util.h"

#include <cstdlib>
#include <limits>

#include "base/strings.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

double PerlNumber(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsPerlSpace(s[i])) ++i;
  size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string_view rest = s.substr(i);
  if (StartsWithIgnoreCase(rest, "inf")) {
    return (start < s.size() && s[start] == '-') ? -std::numeric_limits<double>::infinity()
                                                 : std::numeric_limits<double>::infinity();
  }
  if (StartsWithIgnoreCase(rest, "nan")) return std::numeric_limits<double>::quiet_NaN();
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && IsDigit(s[j])) {
      while (j < s.size() && IsDigit(s[j])) ++j;
      i = j;
    }
  }
  std::string number(s.substr(start, i - start));
  return std::strtod(number.c_str(), nullptr);
}

const std::string* ArgOrNull(const std::vector<std::string>& args, size_t i) {
  return i < args.size() ? &args[i] : nullptr;
}

}  // namespace mailsift::rules
