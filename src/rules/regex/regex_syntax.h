// rules/regex/regex_syntax.h — rule regexes (Perl/PCRE2 syntax) read once into a syntax tree.
//
// The prefilters (literal_prefilter.h, hs_expression.h) decide which rules may be skipped from
// what a regex can match; they are only sound if they read the regex exactly as PCRE2 does.
// ParseRegex() is that one reading, of the syntax as SpamAssassin rules use it with PCRE2 in
// 8-bit mode without UTF:
//   - the Perl flags i m s x and inline flag groups (?i) (?-i) (?^) (?i:…), whose changes carry
//     into later branches of the same group (as in PCRE2); SpamAssassin's no-op charset flags
//     a d l u are accepted; (?xx) is refused;
//   - \Q…\E, classes with ranges, negation, POSIX classes ([:alpha:], [:^digit:]) and escapes
//     inside, \d \w \s \h \v \N \R \C and their negations, ., ^ $ \b \B \G \K \A \z \Z;
//   - groups (capturing, non-capturing, named, atomic, branch reset), lookarounds, comments,
//     quantifiers greedy, lazy or possessive with bounds, backreferences (\1…\9, \g, \k, (?P=));
//   - what is not modelled becomes a kUnsupported node (conditionals, recursion and subroutine
//     calls, callouts, verbs, \p \P \X \N{…}, ambiguous numbers like \12): a walk that meets one
//     gives up, or treats it as matching anything at its place when that is sound for it.
// Malformed syntax (unbalanced parentheses, a quantifier without an item, bad classes or
// escapes) gives no tree at all.
//
// The leaves are byte sets with the case folding of the flags in effect already applied, ASCII
// only, as PCRE2's default tables do; '.' and the character types are their PCRE2 byte sets.
// Every leaf also says where its bytes came from (a literal character, a class, '.', a type) so
// that walks which only trust literal text can tell them apart.
//
// Thread-safety: pure functions over their arguments; a Node is a plain value.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::rules::regex {

using ByteSet = std::bitset<256>;

// An unbounded repeat maximum.
inline constexpr int kUnbounded = -1;

struct Node {
  enum class Kind : uint8_t {
    kEmpty,          // matches the empty string: (?#…), a stray \E
    kFlags,          // (?i) and the like: empty; `text` holds the flag letters
    kBytes,          // one byte of `bytes`
    kSequence,       // children one after the other (possibly none)
    kAlternation,    // one of the children (at least two)
    kGroup,          // children[0]; `group` says which kind
    kLookaround,     // children[0], consumes nothing; `look` says which kind
    kRepeat,         // children[0] repeated min…max times (max kUnbounded: no limit)
    kAssertion,      // consumes nothing; `assertion` says which
    kBackreference,  // what a group matched, again
    kUnsupported,    // `unsupported` says what; conditionals keep their branches as children
  };
  // Where the bytes of a kBytes leaf come from.
  enum class Source : uint8_t { kLiteral, kQuoted, kClass, kDot, kType };
  enum class Group : uint8_t {
    kCapture,
    kNonCapture,   // (?:…)
    kScopedFlags,  // (?i:…); `text` holds the flag letters
    kNamed,        // (?<n>…) (?'n'…)
    kNamedPython,  // (?P<n>…)
    kAtomic,       // (?>…)
    kBranchReset,  // (?|…)
  };
  enum class Look : uint8_t { kAhead, kNegativeAhead, kBehind, kNegativeBehind };
  enum class Assertion : uint8_t {
    kLineStart,      // ^
    kLineEnd,        // $
    kSubjectStart,   // \A
    kSubjectEnd,     // \z
    kSubjectEndish,  // \Z
    kWordBoundary,   // \b
    kNotWordBoundary,
    kMatchStart,  // \G
    kResetStart,  // \K
  };
  enum class Greed : uint8_t { kGreedy, kLazy, kPossessive };
  enum class Unsupported : uint8_t {
    kConditional,      // (?(…)…|…)
    kRecursion,        // (?R) (?1) (?&n) (?P>n) \g<…>
    kCallout,          // (?C…)
    kVerb,             // (*…)
    kProperty,         // \p \P \X \N{…}
    kAmbiguousNumber,  // \12…: a backreference or octal, depending on the number of groups
  };

  Kind kind = Kind::kEmpty;
  Source source = Source::kLiteral;
  Group group = Group::kCapture;
  Look look = Look::kAhead;
  Assertion assertion = Assertion::kLineStart;
  Greed greed = Greed::kGreedy;
  Unsupported unsupported = Unsupported::kVerb;
  ByteSet bytes;     // kBytes
  int min = 1;       // kRepeat
  int max = 1;       // kRepeat
  std::string text;  // kFlags, kGroup kScopedFlags: the flag letters as written
  std::vector<Node> children;
};

// The tree of `pattern` compiled with Perl `flags` (only i, s and x change the tree; m changes
// nothing in it, others are ignored), or nullopt when the syntax is malformed. The root is a
// kSequence, or a kAlternation of kSequences.
std::optional<Node> ParseRegex(std::string_view pattern, std::string_view flags);

// Whether the tree holds a node of `kind` anywhere.
bool Contains(const Node& tree, Node::Kind kind);

// Whether a walk that cannot see into `n` may read it as "matches some text here, nothing known
// of it": true for a backreference and for a number that is a backreference or an octal byte
// (\12…); false for every other node, and so for the unsupported syntax a walk must give up on.
bool MatchesUnknownText(const Node& n);

// An indented dump of the tree, one node a line (for tests and debugging).
std::string Dump(const Node& tree);

// The byte sets of PCRE2's character types in 8-bit mode without UCP (pcre2_chartables.c.dist,
// the "C" locale), and ASCII case folding as its default tables do it.
ByteSet ByteRange(int lo, int hi);
ByteSet DigitBytes();
ByteSet WordBytes();
ByteSet SpaceBytes();
ByteSet HorizontalSpaceBytes();
ByteSet VerticalSpaceBytes();
ByteSet FoldCase(ByteSet b);

}  // namespace mailsift::rules::regex
