// rules/prefilter/hs_expression.cc — see hs_expression.h.
#include "rules/prefilter/hs_expression.h"

#include <algorithm>
#include <bitset>
#include <climits>
#include <cstdint>
#include <utility>

#include "rules/regex/regex_syntax.h"

namespace mailsift::rules {
namespace {

using Bytes = regex::ByteSet;

// Unbounded repeat.
constexpr int kInfinite = -1;
// Expressions longer than this are not handed to Hyperscan: it refuses patterns of some tens
// of kilobytes, and takes seconds to refuse the large ReplaceTags rules of a few kilobytes whose
// automata are too large (__FILL_THIS_FORM_*, about 8.5 kB written out).
constexpr size_t kMaxExpression = 8000;
// At kSplit, at most this many expressions per pattern.
constexpr size_t kMaxSplit = 64;

struct Node {
  enum Kind : uint8_t { kEmpty, kClass, kConcat, kAlt, kRepeat, kBol, kEol } kind = kEmpty;
  Bytes bytes;                 // kClass
  std::vector<Node> children;  // kConcat, kAlt; kRepeat: exactly one
  int min = 0;                 // kRepeat
  int max = kInfinite;         // kRepeat

  static Node Class(const Bytes& b) {
    Node n;
    n.kind = kClass;
    n.bytes = b;
    return n;
  }
  static Node Of(Kind k) {
    Node n;
    n.kind = k;
    return n;
  }
  static Node Repeat(Node child, int min, int max) {
    Node n;
    n.kind = kRepeat;
    n.min = min;
    n.max = max;
    n.children.push_back(std::move(child));
    return n;
  }
};

Bytes AllBytes() { return Bytes().set(); }
using regex::ByteRange;

// ---- the syntax tree as byte classes ------------------------------------------------------

Node AnyBytes() { return Node::Repeat(Node::Class(AllBytes()), 0, kInfinite); }

// The tree of regex_syntax.h as byte classes; nullopt on what is not modelled.
std::optional<Node> FromTree(const regex::Node& t) {
  using Kind = regex::Node::Kind;
  using Assertion = regex::Node::Assertion;
  switch (t.kind) {
    case Kind::kEmpty:
    case Kind::kFlags:
    case Kind::kLookaround:  // relaxed: an assertion consumes nothing
      return Node::Of(Node::kEmpty);
    case Kind::kBytes:
      return Node::Class(t.bytes);
    case Kind::kSequence:
    case Kind::kAlternation: {
      Node n = Node::Of(t.kind == Kind::kSequence ? Node::kConcat : Node::kAlt);
      for (const regex::Node& c : t.children) {
        auto child = FromTree(c);
        if (!child) return std::nullopt;
        n.children.push_back(std::move(*child));
      }
      return n;
    }
    case Kind::kGroup:
      return FromTree(t.children[0]);
    case Kind::kRepeat: {
      // Lazy and possessive forms match the same strings as greedy ones (possessive ones fewer).
      auto child = FromTree(t.children[0]);
      if (!child) return std::nullopt;
      if (child->kind == Node::kEmpty || child->kind == Node::kBol || child->kind == Node::kEol) {
        return t.min == 0 ? Node::Of(Node::kEmpty) : std::move(*child);
      }
      return Node::Repeat(std::move(*child), t.min, t.max);
    }
    case Kind::kAssertion:
      switch (t.assertion) {
        case Assertion::kLineStart:
        case Assertion::kSubjectStart:
          return Node::Of(Node::kBol);
        case Assertion::kLineEnd:
        case Assertion::kSubjectEnd:
        case Assertion::kSubjectEndish:
          return Node::Of(Node::kEol);
        default:  // \b \B \G \K: relaxed to nothing
          return Node::Of(Node::kEmpty);
      }
    case Kind::kBackreference:
      return AnyBytes();
    case Kind::kUnsupported:
      return std::nullopt;
  }
  return std::nullopt;
}

// ---- simplification and relaxation ---------------------------------------------------------

// Shortest and longest match length (kInfinite: unbounded).
void Lengths(const Node& n, long* min, long* max) {
  switch (n.kind) {
    case Node::kEmpty:
    case Node::kBol:
    case Node::kEol:
      *min = *max = 0;
      return;
    case Node::kClass:
      *min = *max = 1;
      return;
    case Node::kConcat: {
      long lo = 0, hi = 0;
      for (const Node& c : n.children) {
        long a, b;
        Lengths(c, &a, &b);
        lo += a;
        hi = (hi == kInfinite || b == kInfinite) ? kInfinite : hi + b;
      }
      *min = lo;
      *max = hi;
      return;
    }
    case Node::kAlt: {
      long lo = LONG_MAX, hi = 0;
      for (const Node& c : n.children) {
        long a, b;
        Lengths(c, &a, &b);
        lo = std::min(lo, a);
        hi = (hi == kInfinite || b == kInfinite) ? kInfinite : std::max(hi, b);
      }
      *min = n.children.empty() ? 0 : lo;
      *max = hi;
      return;
    }
    case Node::kRepeat: {
      long a, b;
      Lengths(n.children[0], &a, &b);
      *min = a * n.min;
      *max = (n.max == kInfinite || b == kInfinite) ? (b == 0 ? 0 : kInfinite) : b * n.max;
      return;
    }
  }
}

// Every byte a match of `n` can contain.
Bytes Alphabet(const Node& n) {
  if (n.kind == Node::kClass) return n.bytes;
  Bytes b;
  for (const Node& c : n.children) b |= Alphabet(c);
  return b;
}

bool SameNode(const Node& a, const Node& b) {
  if (a.kind != b.kind || a.bytes != b.bytes || a.min != b.min || a.max != b.max ||
      a.children.size() != b.children.size()) {
    return false;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!SameNode(a.children[i], b.children[i])) return false;
  }
  return true;
}

// Flattens nested sequences and alternations, drops empty items, merges alternations of single
// bytes into one class and removes duplicate branches. The matched strings stay the same.
Node Simplify(Node n) {
  for (Node& c : n.children) c = Simplify(std::move(c));
  if (n.kind == Node::kConcat) {
    std::vector<Node> flat;
    for (Node& c : n.children) {
      if (c.kind == Node::kEmpty) continue;
      if (c.kind == Node::kConcat) {
        for (Node& g : c.children) flat.push_back(std::move(g));
      } else {
        flat.push_back(std::move(c));
      }
    }
    if (flat.empty()) return Node::Of(Node::kEmpty);
    if (flat.size() == 1) return std::move(flat[0]);
    n.children = std::move(flat);
    return n;
  }
  if (n.kind == Node::kAlt) {
    std::vector<Node> flat;
    Bytes singles;
    bool has_singles = false;
    for (Node& c : n.children) {
      std::vector<Node> parts;
      if (c.kind == Node::kAlt) {
        parts = std::move(c.children);
      } else {
        parts.push_back(std::move(c));
      }
      for (Node& p : parts) {
        if (p.kind == Node::kClass) {
          singles |= p.bytes;
          has_singles = true;
          continue;
        }
        bool dup = false;
        for (const Node& f : flat) dup = dup || SameNode(f, p);
        if (!dup) flat.push_back(std::move(p));
      }
    }
    if (has_singles) flat.insert(flat.begin(), Node::Class(singles));
    if (flat.size() == 1) return std::move(flat[0]);
    n.children = std::move(flat);
    return n;
  }
  if (n.kind == Node::kRepeat) {
    const Node& c = n.children[0];
    if (c.kind == Node::kEmpty) return Node::Of(Node::kEmpty);
    if (n.min == 1 && n.max == 1) return std::move(n.children[0]);
    if (n.min == 0 && n.max == 0) return Node::Of(Node::kEmpty);
  }
  return n;
}

struct RelaxOptions {
  int max_bound;  // repeat maxima above this become unbounded
  int max_min;    // repeat minima above this are lowered to it
  bool collapse;  // look-alike letter alternations become a run of their bytes
  bool anchors;   // keep ^ and $ (Hyperscan refuses them inside a pattern)
};

RelaxOptions OptionsFor(RelaxLevel level) {
  switch (level) {
    case RelaxLevel::kLight:
      return {8, 8, false, true};
    case RelaxLevel::kSmall:
      return {1, 1, false, false};
    case RelaxLevel::kSplit:
      return {1, 1, true, false};
  }
  return {1, 1, true, false};
}

// An alternation of short sequences of bytes (at most 8 per branch, at least 3 branches, one of
// them a sequence with bytes above 0x7f): what ReplaceTags writes for one letter and its
// look-alikes in UTF-8, Latin-1 and HTML character references.
bool IsLetterAlternation(const Node& n) {
  if (n.kind != Node::kAlt || n.children.size() < 3) return false;
  bool encoded = false;
  for (const Node& c : n.children) {
    long lo, hi;
    Lengths(c, &lo, &hi);
    if (hi == kInfinite || hi > 8 || lo == 0) return false;
    if (hi > 1 && (Alphabet(c) & ByteRange(0x80, 0xff)).any()) encoded = true;
  }
  return encoded;
}

// A letter alternation made small: its one-byte branches stay one class, and the longer
// branches become, per alphabet, a run of that alphabet as long as they are. ASCII text still
// has to spell the word; every look-alike sequence is still accepted.
Node CollapseLetter(const Node& n) {
  Bytes singles;
  struct Run {
    Bytes alphabet;
    long lo, hi;
  };
  std::vector<Run> runs;
  for (const Node& c : n.children) {
    long lo, hi;
    Lengths(c, &lo, &hi);
    if (c.kind == Node::kClass) {
      singles |= c.bytes;
      continue;
    }
    // Bytes of UTF-8 sequences are all ≥ 0x80: one run for them; the rest by alphabet.
    Bytes a = Alphabet(c);
    if ((a & ByteRange(0, 0x7f)).none()) a = ByteRange(0x80, 0xff);
    bool merged = false;
    for (Run& r : runs) {
      if (r.alphabet == a) {
        r.lo = std::min(r.lo, lo);
        r.hi = std::max(r.hi, hi);
        merged = true;
      }
    }
    if (!merged) runs.push_back({a, lo, hi});
  }
  Node alt = Node::Of(Node::kAlt);
  if (singles.any()) alt.children.push_back(Node::Class(singles));
  for (const Run& r : runs) {
    alt.children.push_back(
        Node::Repeat(Node::Class(r.alphabet), static_cast<int>(r.lo), static_cast<int>(r.hi)));
  }
  return alt.children.size() == 1 ? std::move(alt.children[0]) : alt;
}

Node Relax(Node n, const RelaxOptions& o) {
  if (!o.anchors && (n.kind == Node::kBol || n.kind == Node::kEol)) return Node::Of(Node::kEmpty);
  for (Node& c : n.children) c = Relax(std::move(c), o);
  if (n.kind == Node::kRepeat) {
    if (n.max != kInfinite && n.max > o.max_bound) n.max = kInfinite;
    if (n.min > o.max_min) n.min = o.max_min;
    if (n.max != kInfinite && n.max < n.min) n.max = n.min;
  }
  if (o.collapse && IsLetterAlternation(n)) return CollapseLetter(n);
  return n;
}

// Drops optional parts at the end of every match: every match of `n` is a match of the result
// followed by at most *dropped bytes (kInfinite: any number).
Node DropTrailingOptional(Node n, long* dropped) {
  *dropped = 0;
  if (n.kind == Node::kAlt) {
    for (Node& c : n.children) {
      long d;
      c = DropTrailingOptional(std::move(c), &d);
      if (*dropped != kInfinite) *dropped = d == kInfinite ? kInfinite : std::max(*dropped, d);
    }
    return n;
  }
  if (n.kind == Node::kConcat) {
    while (n.children.size() > 1) {
      Node& last = n.children.back();
      long lo, hi;
      Lengths(last, &lo, &hi);
      if (lo == 0) {
        if (*dropped != kInfinite) *dropped = hi == kInfinite ? kInfinite : *dropped + hi;
        n.children.pop_back();
        continue;
      }
      long d;
      last = DropTrailingOptional(std::move(last), &d);
      if (*dropped != kInfinite) *dropped = d == kInfinite ? kInfinite : *dropped + d;
      break;
    }
    return n;
  }
  return n;
}

// `n` with what needs a byte above 0x7f taken out: such bytes leave every class, a class left
// empty makes its sequence impossible, an impossible branch leaves its alternation, an
// impossible optional repeat becomes empty. Nullopt when no ASCII string matches.
std::optional<Node> AsciiOnly(Node n) {
  static const Bytes kAscii = ByteRange(0, 0x7f);
  switch (n.kind) {
    case Node::kClass:
      n.bytes &= kAscii;
      if (n.bytes.none()) return std::nullopt;
      return n;
    case Node::kConcat:
      for (Node& c : n.children) {
        auto kept = AsciiOnly(std::move(c));
        if (!kept) return std::nullopt;
        c = std::move(*kept);
      }
      return n;
    case Node::kAlt: {
      std::vector<Node> kept;
      for (Node& c : n.children) {
        if (auto k = AsciiOnly(std::move(c))) kept.push_back(std::move(*k));
      }
      if (kept.empty()) return std::nullopt;
      n.children = std::move(kept);
      return n;
    }
    case Node::kRepeat: {
      auto kept = AsciiOnly(std::move(n.children[0]));
      if (!kept) {
        if (n.min > 0) return std::nullopt;
        return Node::Of(Node::kEmpty);
      }
      n.children[0] = std::move(*kept);
      return n;
    }
    default:
      return n;
  }
}

// ---- writing Hyperscan syntax ---------------------------------------------------------------

void AppendByte(std::string* out, int c) {
  static const char kHex[] = "0123456789abcdef";
  if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
    out->push_back(static_cast<char>(c));
    return;
  }
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

void AppendClass(std::string* out, const Bytes& b) {
  if (b.all()) {
    out->append("[\\x00-\\xff]");
    return;
  }
  if (b.none()) {
    out->append("[^\\x00-\\xff]");  // matches nothing
    return;
  }
  if (b.count() == 1) {
    for (int c = 0; c < 256; ++c) {
      if (b.test(c)) AppendByte(out, c);
    }
    return;
  }
  const bool negate = b.count() > 128;
  const Bytes s = negate ? ~b : b;
  out->push_back('[');
  if (negate) out->push_back('^');
  for (int c = 0; c < 256;) {
    if (!s.test(c)) {
      ++c;
      continue;
    }
    int end = c;
    while (end + 1 < 256 && s.test(end + 1)) ++end;
    AppendByte(out, c);
    if (end > c) {
      if (end > c + 1) out->push_back('-');
      AppendByte(out, end);
    }
    c = end + 1;
  }
  out->push_back(']');
}

// A class of exactly one ASCII letter in both cases.
bool IsLetterPair(const Node& n) {
  if (n.kind != Node::kClass || n.bytes.count() != 2) return false;
  for (int c = 'a'; c <= 'z'; ++c) {
    if (n.bytes.test(c) && n.bytes.test(c - 32)) return true;
  }
  return false;
}

void Write(const Node& n, std::string* out) {
  switch (n.kind) {
    case Node::kEmpty:
      return;
    case Node::kBol:
      out->push_back('^');
      return;
    case Node::kEol:
      out->push_back('$');
      return;
    case Node::kClass:
      AppendClass(out, n.bytes);
      return;
    case Node::kConcat:
      for (size_t i = 0; i < n.children.size(); ++i) {
        const Node& c = n.children[i];
        // A run of letters in either case is written (?i:word): shorter, and for ASCII letters
        // Hyperscan's case-insensitivity is exactly the byte class.
        size_t end = i;
        while (end < n.children.size() && IsLetterPair(n.children[end])) ++end;
        if (end - i >= 2) {
          out->append("(?i:");
          for (size_t k = i; k < end; ++k) {
            for (int ch = 'a'; ch <= 'z'; ++ch) {
              if (n.children[k].bytes.test(ch)) out->push_back(static_cast<char>(ch));
            }
          }
          out->push_back(')');
          i = end - 1;
          continue;
        }
        if (c.kind == Node::kAlt) {
          out->append("(?:");
          Write(c, out);
          out->push_back(')');
        } else {
          Write(c, out);
        }
      }
      return;
    case Node::kAlt:
      for (size_t i = 0; i < n.children.size(); ++i) {
        if (i) out->push_back('|');
        Write(n.children[i], out);
      }
      return;
    case Node::kRepeat: {
      const Node& c = n.children[0];
      if (c.kind == Node::kClass) {
        Write(c, out);
      } else {
        out->append("(?:");
        Write(c, out);
        out->push_back(')');
      }
      if (n.min == 0 && n.max == kInfinite) {
        out->push_back('*');
      } else if (n.min == 1 && n.max == kInfinite) {
        out->push_back('+');
      } else if (n.min == 0 && n.max == 1) {
        out->push_back('?');
      } else if (n.max == kInfinite) {
        out->append("{" + std::to_string(n.min) + ",}");
      } else if (n.min == n.max) {
        out->append("{" + std::to_string(n.min) + "}");
      } else {
        out->append("{" + std::to_string(n.min) + "," + std::to_string(n.max) + "}");
      }
      return;
    }
  }
}

std::string Written(const Node& n) {
  std::string s;
  Write(n, &s);
  return s;
}

std::optional<Node> ParseRelaxed(std::string_view pattern, std::string_view perl_flags,
                                 const RelaxOptions& options, TextBytes text = TextBytes::kAny) {
  auto tree = regex::ParseRegex(pattern, perl_flags);
  if (!tree) return std::nullopt;
  auto node = FromTree(*tree);
  if (!node) return std::nullopt;
  if (text == TextBytes::kAscii) {
    node = AsciiOnly(std::move(*node));
    if (!node) return std::nullopt;
  }
  Node n = Simplify(Relax(Simplify(std::move(*node)), options));
  long lo, hi;
  Lengths(n, &lo, &hi);
  if (lo == 0) return std::nullopt;  // matches the empty string: it would flag everything
  return n;
}

// Splits an over-long expression: the alternation at the top, or inside the sequence at the
// top the largest alternation (the rest of the sequence dropped: a match of the sequence holds
// a match of that part). Each piece is written on its own.
bool Split(const Node& n, std::vector<std::string>* out) {
  const Node* alt = nullptr;
  if (n.kind == Node::kAlt) {
    alt = &n;
  } else if (n.kind == Node::kConcat) {
    size_t best = 0;
    for (const Node& c : n.children) {
      const Node* a = &c;
      if (a->kind == Node::kRepeat && a->min >= 1) a = &a->children[0];
      if (a->kind != Node::kAlt) continue;
      long lo, hi;
      Lengths(*a, &lo, &hi);
      if (lo == 0) continue;
      size_t size = Written(*a).size();
      if (size > best) {
        best = size;
        alt = a;
      }
    }
  }
  if (alt == nullptr || alt->children.size() > kMaxSplit) return false;
  for (const Node& branch : alt->children) {
    long lo, hi;
    Lengths(branch, &lo, &hi);
    if (lo == 0) return false;
    std::string s = Written(branch);
    if (s.size() > kMaxExpression) return false;
    out->push_back(std::move(s));
  }
  return true;
}

}  // namespace

