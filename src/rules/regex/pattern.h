// rules/regex/pattern.h — one SpamAssassin rule regex compiled with PCRE2, matched under limits.
//
// SpamAssassin compiles every rule as Perl `qr/(?flags)pattern/aa` and matches octets: \d \w \s
// \b and case folding are ASCII-only, bytes ≥ 0x80 match themselves. PCRE2 in 8-bit mode without
// UTF or UCP has exactly those semantics, so a pattern is passed through byte for byte; only the
// `(?aa)` groups ReplaceTags leaves in some patterns are removed (a no-op in that mode, and a
// syntax error to PCRE2), and the flags i m s x become PCRE2 options (others are ignored, as in
// SpamAssassin's compiled rules).
//
// Debian's libpcre2-8 is built with a link size of 2 and refuses patterns whose compiled form
// exceeds 64 KiB (eight of the shipped ReplaceTags-expanded rules, up to 224 KB of source).
// Such a pattern is compiled with the 32-bit library instead, where links are always 32 bits
// wide; the subject is then widened byte by byte to 32-bit code units, which in non-UTF mode
// matches exactly as the 8-bit library would. No pattern is lost.
//
// Every match runs JIT-compiled code under a match limit and a depth limit; hitting a limit
// counts as no match and is counted (LimitHitScope), so no pattern can stall a scan.
//
// Thread-safety: a Pattern is immutable after Compile and may be matched from many threads at
// once; per-thread match data and JIT stacks are kept in thread-local storage.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace mailsift::rules {

struct PatternLimits {
  uint32_t match_limit = 1'000'000;
  uint32_t depth_limit = 10'000;
};

// Counts the match-limit hits of the patterns matched on this thread while it lives: a scan
// runs on one thread, so each scan has its own count however many run at once. Scopes nest
// (the inner one counts alone).
class LimitHitScope {
 public:
  LimitHitScope();
  ~LimitHitScope();
  LimitHitScope(const LimitHitScope&) = delete;
  LimitHitScope& operator=(const LimitHitScope&) = delete;
  uint64_t hits() const { return hits_; }

 private:
  uint64_t hits_ = 0;
  uint64_t* outer_;
};

class Pattern {
 public:
  Pattern();
  ~Pattern();
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;

  // Compiles `pattern` with Perl flags `flags` (SpamAssassin allows [a-df-z]; i m s x count).
  // The error names PCRE2's reason and the offset in the pattern.
  // `jit` false: the interpreter only (for patterns built per message, where JIT compiling
  // costs more than it saves).
  static Result<Pattern> Compile(std::string_view pattern, std::string_view flags,
                                 const PatternLimits& limits = {}, bool jit = true);

  // Finds the first match at or after `start`; on success sets [match_start, match_end).
  // A limit hit or an error is no match (and is counted).
  bool Search(std::string_view subject, size_t start, size_t* match_start, size_t* match_end) const;
  bool Matches(std::string_view subject) const;
  // Perl's `while ($s =~ /re/g)` count: matches found one after another (an empty match
  // advances one byte), at most `max` (0 = unlimited).
  int CountMatches(std::string_view subject, int max) const;

  // Named capture groups' values in the first match, for capture templates; empty when none.
  bool SearchCaptures(std::string_view subject,
                      std::vector<std::pair<std::string, std::string>>* named) const;

  bool wide() const;  // compiled with the 32-bit library

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Removes the `(?aa)` groups ReplaceTags leaves, which PCRE2 does not know (exposed for tests).
std::string StripPerlAsciiFlag(std::string_view pattern);

}  // namespace mailsift::rules
