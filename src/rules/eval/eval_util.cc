// rules/eval/eval_util.cc — see eval_util.h.
#include "rules/eval/eval_util.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "base/strings.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

size_t DottedQuadLength(std::string_view s, size_t pos) {
  size_t p = pos;
  for (int k = 0; k < 4; ++k) {
    const size_t start = p;
    while (p < s.size() && IsDigit(s[p])) ++p;
    if (p == start) return 0;
    if (k < 3) {
      if (p >= s.size() || s[p] != '.') return 0;
      ++p;
    }
  }
  return p - pos;
}

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

const std::string& ArgOrEmpty(const std::vector<std::string>& args, size_t i) {
  static const std::string kEmpty;
  return i < args.size() ? args[i] : kEmpty;
}

std::string_view ArgView(const std::vector<std::string>& args, size_t i) {
  return i < args.size() ? std::string_view(args[i]) : std::string_view();
}

double LeadingNumber(std::string_view s) {
  std::string copy(TrimPerlSpace(s));
  return std::strtod(copy.c_str(), nullptr);
}

std::string FirstOrEmpty(const std::vector<std::string>& v) { return v.empty() ? "" : v.front(); }

bool HasNonSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return !IsPerlSpace(c); });
}

std::string_view GroupText(std::string_view subject, const std::vector<Span>& g, size_t i) {
  if (i >= g.size() || !g[i].set()) return {};
  return subject.substr(g[i].begin, g[i].end - g[i].begin);
}

std::string ReplaceAll(const PerlRegex& re, std::string_view text, std::string_view replacement) {
  std::string out;
  size_t pos = 0;
  size_t copied = 0;
  std::vector<Span> g;
  while (pos <= text.size() && re.Search(text, pos, &g)) {
    out.append(text.substr(copied, g[0].begin - copied));
    out.append(replacement);
    copied = g[0].end;
    pos = g[0].end > g[0].begin ? g[0].end : g[0].end + 1;
    if (g[0].end == g[0].begin && g[0].begin < text.size()) {
      out += text[g[0].begin];
      copied = g[0].begin + 1;
    }
  }
  if (copied < text.size()) out.append(text.substr(copied));
  return out;
}

}  // namespace mailsift::rules
