// rules/prefilter/hs_expression.h — a rule regex as Hyperscan (vectorscan) expressions that match a
// superset.
//
// The multi-pattern prefilter (multi_prefilter.h) scans a message's texts once with all rules
// compiled into one Hyperscan database, and runs PCRE2 only for the rules it flags. That is only
// sound if Hyperscan flags every rule PCRE2 would match, so a rule is not handed to Hyperscan as
// written: SupersetExpressions() reads the pattern into the syntax tree of
// rules/regex/regex_syntax.h (PCRE2's syntax, 8-bit, no UTF; the Perl flags i m s x, inline flag
// groups, \Q…\E, classes, POSIX classes, escapes), turns that into a small tree of
// byte classes, and writes that tree back in a syntax whose meaning leaves no room for doubt:
//   - every character becomes an explicit byte class; case-insensitivity is applied here, ASCII
//     only, as PCRE2's default tables do, so Hyperscan needs no flag but MULTILINE;
//   - \d \w \s \h \v \N . and POSIX classes become their PCRE2 byte sets;
//   - ^ and \A become a multiline ^, $ \z \Z a multiline $ (the prefilter scans texts joined with
//     "\n", where a line's start follows a "\n");
//   - what Hyperscan cannot do is relaxed to something that matches more: lookarounds, \b \B \G
//     \K become empty, atomic groups and possessive or lazy quantifiers plain ones, a
//     backreference any bytes; large repeat bounds become unbounded; at higher levels every
//     bound and anchor goes, the multi-byte branches of ReplaceTags' look-alike letters become
//     runs of their bytes (the ASCII letters stay), and a pattern that is still too long is
//     split at an alternation into several expressions whose union matches more.
// Each step only ever widens the set of matched strings, so for every text PCRE2 matches, some
// expression matches the same text joined among others. Syntax the tree marks unsupported
// (conditionals, recursion, verbs, \p, \X, ambiguous octal/backreference numbers) or cannot read
// gives no expressions: the rule then always runs.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules {

// How much a pattern is simplified; the prefilter tries the levels in turn until Hyperscan
// accepts the expressions.
enum class RelaxLevel {
  kLight,  // only what Hyperscan needs; repeat bounds above 8 become unbounded (or 8 at least)
  kSmall,  // every repeat bound above 1 unbounded, every minimum above 1 lowered to 1, no ^ $
  kSplit,  // kSmall, look-alike letter alternations collapsed, split at the top alternation
};

// The texts an expression will be scanned over: any bytes, or only texts without a byte above
// 0x7f. For the latter every branch that needs such a byte is dropped (ReplaceTags' look-alike
// letters in UTF-8 and Latin-1), which makes the large obfuscation rules small enough for
// Hyperscan; the result is a superset only on ASCII texts.
enum class TextBytes { kAny, kAscii };

struct HsExpressions {
  std::vector<std::string> expressions;  // Hyperscan syntax, to compile with HS_FLAG_MULTILINE
};

// The expressions for `pattern` compiled by SpamAssassin with Perl `flags`, or nullopt when the
// pattern is not understood or can match the empty string (it would flag every text). With
// TextBytes::kAscii also nullopt when no match is possible in an ASCII text.
std::optional<HsExpressions> SupersetExpressions(std::string_view pattern, std::string_view flags,
                                                 RelaxLevel level,
                                                 TextBytes text = TextBytes::kAny);

// When `pattern` is one group repeated exactly n ≥ 2 times — (?:G){n} — returns n and sets
// `group` to an expression G' (level as above, never split) for G without the optional parts at
// its end: each of the n consecutive matches of G starts with a match of G', so a text that
// matches the pattern holds matches of G' ending at n different offsets, all in the text.
// Lets the prefilter check repeats that are too large for Hyperscan as a whole (ReplaceTags'
// __FILL_THIS_FORM_SHORT/LONG rules). 0 otherwise.
// `tail`, when given, is set to the longest part G' leaves off a match of G (-1: unbounded):
// the next of the n matches of G starts at most that many bytes after a match of G' ends.
int RepeatedGroupExpression(std::string_view pattern, std::string_view flags, RelaxLevel level,
                            std::string* group, long* tail = nullptr);

}  // namespace mailsift::rules
