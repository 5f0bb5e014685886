// rules/regex/perl_regex.h — a PCRE2 regex for the eval functions' own patterns (the Perl regexes
// of SpamAssassin's plugins), matched on bytes with ASCII classes as Perl matches SA's byte
// strings, under a match and depth limit.
//
// A pattern that does not compile (possible only for patterns built from message text) never
// matches; a match that hits a limit counts as no match.
//
// Thread-safety: immutable after construction; Search() may run on several threads at once
// (each thread has its own match data).
#pragma once

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules {

// One capture group's position in the subject; unset when the group did not take part.
struct Span {
  size_t begin = PCRE2_UNSET;
  size_t end = PCRE2_UNSET;
  bool set() const { return begin != PCRE2_UNSET; }
};

class PerlRegex {
 public:
  // `options`: PCRE2 compile options (PCRE2_CASELESS, …). `jit` false for patterns used once.
  PerlRegex(std::string_view pattern, uint32_t options, uint32_t match_limit = 1000000,
            bool jit = true);
  ~PerlRegex();
  PerlRegex(const PerlRegex&) = delete;
  PerlRegex& operator=(const PerlRegex&) = delete;
  PerlRegex(PerlRegex&& other) noexcept;

  bool ok() const { return code_ != nullptr; }

  // Searches `subject` from `start`; on a match fills `groups` (0 = the whole match) when
  // given.
  bool Search(std::string_view subject, size_t start, std::vector<Span>* groups) const;
  bool Matches(std::string_view subject) const { return Search(subject, 0, nullptr); }

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  uint32_t captures_ = 0;  // capture groups in the pattern
};

// Searches `s` from the start; on a match sets *group1 (when given) to the first capture group
// ("" when it did not take part).
bool SearchFirstGroup(std::string_view s, const PerlRegex& re, std::string* group1 = nullptr);

}  // namespace mailsift::rules
