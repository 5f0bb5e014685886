// rules/prefilter/literal_prefilter.h — skipping regexes that cannot match, by what every match
// contains.
//
// Most SpamAssassin rules need some literal text to match (/\bfree money\b/i needs "free
// money"). RequiredLiterals() reads a pattern and returns a set of strings of which at least one
// occurs, ASCII lower-cased, in every match; when it cannot prove such a set (classes,
// optional parts, /x, unusual syntax, literals shorter than kMinLiteral) it returns an empty set
// and the rule always runs. RequiredRepeats() adds how many such occurrences a repeated group
// needs. For patterns without literals (ReplaceTags' obfuscation classes), ClassWindow finds a
// short run of byte classes every match contains. All three are walks over the syntax tree of
// rules/regex/regex_syntax.h (the one reading of the pattern, shared with hs_expression.h); they
// give up where that tree has unsupported nodes, and where the walks never looked (/x, (?x),
// (?P<name>…) for the literals).
//
// TextIndex holds one lower-cased text, or a list of texts joined (a message's body lines, its
// URIs, …), with bigram and trigram bitmaps, so "may this literal occur?" costs a few bit tests
// and, only when they pass, one substring search. For a list it also names the texts where a
// literal (or a class window) occurs: SpamAssassin matches body rules line by line, so only those
// lines need the regex. Every answer only ever over-approximates where a match can be, so results
// never change.
//
// Thread-safety: RequiredLiterals, RequiredRepeats and ClassWindow::ForPattern are pure; a
// ClassWindow is immutable; a TextIndex belongs to one scan.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules {

inline constexpr size_t kMinLiteral = 2;

std::vector<std::string> RequiredLiterals(std::string_view pattern, std::string_view flags);

// When `pattern` is one group repeated at least n ≥ 2 times — (?:…){n} or {n,m} or {n,}, after
// inline flags like (?i) — returns n: every match then holds n occurrences of its required
// literals (at distinct offsets), one inside each repeat. 0 otherwise.
int RequiredRepeats(std::string_view pattern, std::string_view flags);

class TextIndex;

// For patterns without required literals (ReplaceTags' obfuscation classes like
// [o0\xf2-\xf6]): a window of up to kClassWindow consecutive bytes, each from a class, that every
// match contains — what a run of consecutive atoms of a required part of the pattern matches,
// relaxed to one byte class per position (and per match length). Assertions count as matching
// nothing and unsupported syntax ends a run, so a window only ever over-approximates. It is
// found by one shift-and pass over the lower-cased text.
inline constexpr size_t kClassWindow = 8;

class ClassWindow {
 public:
  // The most selective window, or nullopt when none is expected to skip much.
  static std::optional<ClassWindow> ForPattern(std::string_view pattern, std::string_view flags);
  // The indexes, ascending, of the texts of `index` (built from texts) where an occurrence of
  // the window may start; a superset of the texts the pattern can match.
  void TextsMatching(const TextIndex& index, std::vector<uint32_t>* texts) const;
  double chance() const { return chance_; }

 private:
  static constexpr double kMaxChance = 2e-2;
  static constexpr size_t kMaxWords = 4;  // state bits: 64 each
  static constexpr size_t kSticky = 3;    // state bits after each run that keep a hit
  static size_t MarkTexts(const TextIndex& index, size_t end, std::vector<uint32_t>* texts);
  void Scan1(const TextIndex& index, std::vector<uint32_t>* texts) const;
  template <size_t kWords>
  void Scan(const TextIndex& index, std::vector<uint32_t>* texts) const;
  size_t words_ = 0;
  std::vector<uint64_t> mask_;  // [byte * words_ + word]
  std::array<uint64_t, kMaxWords> init_{}, hit_{};
  double chance_ = 1;
};

class TextIndex {
 public:
  // kNone: no bigram and trigram bitmaps, every question goes to the substring search. For the
  // texts the Hyperscan prefilter has already scanned, whose rules ask only once it has found
  // something like their match (the bitmaps then rarely save a search, and cost 16 kB of
  // bits set per text).
  enum class Grams { kBuild, kNone };
  TextIndex() = default;
  explicit TextIndex(std::string_view text, Grams grams = Grams::kBuild);
  // The texts joined, one "\n" after each; TextsContainingAny() then names texts.
  explicit TextIndex(const std::vector<std::string>& texts, Grams grams = Grams::kBuild);
  // False only when `literal` (lower case, at least kMinLiteral bytes) does not occur.
  bool MayContain(std::string_view literal) const;
  bool MayContainAny(const std::vector<std::string>& literals) const;
  // Index built from texts only: sets `texts` to the indexes, ascending, of the texts where an
  // occurrence of one of `literals` starts (empty when none occurs). A match of a regex on one
  // text holds one of its required literals inside that text, so the other texts need not be
  // matched. Returns false, and no list, when that is more than half of the texts.
  bool TextsContainingAny(const std::vector<std::string>& literals,
                          std::vector<uint32_t>* texts) const;
  // Index built from texts only: the texts, ascending, where occurrences of `literals` start
  // at `min_count` or more distinct offsets.
  void TextsContainingMany(const std::vector<std::string>& literals, int min_count,
                           std::vector<uint32_t>* texts) const;

 private:
  friend class ClassWindow;
  static size_t Hash(const char* p);
  bool MayOccur(std::string_view literal) const;  // the bitmaps' answer, without a search
  size_t Find(std::string_view literal, size_t from) const;  // in lowered_, or npos
  void Build(Grams grams);  // lower-cases, and sets the bitmaps when asked to
  std::string lowered_;
  bool grams_ = false;
  std::vector<size_t> starts_;     // where each text starts in lowered_ (list-built only)
  std::bitset<1 << 16> bigrams_;   // exact: every byte pair of the text
  std::bitset<1 << 16> trigrams_;  // hashed
};

}  // namespace mailsift::rules
