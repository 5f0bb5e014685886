// rules/prefilter/hs_expression.cc — see hs_expression.h.
#include "rules/prefilter/hs_expression.h"

#include <algorithm>
#include <bitset>
#include <climits>
#include <cstdint>
#include <utility>

namespace mailsift::rules {
namespace {

using Bytes = std::bitset<256>;

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
Bytes Single(unsigned char c) { return Bytes().set(c); }
Bytes Range(int lo, int hi) {
  Bytes b;
  for (int c = lo; c <= hi; ++c) b.set(c);
  return b;
}
// PCRE2's character types in 8-bit mode without UCP (pcre2_chartables.c.dist, the "C" locale).
Bytes Digits() { return Range('0', '9'); }
Bytes WordBytes() { return Range('0', '9') | Range('A', 'Z') | Range('a', 'z') | Single('_'); }
Bytes SpaceBytes() { return Range(0x09, 0x0d) | Single(' '); }  // \t \n \v \f \r and space
Bytes HorizontalSpace() { return Single(0x09) | Single(0x20) | Single(0xa0); }
Bytes VerticalSpace() { return Range(0x0a, 0x0d) | Single(0x85); }

// ASCII case variants added (PCRE2's default tables fold A-Z and a-z only).
Bytes Fold(Bytes b) {
  for (int c = 'a'; c <= 'z'; ++c) {
    if (b.test(c) || b.test(c - 32)) {
      b.set(c);
      b.set(c - 32);
    }
  }
  return b;
}

struct Flags {
  bool caseless = false;
  bool dotall = false;
  bool extended = false;
};

// ---- the parser ---------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  std::optional<Node> Parse(Flags flags) {
    auto node = Alternation(flags);
    if (!node || pos_ != p_.size()) return std::nullopt;
    return node;
  }