std::optional<HsExpressions> SupersetExpressions(std::string_view pattern, std::string_view flags,
                                                 RelaxLevel level, TextBytes text) {
  auto node = ParseRelaxed(pattern, flags, OptionsFor(level), text);
  if (!node) return std::nullopt;
  HsExpressions out;
  std::string whole = Written(*node);
  if (whole.size() <= kMaxExpression) {
    out.expressions.push_back(std::move(whole));
    return out;
  }
  if (level != RelaxLevel::kSplit || !Split(*node, &out.expressions)) return std::nullopt;
  return out;
}

int RepeatedGroupExpression(std::string_view pattern, std::string_view flags, RelaxLevel level,
                            std::string* group, long* tail) {
  // The repeat itself as written; only its group is relaxed.
  auto node = ParseRelaxed(pattern, flags, RelaxOptions{INT_MAX, INT_MAX, false, true});
  if (!node || node->kind != Node::kRepeat || node->min != node->max || node->min < 2) return 0;
  const int n = node->min;
  long dropped = 0;
  Node g = Simplify(
      Relax(DropTrailingOptional(std::move(node->children[0]), &dropped), OptionsFor(level)));
  if (tail != nullptr) *tail = dropped == kInfinite ? -1 : dropped;
  long lo, hi;
  Lengths(g, &lo, &hi);
  if (lo == 0) return 0;
  *group = Written(g);
  if (group->size() > kMaxExpression) return 0;
  return n;
}

}  // namespace mailsift::rules
