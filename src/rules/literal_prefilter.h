// rules/literal_prefilter.h — skipping regexes that cannot match, by their required literals.
//
// Most SpamAssassin rules need some literal text to match (/\bfree money\b/i needs "free
// money"). RequiredLiterals() reads a pattern and returns a set of strings of which at least one
// occurs, ASCII lower-cased, in every match; when it cannot prove such a set (classes,
// optional parts, /x, unusual syntax, literals shorter than kMinLiteral) it returns an empty set
// and the rule always runs. TextIndex holds one lower-cased text (a message's body lines joined,
// its URIs, …) with bigram and trigram bitmaps, so "may this literal occur?" costs a few bit tests and,
// only when they pass, one substring search. The evaluator runs a regex only when one of its
// literals may occur; the answer "cannot occur" is exact, so results never change.
//
// Thread-safety: RequiredLiterals is pure; a TextIndex belongs to one scan.
#pragma once

#include <bitset>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules {

inline constexpr size_t kMinLiteral = 2;

std::vector<std::string> RequiredLiterals(std::string_view pattern, std::string_view flags);

class TextIndex {
 public:
  TextIndex() = default;
  explicit TextIndex(std::string_view text);
  // False only when `literal` (lower case, at least kMinLiteral bytes) does not occur.
  bool MayContain(std::string_view literal) const;
  bool MayContainAny(const std::vector<std::string>& literals) const;

 private:
  static size_t Hash(const char* p);
  std::string lowered_;
  std::bitset<1 << 16> bigrams_;  // exact: every byte pair of the text
  std::bitset<1 << 16> trigrams_;  // hashed
};

}  // namespace mailsift::rules