 private:
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < p_.size() ? p_[pos_ + ahead] : '\0'; }

  // /x: white space and #-comments between items are ignored (not inside classes).
  void SkipExtended(const Flags& f) {
    if (!f.extended) return;
    while (!AtEnd()) {
      char c = p_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && p_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  // Branches up to ')' or the end. Flag changes inside carry into later branches of the group.
  std::optional<Node> Alternation(Flags flags) {
    Node alt = Node::Of(Node::kAlt);
    while (true) {
      auto seq = Sequence(flags);
      if (!seq) return std::nullopt;
      alt.children.push_back(std::move(*seq));
      if (!AtEnd() && p_[pos_] == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (alt.children.size() == 1) return std::move(alt.children[0]);
    return alt;
  }

  std::optional<Node> Sequence(Flags& flags) {
    Node seq = Node::Of(Node::kConcat);
    while (true) {
      SkipExtended(flags);
      if (AtEnd() || p_[pos_] == '|' || p_[pos_] == ')') break;
      quoted_ = false;
      auto atom = Atom(flags);
      if (!atom) return std::nullopt;
      SkipExtended(flags);
      if (quoted_ && atom->kind == Node::kConcat && atom->children.size() > 1) {
        // \Q…\E: a quantifier after it takes only the last character.
        Node last = std::move(atom->children.back());
        atom->children.pop_back();
        seq.children.push_back(std::move(*atom));
        atom = std::move(last);
      }
      if (!Quantifier(&*atom)) return std::nullopt;
      seq.children.push_back(std::move(*atom));
    }
    return seq;
  }

  static bool ReadNumber(std::string_view s, size_t* i, int* value) {
    size_t start = *i;
    long v = 0;
    while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9') {
      v = v * 10 + (s[*i] - '0');
      if (v > 65535) return false;
      ++*i;
    }
    *value = static_cast<int>(v);
    return *i > start;
  }

  // Applies a quantifier following an atom, if any. False on syntax PCRE2 would refuse.
  bool Quantifier(Node* atom) {
    if (AtEnd()) return true;
    int min = 0, max = kInfinite;
    char c = p_[pos_];
    if (c == '*') {
      ++pos_;
    } else if (c == '+') {
      min = 1;
      ++pos_;
    } else if (c == '?') {
      max = 1;
      ++pos_;
    } else if (c == '{') {
      // {n} {n,} {n,m}; anything else (PCRE2 10.42: also {,m}) is a literal '{'.
      size_t i = pos_ + 1;
      if (!ReadNumber(p_, &i, &min)) return true;
      if (i < p_.size() && p_[i] == '}') {
        max = min;
      } else if (i < p_.size() && p_[i] == ',') {
        ++i;
        if (i < p_.size() && p_[i] == '}') {
          max = kInfinite;
        } else if (!ReadNumber(p_, &i, &max) || i >= p_.size() || p_[i] != '}') {
          return true;
        }
      } else {
        return true;
      }
      if (max != kInfinite && max < min) return false;
      pos_ = i + 1;
    } else {
      return true;
    }
    // Lazy and possessive forms match the same strings as greedy ones (possessive ones fewer).
    if (!AtEnd() && (p_[pos_] == '?' || p_[pos_] == '+')) ++pos_;
    if (atom->kind == Node::kEmpty || atom->kind == Node::kBol || atom->kind == Node::kEol) {
      if (min == 0) *atom = Node::Of(Node::kEmpty);
      return true;
    }
    *atom = Node::Repeat(std::move(*atom), min, max);
    return true;
  }

  static Node AnyBytes() { return Node::Repeat(Node::Class(AllBytes()), 0, kInfinite); }

  Node Char(unsigned char c, const Flags& f) const {
    return Node::Class(f.caseless ? Fold(Single(c)) : Single(c));
  }

  std::optional<Node> Atom(Flags& flags) {
    char c = p_[pos_];
    switch (c) {
      case '(':
        return Group(flags);
      case '[': {
        ++pos_;
        auto b = ClassBody(flags);
        if (!b) return std::nullopt;
        return Node::Class(*b);
      }
      case '.':
        ++pos_;
        return Node::Class(flags.dotall ? AllBytes() : ~Single('\n'));
      case '^':
        ++pos_;
        return Node::Of(Node::kBol);
      case '$':
        ++pos_;
        return Node::Of(Node::kEol);
      case '\\':
        return Escape(flags);
      case '*':
      case '+':
      case '?':
        return std::nullopt;  // a quantifier without an item: PCRE2 refuses it
      default:
        ++pos_;
        return Char(static_cast<unsigned char>(c), flags);
    }
  }

  // After '(': the kinds of group.
  std::optional<Node> Group(Flags& outer) {
    ++pos_;  // '('
    Flags inner = outer;
    bool zero_width = false;
    if (Peek() == '*') return std::nullopt;  // verbs, (*pla: …
    if (Peek() == '?') {
      ++pos_;
      char k = Peek();
      if (k == '#') {
        size_t close = p_.find(')', pos_);
        if (close == std::string_view::npos) return std::nullopt;
        pos_ = close + 1;
        return Node::Of(Node::kEmpty);
      }
      if (k == ':' || k == '>' || k == '|') {
        ++pos_;
      } else if (k == '=' || k == '!') {
        ++pos_;
        zero_width = true;
      } else if (k == '<' && (Peek(1) == '=' || Peek(1) == '!')) {
        pos_ += 2;
        zero_width = true;
      } else if (k == '<' || k == '\'' || (k == 'P' && Peek(1) == '<')) {
        // Named group.
        if (k == 'P') ++pos_;
        const char close = p_[pos_] == '\'' ? '\'' : '>';
        size_t end = p_.find(close, pos_ + 1);
        if (end == std::string_view::npos) return std::nullopt;
        pos_ = end + 1;
      } else if (k == 'P' && Peek(1) == '=') {
        // (?P=name): a backreference.
        size_t end = p_.find(')', pos_);
        if (end == std::string_view::npos) return std::nullopt;
        pos_ = end + 1;
        return AnyBytes();
      } else {
        // Inline flags: (?flags) or (?flags:…); (?^…) resets i m s x n first.
        Flags changed = outer;
        bool negate = false;
        while (!AtEnd() && p_[pos_] != ')' && p_[pos_] != ':') {
          char f = p_[pos_++];
          switch (f) {
            case '^':
              if (negate) return std::nullopt;
              changed.caseless = changed.dotall = changed.extended = false;
              break;
            case '-':
              if (negate) return std::nullopt;
              negate = true;
              break;
            case 'i':
              changed.caseless = !negate;
              break;
            case 's':
              changed.dotall = !negate;
              break;
            case 'x':
              if (Peek() == 'x') return std::nullopt;  // xx: white space in classes too
              changed.extended = !negate;
              break;
            case 'm':  // anchors are multiline for the prefilter anyway
            case 'n':  // no automatic captures
            case 'U':  // ungreedy: the same strings match
            case 'J':  // duplicate names
              break;
            default:
              return std::nullopt;
          }
        }
        if (AtEnd()) return std::nullopt;
        if (p_[pos_] == ')') {
          ++pos_;
          outer = changed;  // the rest of the enclosing group
          return Node::Of(Node::kEmpty);
        }
        ++pos_;  // ':'
        inner = changed;
      }
    }
    auto node = Alternation(inner);
    if (!node || AtEnd() || p_[pos_] != ')') return std::nullopt;
    ++pos_;
    if (zero_width) return Node::Of(Node::kEmpty);
    return node;
  }

  // "{digits}" in `base` (16 for \x{..}, 8 for \o{..}) at pos_, as one byte; sets `ok` false
  // when it is empty, unclosed or above 0xff.
  std::optional<unsigned char> BracedByte(int base, bool* ok) {
    size_t i = pos_ + 1;
    int v = 0, digits = 0;
    while (i < p_.size()) {
      const char d = p_[i];
      const int digit = d >= '0' && d <= '9'                 ? d - '0'
                        : base == 16 && d >= 'a' && d <= 'f' ? d - 'a' + 10
                        : base == 16 && d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                             : -1;
      if (digit < 0 || digit >= base) break;
      v = v * base + digit;
      if (v > 0xff) {
        *ok = false;
        return std::nullopt;
      }
      ++i;
      ++digits;
    }
    if (digits == 0 || i >= p_.size() || p_[i] != '}') {
      *ok = false;
      return std::nullopt;
    }
    pos_ = i + 1;
    return static_cast<unsigned char>(v);
  }

  // \x.. \o{..} \0.. \c. and the single-letter ones, as one byte; nullopt if not such an escape.
  // `in_class` for the differences inside [ ]. Sets `ok` false on syntax not supported.
  std::optional<unsigned char> EscapedByte(bool in_class, bool* ok) {
    // p_[pos_] is the letter after the backslash.
    char c = p_[pos_];
    auto hex = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    switch (c) {
      case 'n':
        ++pos_;
        return '\n';
      case 'r':
        ++pos_;
        return '\r';
      case 't':
        ++pos_;
        return '\t';
      case 'f':
        ++pos_;
        return '\f';
      case 'e':
        ++pos_;
        return 0x1b;
      case 'a':
        ++pos_;
        return 0x07;
      case 'b':
        if (!in_class) return std::nullopt;
        ++pos_;
        return 0x08;
      case 'x': {
        ++pos_;
        int v = 0;
        if (Peek() == '{') return BracedByte(16, ok);
        for (int k = 0; k < 2 && hex(Peek()) >= 0; ++k) v = v * 16 + hex(p_[pos_++]);
        return static_cast<unsigned char>(v);
      }
      case 'o': {
        ++pos_;
        if (Peek() != '{') {
          *ok = false;
          return std::nullopt;
        }
        return BracedByte(8, ok);
      }
      case 'c': {
        ++pos_;
        if (AtEnd()) {
          *ok = false;
          return std::nullopt;
        }
        unsigned char x = static_cast<unsigned char>(p_[pos_++]);
        if (x >= 'a' && x <= 'z') x -= 32;
        return static_cast<unsigned char>(x ^ 0x40);
      }
      case '0': {
        // \0 and up to two more octal digits.
        ++pos_;
        int v = 0;
        for (int k = 0; k < 2 && Peek() >= '0' && Peek() <= '7'; ++k)
          v = v * 8 + (p_[pos_++] - '0');
        return static_cast<unsigned char>(v);
      }
      default:
        break;
    }
    if (in_class && c >= '1' && c <= '7') {
      // Inside a class \1…\377 are octal (PCRE2: up to three octal digits).
      int v = 0, k = 0;
      while (k < 3 && Peek() >= '0' && Peek() <= '7') {
        v = v * 8 + (p_[pos_++] - '0');
        ++k;
      }
      if (v > 0xff) {
        *ok = false;
        return std::nullopt;
      }
      return static_cast<unsigned char>(v);
    }
    return std::nullopt;
  }

  // \d \w \s \h \v and their complements; nullopt if `c` is not one of them.
  static std::optional<Bytes> TypeClass(char c) {
    switch (c) {
      case 'd':
        return Digits();
      case 'D':
        return ~Digits();
      case 'w':
        return WordBytes();
      case 'W':
        return ~WordBytes();
      case 's':
        return SpaceBytes();
      case 'S':
        return ~SpaceBytes();
      case 'h':
        return HorizontalSpace();
      case 'H':
        return ~HorizontalSpace();
      case 'v':
        return VerticalSpace();
      case 'V':
        return ~VerticalSpace();
      default:
        return std::nullopt;
    }
  }

  std::optional<Node> Escape(Flags& flags) {
    ++pos_;  // backslash
    if (AtEnd()) return std::nullopt;
    char c = p_[pos_];
    if (auto type = TypeClass(c)) {
      ++pos_;
      return Node::Class(*type);
    }
    switch (c) {
      case 'b':
      case 'B':
      case 'G':
      case 'K':
      case 'E':  // a stray \E is ignored
        ++pos_;
        return Node::Of(Node::kEmpty);
      case 'A':
        ++pos_;
        return Node::Of(Node::kBol);
      case 'z':
      case 'Z':
        ++pos_;
        return Node::Of(Node::kEol);
      case 'N':
        if (Peek(1) == '{') return std::nullopt;
        ++pos_;
        return Node::Class(~Single('\n'));
      case 'C':
        ++pos_;
        return Node::Class(AllBytes());
      case 'R': {
        ++pos_;
        Node crlf = Node::Of(Node::kConcat);
        crlf.children.push_back(Node::Class(Single('\r')));
        crlf.children.push_back(Node::Class(Single('\n')));
        Node alt = Node::Of(Node::kAlt);
        alt.children.push_back(std::move(crlf));
        alt.children.push_back(Node::Class(VerticalSpace()));
        return alt;
      }
      case 'Q': {
        ++pos_;
        quoted_ = true;
        size_t end = p_.find("\\E", pos_);
        if (end == std::string_view::npos) end = p_.size();
        Node seq = Node::Of(Node::kConcat);
        for (size_t i = pos_; i < end; ++i) {
          seq.children.push_back(Char(static_cast<unsigned char>(p_[i]), flags));
        }
        pos_ = end == p_.size() ? end : end + 2;
        return seq;
      }
      case 'g':
      case 'k': {
        // Backreferences: \g{n} \gn \g{-n} \g{name} \k<name> \k'name' \k{name}. \g<…> and \g'…'
        // are subroutine calls.
        ++pos_;
        char open = Peek();
        if (c == 'g' && (open == '<' || open == '\'')) return std::nullopt;
        if (open == '{' || open == '<' || open == '\'') {
          const char close = open == '{' ? '}' : open == '<' ? '>' : '\'';
          size_t end = p_.find(close, pos_ + 1);
          if (end == std::string_view::npos) return std::nullopt;
          pos_ = end + 1;
          return AnyBytes();
        }
        if (c == 'g') {
          if (Peek() == '-' || Peek() == '+') ++pos_;
          int n = 0;
          size_t i = pos_;
          if (!ReadNumber(p_, &i, &n)) return std::nullopt;
          pos_ = i;
          return AnyBytes();
        }
        return std::nullopt;
      }
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      // \1…\9 alone are backreferences; longer numbers depend on the number of groups.
      if (Peek(1) >= '0' && Peek(1) <= '9') return std::nullopt;
      ++pos_;
      return AnyBytes();
    }
    bool ok = true;
    if (auto byte = EscapedByte(false, &ok)) return Char(*byte, flags);
    if (!ok) return std::nullopt;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      return std::nullopt;  // \p \P \X \N{…} and the like
    }
    ++pos_;
    return Char(static_cast<unsigned char>(c), flags);
  }

  static std::optional<Bytes> Posix(std::string_view name) {
    if (name == "alpha") return Range('A', 'Z') | Range('a', 'z');
    if (name == "digit") return Digits();
    if (name == "alnum") return Range('A', 'Z') | Range('a', 'z') | Digits();
    if (name == "upper") return Range('A', 'Z');
    if (name == "lower") return Range('a', 'z');
    if (name == "space") return SpaceBytes();
    if (name == "blank") return Single(' ') | Single('\t');
    if (name == "cntrl") return Range(0, 0x1f) | Single(0x7f);
    if (name == "graph") return Range(0x21, 0x7e);
    if (name == "print") return Range(0x20, 0x7e);
    if (name == "punct") return Range(0x21, 0x7e) & ~(Range('A', 'Z') | Range('a', 'z') | Digits());
    if (name == "xdigit") return Digits() | Range('A', 'F') | Range('a', 'f');
    if (name == "word") return WordBytes();
    if (name == "ascii") return Range(0, 0x7f);
    return std::nullopt;
  }

  // After '[': the class up to its ']'.
  std::optional<Bytes> ClassBody(const Flags& flags) {
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    Bytes set;
    bool first = true;
    // One item: a single byte (can start or end a range) or a set.
    struct Item {
      bool single = false;
      unsigned char byte = 0;
      Bytes set;
    };
    auto item = [&](Item* out) -> bool {
      char c = p_[pos_];
      if (c == '[' && (Peek(1) == ':' || Peek(1) == '.' || Peek(1) == '=')) {
        if (Peek(1) != ':') return false;
        size_t end = p_.find(":]", pos_ + 2);
        if (end == std::string_view::npos) return false;
        std::string_view name = p_.substr(pos_ + 2, end - pos_ - 2);
        bool complement = !name.empty() && name[0] == '^';
        if (complement) name.remove_prefix(1);
        auto b = Posix(name);
        if (!b) return false;
        out->set = complement ? ~*b : *b;
        pos_ = end + 2;
        return true;
      }
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) return false;
        char e = p_[pos_];
        if (auto type = TypeClass(e)) {
          ++pos_;
          out->set = *type;
          return true;
        }
        if (e == 'E') {  // stray \E: nothing
          ++pos_;
          out->set.reset();
          return true;
        }
        if (e == 'Q') {
          ++pos_;
          size_t end = p_.find("\\E", pos_);
          if (end == std::string_view::npos) end = p_.size();
          out->set.reset();
          for (size_t i = pos_; i < end; ++i) out->set.set(static_cast<unsigned char>(p_[i]));
          pos_ = end == p_.size() ? end : end + 2;
          return true;
        }
        bool ok = true;
        if (auto byte = EscapedByte(true, &ok)) {
          out->single = true;
          out->byte = *byte;
          return true;
        }
        if (!ok) return false;
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
          return false;
        }
        ++pos_;
        out->single = true;
        out->byte = static_cast<unsigned char>(e);
        return true;
      }
      ++pos_;
      out->single = true;
      out->byte = static_cast<unsigned char>(c);
      return true;
    };
    while (true) {
      if (AtEnd()) return std::nullopt;
      if (p_[pos_] == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      Item a;
      if (!item(&a)) return std::nullopt;
      if (a.single && Peek() == '-' && Peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;  // '-'
        Item b;
        if (!item(&b)) return std::nullopt;
        if (!b.single) return std::nullopt;  // [a-\d]: PCRE2 refuses or reads it oddly
        if (b.byte < a.byte) return std::nullopt;
        set |= Range(a.byte, b.byte);
        continue;
      }
      if (a.single) {
        set.set(a.byte);
      } else {
        set |= a.set;
      }
    }
    if (flags.caseless) set = Fold(set);
    return negate ? ~set : set;
  }

  std::string_view p_;
  size_t pos_ = 0;
  bool quoted_ = false;  // the last atom was \Q…\E
};

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
    if (hi > 1 && (Alphabet(c) & Range(0x80, 0xff)).any()) encoded = true;
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
    if ((a & Range(0, 0x7f)).none()) a = Range(0x80, 0xff);
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
  static const Bytes kAscii = Range(0, 0x7f);
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
  Flags flags;
  for (char f : perl_flags) {
    if (f == 'i') flags.caseless = true;
    if (f == 's') flags.dotall = true;
    if (f == 'x') flags.extended = true;
  }
  // SpamAssassin's (?aa) groups (a no-op for bytes) are not PCRE2 syntax; pattern.cc drops them.
  std::string source;
  source.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      source.append(pattern.substr(i, 2));
      i += 2;
    } else if (pattern.compare(i, 5, "(?aa)") == 0) {
      i += 5;
    } else if (pattern.compare(i, 4, "(?aa") == 0) {
      source.append("(?");
      i += 4;
    } else {
      source.push_back(pattern[i++]);
    }
  }
  Parser parser(source);
  auto node = parser.Parse(flags);
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
