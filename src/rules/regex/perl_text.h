// rules/regex/perl_text.h — small pieces of Perl's text semantics that SpamAssassin's code relies
// on, shared by the eval functions and the Received parser: Perl's \s on bytes, trimming by it, and
// the wildcard match behind SpamAssassin's address and subject globs. Pure functions,
// header-only; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailsift::rules {

// Perl's \s on bytes: space, \t, \n, \v, \f, \r.
constexpr bool IsPerlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// s/^\s+//; s/\s+$//
constexpr std::string_view TrimPerlSpace(std::string_view s) {
  while (!s.empty() && IsPerlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsPerlSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The text with each CRLF line end made LF, as SpamAssassin keeps a message's lines (a lone
// CR stays).
inline std::string CrlfToLf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out.push_back(s[i]);
  }
  return out;
}

// A whole-text match of `glob` against `text` as SpamAssassin's globs become Perl regexes:
// `*` is `.*` and `?` is `.`, so neither matches a newline; any other character matches
// itself. `Glob` and `Text` are anything with size() and operator[] giving a char (a view that
// lower-cases or maps characters on the fly, so that callers need no copies). Iterative, with
// one backtracking point: linear in practice, never exponential.
template <class Glob, class Text>
bool WildcardMatches(const Glob& g, const Text& a) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t gi = 0, ai = 0, star_g = kNone, star_a = 0;
  while (ai < a.size()) {
    if (gi < g.size() && g[gi] == '*') {
      while (gi < g.size() && g[gi] == '*') ++gi;
      star_g = gi;
      star_a = ai;
    } else if (gi < g.size() && (g[gi] == a[ai] || (g[gi] == '?' && a[ai] != '\n'))) {
      ++gi;
      ++ai;
    } else if (star_g != kNone && a[star_a] != '\n') {
      gi = star_g;
      ai = ++star_a;
    } else {
      return false;
    }
  }
  while (gi < g.size() && g[gi] == '*') ++gi;
  return gi == g.size();
}

}  // namespace mailsift::rules
