// rules/regex/regex_syntax.cc — see regex_syntax.h.
#include "rules/regex/regex_syntax.h"

#include <utility>

namespace mailsift::rules::regex {

ByteSet ByteRange(int lo, int hi) {
  ByteSet b;
  for (int c = lo; c <= hi; ++c) b.set(c);
  return b;
}
ByteSet DigitBytes() { return ByteRange('0', '9'); }
ByteSet WordBytes() {
  return ByteRange('0', '9') | ByteRange('A', 'Z') | ByteRange('a', 'z') | ByteSet().set('_');
}
ByteSet SpaceBytes() { return ByteRange(0x09, 0x0d) | ByteSet().set(' '); }  // \t \n \v \f \r
ByteSet HorizontalSpaceBytes() { return ByteSet().set(0x09).set(0x20).set(0xa0); }
ByteSet VerticalSpaceBytes() { return ByteRange(0x0a, 0x0d) | ByteSet().set(0x85); }

ByteSet FoldCase(ByteSet b) {
  for (int c = 'a'; c <= 'z'; ++c) {
    if (b.test(c) || b.test(c - 32)) {
      b.set(c);
      b.set(c - 32);
    }
  }
  return b;
}

namespace {

using Kind = Node::Kind;

struct Flags {
  bool caseless = false;
  bool dotall = false;
  bool extended = false;
};

Node Of(Kind kind) {
  Node n;
  n.kind = kind;
  return n;
}

Node Leaf(const ByteSet& b, Node::Source source) {
  Node n = Of(Kind::kBytes);
  n.bytes = b;
  n.source = source;
  return n;
}

Node WithChild(Kind kind, Node child) {
  Node n = Of(kind);
  n.children.push_back(std::move(child));
  return n;
}

Node UnsupportedNode(Node::Unsupported what) {
  Node n = Of(Kind::kUnsupported);
  n.unsupported = what;
  return n;
}

Node AssertionNode(Node::Assertion a) {
  Node n = Of(Kind::kAssertion);
  n.assertion = a;
  return n;
}

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
    Node alt = Of(Kind::kAlternation);
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
    Node seq = Of(Kind::kSequence);
    while (true) {
      SkipExtended(flags);
      if (AtEnd() || p_[pos_] == '|' || p_[pos_] == ')') break;
      if (p_.compare(pos_, 2, "\\Q") == 0) {
        // \Q…\E: literal bytes; a quantifier after it takes only the last one.
        pos_ += 2;
        size_t end = p_.find("\\E", pos_);
        if (end == std::string_view::npos) end = p_.size();
        const size_t start = pos_;
        pos_ = end == p_.size() ? end : end + 2;
        if (end == start) {
          // An empty \Q\E is an item that matches the empty string.
          Node empty = Of(Kind::kEmpty);
          SkipExtended(flags);
          if (!Quantifier(&empty)) return std::nullopt;
          seq.children.push_back(std::move(empty));
          continue;
        }
        for (size_t i = start; i + 1 < end; ++i) {
          seq.children.push_back(Char(static_cast<unsigned char>(p_[i]), flags, true));
        }
        Node last = Char(static_cast<unsigned char>(p_[end - 1]), flags, true);
        SkipExtended(flags);
        if (!Quantifier(&last)) return std::nullopt;
        seq.children.push_back(std::move(last));
        continue;
      }
      auto atom = Atom(flags);
      if (!atom) return std::nullopt;
      SkipExtended(flags);
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
    int min = 0, max = kUnbounded;
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
          max = kUnbounded;
        } else if (!ReadNumber(p_, &i, &max) || i >= p_.size() || p_[i] != '}') {
          return true;
        }
      } else {
        return true;
      }
      if (max != kUnbounded && max < min) return false;
      pos_ = i + 1;
    } else {
      return true;
    }
    Node repeat = WithChild(Kind::kRepeat, std::move(*atom));
    repeat.min = min;
    repeat.max = max;
    if (Peek() == '?') {
      repeat.greed = Node::Greed::kLazy;
      ++pos_;
    } else if (Peek() == '+') {
      repeat.greed = Node::Greed::kPossessive;
      ++pos_;
    }
    *atom = std::move(repeat);
    return true;
  }

  static Node Char(unsigned char c, const Flags& f, bool quoted = false) {
    const ByteSet b = ByteSet().set(c);
    return Leaf(f.caseless ? FoldCase(b) : b,
                quoted ? Node::Source::kQuoted : Node::Source::kLiteral);
  }

  std::optional<Node> Atom(Flags& flags) {
    char c = p_[pos_];
    switch (c) {
      case '(':
        return Group(flags);
      case '[': {
        ++pos_;
        return ClassBody(flags);
      }
      case '.':
        ++pos_;
        return Leaf(flags.dotall ? ByteSet().set() : ~ByteSet().set('\n'), Node::Source::kDot);
      case '^':
        ++pos_;
        return AssertionNode(Node::Assertion::kLineStart);
      case '$':
        ++pos_;
        return AssertionNode(Node::Assertion::kLineEnd);
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

  // Skips to the ')' closing a construct that is not modelled; false when there is none.
  bool SkipPastClose() {
    size_t close = p_.find(')', pos_);
    if (close == std::string_view::npos) return false;
    pos_ = close + 1;
    return true;
  }

  // After '(': the kinds of group.
  std::optional<Node> Group(Flags& outer) {
    ++pos_;  // '('
    Flags inner = outer;
    Node group = Of(Kind::kGroup);
    group.group = Node::Group::kCapture;
    if (Peek() == '*') {  // verbs, (*pla: …
      if (!SkipPastClose()) return std::nullopt;
      return UnsupportedNode(Node::Unsupported::kVerb);
    }
    if (Peek() == '?') {
      ++pos_;
      char k = Peek();
      if (k == '#') {
        if (!SkipPastClose()) return std::nullopt;
        return Of(Kind::kEmpty);
      }
      if (k == ':' || k == '>' || k == '|') {
        group.group = k == ':'   ? Node::Group::kNonCapture
                      : k == '>' ? Node::Group::kAtomic
                                 : Node::Group::kBranchReset;
        ++pos_;
      } else if (k == '=' || k == '!') {
        ++pos_;
        group.kind = Kind::kLookaround;
        group.look = k == '=' ? Node::Look::kAhead : Node::Look::kNegativeAhead;
      } else if (k == '<' && (Peek(1) == '=' || Peek(1) == '!')) {
        group.kind = Kind::kLookaround;
        group.look = Peek(1) == '=' ? Node::Look::kBehind : Node::Look::kNegativeBehind;
        pos_ += 2;
      } else if (k == '<' || k == '\'' || (k == 'P' && Peek(1) == '<')) {
        group.group = k == 'P' ? Node::Group::kNamedPython : Node::Group::kNamed;
        if (k == 'P') ++pos_;
        const char close = p_[pos_] == '\'' ? '\'' : '>';
        size_t end = p_.find(close, pos_ + 1);
        if (end == std::string_view::npos) return std::nullopt;
        pos_ = end + 1;
      } else if (k == 'P' && Peek(1) == '=') {
        // (?P=name): a backreference.
        if (!SkipPastClose()) return std::nullopt;
        return Of(Kind::kBackreference);
      } else if (k == '(') {
        Node cond = UnsupportedNode(Node::Unsupported::kConditional);
        if (!SkipPastClose()) return std::nullopt;
        auto branches = Alternation(inner);
        if (!branches || AtEnd() || p_[pos_] != ')') return std::nullopt;
        ++pos_;
        cond.children.push_back(std::move(*branches));
        return cond;
      } else if (k == 'R' || k == '&' || k == '+' || (k == 'P' && Peek(1) == '>') ||
                 (k >= '0' && k <= '9') || (k == '-' && Peek(1) >= '0' && Peek(1) <= '9')) {
        if (!SkipPastClose()) return std::nullopt;
        return UnsupportedNode(Node::Unsupported::kRecursion);
      } else if (k == 'C') {
        if (!SkipPastClose()) return std::nullopt;
        return UnsupportedNode(Node::Unsupported::kCallout);
      } else {
        // Inline flags: (?flags) or (?flags:…); (?^…) resets i m s x n first.
        Flags changed = outer;
        bool negate = false;
        const size_t start = pos_;
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
            case 'm':  // anchors: a walk decides what ^ and $ mean
            case 'n':  // no automatic captures
            case 'U':  // ungreedy: the same strings match
            case 'J':  // duplicate names
            case 'a':  // SpamAssassin's (?aa) and the charset flags: no-ops for bytes
            case 'd':
            case 'l':
            case 'u':
              break;
            default:
              return std::nullopt;
          }
        }
        if (AtEnd()) return std::nullopt;
        const std::string letters(p_.substr(start, pos_ - start));
        if (p_[pos_] == ')') {
          ++pos_;
          outer = changed;  // the rest of the enclosing group
          Node set = Of(Kind::kFlags);
          set.text = letters;
          return set;
        }
        ++pos_;  // ':'
        inner = changed;
        group.group = Node::Group::kScopedFlags;
        group.text = letters;
      }
    }
    auto node = Alternation(inner);
    if (!node || AtEnd() || p_[pos_] != ')') return std::nullopt;
    ++pos_;
    group.children.push_back(std::move(*node));
    return group;
  }

  // "{digits}" in `base` (16 for \x{..}, 8 for \o{..}) at pos_, as one byte; nullopt when it is
  // empty, unclosed or above 0xff.
  std::optional<unsigned char> BracedByte(int base) {
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
      if (v > 0xff) return std::nullopt;
      ++i;
      ++digits;
    }
    if (digits == 0 || i >= p_.size() || p_[i] != '}') return std::nullopt;
    pos_ = i + 1;
    return static_cast<unsigned char>(v);
  }

  // \x.. \o{..} \0.. \c. and the single-letter ones, as one byte, with p_[pos_] the letter
  // after the backslash. `in_class` for the differences inside [ ]. Sets *is_byte false (and
  // returns true) when the escape is not one of these; false on malformed syntax.
  bool EscapedByte(bool in_class, bool* is_byte, unsigned char* byte) {
    *is_byte = true;
    char c = p_[pos_];
    auto hex = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    auto one = [&](unsigned char b) {
      ++pos_;
      *byte = b;
      return true;
    };
    switch (c) {
      case 'n':
        return one('\n');
      case 'r':
        return one('\r');
      case 't':
        return one('\t');
      case 'f':
        return one('\f');
      case 'e':
        return one(0x1b);
      case 'a':
        return one(0x07);
      case 'b':
        if (!in_class) break;
        return one(0x08);
      case 'x': {
        ++pos_;
        if (Peek() == '{') {
          auto b = BracedByte(16);
          if (!b) return false;
          *byte = *b;
          return true;
        }
        int v = 0;
        for (int k = 0; k < 2 && hex(Peek()) >= 0; ++k) v = v * 16 + hex(p_[pos_++]);
        *byte = static_cast<unsigned char>(v);
        return true;
      }
      case 'o': {
        ++pos_;
        if (Peek() != '{') return false;
        auto b = BracedByte(8);
        if (!b) return false;
        *byte = *b;
        return true;
      }
      case 'c': {
        ++pos_;
        if (AtEnd()) return false;
        unsigned char x = static_cast<unsigned char>(p_[pos_++]);
        if (x >= 'a' && x <= 'z') x -= 32;
        *byte = static_cast<unsigned char>(x ^ 0x40);
        return true;
      }
      case '0': {
        // \0 and up to two more octal digits.
        ++pos_;
        int v = 0;
        for (int k = 0; k < 2 && Peek() >= '0' && Peek() <= '7'; ++k)
          v = v * 8 + (p_[pos_++] - '0');
        *byte = static_cast<unsigned char>(v);
        return true;
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
      if (v > 0xff) return false;
      *byte = static_cast<unsigned char>(v);
      return true;
    }
    *is_byte = false;
    return true;
  }

  // \d \w \s \h \v and their complements; nullopt if `c` is not one of them.
  static std::optional<ByteSet> TypeClass(char c) {
    switch (c) {
      case 'd':
        return DigitBytes();
      case 'D':
        return ~DigitBytes();
      case 'w':
        return WordBytes();
      case 'W':
        return ~WordBytes();
      case 's':
        return SpaceBytes();
      case 'S':
        return ~SpaceBytes();
      case 'h':
        return HorizontalSpaceBytes();
      case 'H':
        return ~HorizontalSpaceBytes();
      case 'v':
        return VerticalSpaceBytes();
      case 'V':
        return ~VerticalSpaceBytes();
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
      return Leaf(*type, Node::Source::kType);
    }
    switch (c) {
      case 'b':
        ++pos_;
        return AssertionNode(Node::Assertion::kWordBoundary);
      case 'B':
        ++pos_;
        return AssertionNode(Node::Assertion::kNotWordBoundary);
      case 'G':
        ++pos_;
        return AssertionNode(Node::Assertion::kMatchStart);
      case 'K':
        ++pos_;
        return AssertionNode(Node::Assertion::kResetStart);
      case 'A':
        ++pos_;
        return AssertionNode(Node::Assertion::kSubjectStart);
      case 'z':
        ++pos_;
        return AssertionNode(Node::Assertion::kSubjectEnd);
      case 'Z':
        ++pos_;
        return AssertionNode(Node::Assertion::kSubjectEndish);
      case 'E':  // a stray \E is ignored
        ++pos_;
        return Of(Kind::kEmpty);
      case 'N':
        if (Peek(1) == '{') {
          pos_ += 2;
          if (!SkipPastBrace()) return std::nullopt;
          return UnsupportedNode(Node::Unsupported::kProperty);
        }
        ++pos_;
        return Leaf(~ByteSet().set('\n'), Node::Source::kType);
      case 'C':
        ++pos_;
        return Leaf(ByteSet().set(), Node::Source::kType);
      case 'R': {
        ++pos_;
        Node crlf = Of(Kind::kSequence);
        crlf.children.push_back(Leaf(ByteSet().set('\r'), Node::Source::kType));
        crlf.children.push_back(Leaf(ByteSet().set('\n'), Node::Source::kType));
        Node alt = Of(Kind::kAlternation);
        alt.children.push_back(std::move(crlf));
        alt.children.push_back(Leaf(VerticalSpaceBytes(), Node::Source::kType));
        return alt;
      }
      case 'p':
      case 'P':
        ++pos_;
        if (Peek() == '{') {
          if (!SkipPastBrace()) return std::nullopt;
        } else if (AtEnd()) {
          return std::nullopt;
        } else {
          ++pos_;
        }
        return UnsupportedNode(Node::Unsupported::kProperty);
      case 'X':
        ++pos_;
        return UnsupportedNode(Node::Unsupported::kProperty);
      case 'g':
      case 'k': {
        // Backreferences: \g{n} \gn \g{-n} \g{name} \k<name> \k'name' \k{name}. \g<…> and \g'…'
        // are subroutine calls.
        ++pos_;
        char open = Peek();
        if (open == '{' || open == '<' || open == '\'') {
          const char close = open == '{' ? '}' : open == '<' ? '>' : '\'';
          size_t end = p_.find(close, pos_ + 1);
          if (end == std::string_view::npos) return std::nullopt;
          pos_ = end + 1;
          if (c == 'g' && open != '{') return UnsupportedNode(Node::Unsupported::kRecursion);
          return Of(Kind::kBackreference);
        }
        if (c == 'g') {
          if (Peek() == '-' || Peek() == '+') ++pos_;
          int n = 0;
          size_t i = pos_;
          if (!ReadNumber(p_, &i, &n)) return std::nullopt;
          pos_ = i;
          return Of(Kind::kBackreference);
        }
        return std::nullopt;
      }
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      // \1…\9 alone are backreferences; longer numbers depend on the number of groups.
      if (Peek(1) >= '0' && Peek(1) <= '9') {
        while (Peek() >= '0' && Peek() <= '9') ++pos_;
        return UnsupportedNode(Node::Unsupported::kAmbiguousNumber);
      }
      ++pos_;
      return Of(Kind::kBackreference);
    }
    bool is_byte = false;
    unsigned char byte = 0;
    if (!EscapedByte(false, &is_byte, &byte)) return std::nullopt;
    if (is_byte) return Char(byte, flags);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      return std::nullopt;  // escapes PCRE2 refuses
    }
    ++pos_;
    return Char(static_cast<unsigned char>(c), flags);
  }

  // At '{': past the matching '}'.
  bool SkipPastBrace() {
    size_t close = p_.find('}', pos_);
    if (close == std::string_view::npos) return false;
    pos_ = close + 1;
    return true;
  }

  static std::optional<ByteSet> Posix(std::string_view name) {
    const ByteSet upper = ByteRange('A', 'Z'), lower = ByteRange('a', 'z');
    if (name == "alpha") return upper | lower;
    if (name == "digit") return DigitBytes();
    if (name == "alnum") return upper | lower | DigitBytes();
    if (name == "upper") return upper;
    if (name == "lower") return lower;
    if (name == "space") return SpaceBytes();
    if (name == "blank") return ByteSet().set(' ').set('\t');
    if (name == "cntrl") return ByteRange(0, 0x1f) | ByteSet().set(0x7f);
    if (name == "graph") return ByteRange(0x21, 0x7e);
    if (name == "print") return ByteRange(0x20, 0x7e);
    if (name == "punct") return ByteRange(0x21, 0x7e) & ~(upper | lower | DigitBytes());
    if (name == "xdigit") return DigitBytes() | ByteRange('A', 'F') | ByteRange('a', 'f');
    if (name == "word") return WordBytes();
    if (name == "ascii") return ByteRange(0, 0x7f);
    return std::nullopt;
  }

  // One item of a class: a single byte (can start or end a range) or a set.
  struct ClassItem {
    bool single = false;
    unsigned char byte = 0;
    ByteSet set;
  };

  // Reads one class item at pos_; nullopt on what is malformed or not modelled (a class with
  // \p, [.a.], [=a=]).
  std::optional<ClassItem> ReadClassItem() {
    ClassItem out;
    char c = p_[pos_];
    if (c == '[' && (Peek(1) == ':' || Peek(1) == '.' || Peek(1) == '=')) {
      if (Peek(1) != ':') return std::nullopt;
      size_t end = p_.find(":]", pos_ + 2);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view name = p_.substr(pos_ + 2, end - pos_ - 2);
      bool complement = !name.empty() && name[0] == '^';
      if (complement) name.remove_prefix(1);
      auto b = Posix(name);
      if (!b) return std::nullopt;
      out.set = complement ? ~*b : *b;
      pos_ = end + 2;
      return out;
    }
    if (c == '\\') {
      ++pos_;
      if (AtEnd()) return std::nullopt;
      char e = p_[pos_];
      if (auto type = TypeClass(e)) {
        ++pos_;
        out.set = *type;
        return out;
      }
      if (e == 'E') {  // stray \E: nothing
        ++pos_;
        return out;
      }
      if (e == 'Q') {
        ++pos_;
        size_t end = p_.find("\\E", pos_);
        if (end == std::string_view::npos) end = p_.size();
        for (size_t i = pos_; i < end; ++i) out.set.set(static_cast<unsigned char>(p_[i]));
        pos_ = end == p_.size() ? end : end + 2;
        return out;
      }
      bool is_byte = false;
      if (!EscapedByte(true, &is_byte, &out.byte)) return std::nullopt;
      if (is_byte) {
        out.single = true;
        return out;
      }
      if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
        return std::nullopt;
      }
      ++pos_;
      out.single = true;
      out.byte = static_cast<unsigned char>(e);
      return out;
    }
    ++pos_;
    out.single = true;
    out.byte = static_cast<unsigned char>(c);
    return out;
  }

  // After '[': the class up to its ']'.
  std::optional<Node> ClassBody(const Flags& flags) {
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    ByteSet set;
    bool first = true;
    while (true) {
      if (AtEnd()) return std::nullopt;
      if (p_[pos_] == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      auto a = ReadClassItem();
      if (!a) return std::nullopt;
      if (a->single && Peek() == '-' && Peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;  // '-'
        auto b = ReadClassItem();
        if (!b) return std::nullopt;
        if (!b->single) return std::nullopt;  // [a-\d]: PCRE2 refuses or reads it oddly
        if (b->byte < a->byte) return std::nullopt;
        set |= ByteRange(a->byte, b->byte);
        continue;
      }
      if (a->single) {
        set.set(a->byte);
      } else {
        set |= a->set;
      }
    }
    if (flags.caseless) set = FoldCase(set);
    return Leaf(negate ? ~set : set, Node::Source::kClass);
  }

  std::string_view p_;
  size_t pos_ = 0;
};

void DumpInto(const Node& n, int depth, std::string* out) {
  out->append(static_cast<size_t>(depth) * 2, ' ');
  static const char* const kKinds[] = {"empty",       "flags",         "bytes",      "sequence",
                                       "alternation", "group",         "lookaround", "repeat",
                                       "assertion",   "backreference", "unsupported"};
  out->append(kKinds[static_cast<int>(n.kind)]);
  switch (n.kind) {
    case Kind::kFlags:
      out->append(" " + n.text);
      break;
    case Kind::kBytes: {
      static const char* const kSources[] = {"literal", "quoted", "class", "dot", "type"};
      out->append(std::string(" ") + kSources[static_cast<int>(n.source)]);
      // Ranges of bytes, printable ones as themselves.
      for (int c = 0; c < 256;) {
        if (!n.bytes.test(c)) {
          ++c;
          continue;
        }
        int end = c;
        while (end + 1 < 256 && n.bytes.test(end + 1)) ++end;
        auto byte = [](int b) {
          char buf[8];
          if (b > 0x20 && b < 0x7f) return std::string(1, static_cast<char>(b));
          snprintf(buf, sizeof buf, "\\x%02x", b);
          return std::string(buf);
        };
        out->append(" " + byte(c));
        if (end > c) out->append("-" + byte(end));
        c = end + 1;
      }
      break;
    }
    case Kind::kGroup: {
      static const char* const kGroups[] = {"capture",      "non-capture", "flags",       "named",
                                            "named-python", "atomic",      "branch-reset"};
      out->append(std::string(" ") + kGroups[static_cast<int>(n.group)]);
      if (!n.text.empty()) out->append(" " + n.text);
      break;
    }
    case Kind::kLookaround: {
      static const char* const kLooks[] = {"ahead", "negative-ahead", "behind", "negative-behind"};
      out->append(std::string(" ") + kLooks[static_cast<int>(n.look)]);
      break;
    }
    case Kind::kRepeat: {
      static const char* const kGreed[] = {"greedy", "lazy", "possessive"};
      out->append(" " + std::to_string(n.min) + "," +
                  (n.max == kUnbounded ? std::string("inf") : std::to_string(n.max)) + " " +
                  kGreed[static_cast<int>(n.greed)]);
      break;
    }
    case Kind::kAssertion: {
      static const char* const kAssertions[] = {"^",   "$",   "\\A", "\\z", "\\Z",
                                                "\\b", "\\B", "\\G", "\\K"};
      out->append(std::string(" ") + kAssertions[static_cast<int>(n.assertion)]);
      break;
    }
    case Kind::kUnsupported: {
      static const char* const kWhat[] = {"conditional", "recursion", "callout",
                                          "verb",        "property",  "ambiguous-number"};
      out->append(std::string(" ") + kWhat[static_cast<int>(n.unsupported)]);
      break;
    }
    default:
      break;
  }
  out->push_back('\n');
  for (const Node& c : n.children) DumpInto(c, depth + 1, out);
}

}  // namespace

std::optional<Node> ParseRegex(std::string_view pattern, std::string_view flags) {
  Flags f;
  for (char c : flags) {
    if (c == 'i') f.caseless = true;
    if (c == 's') f.dotall = true;
    if (c == 'x') f.extended = true;
  }
  Parser parser(pattern);
  return parser.Parse(f);
}

bool Contains(const Node& tree, Node::Kind kind) {
  if (tree.kind == kind) return true;
  for (const Node& c : tree.children) {
    if (Contains(c, kind)) return true;
  }
  return false;
}

bool MatchesUnknownText(const Node& n) {
  return n.kind == Node::Kind::kBackreference ||
         (n.kind == Node::Kind::kUnsupported &&
          n.unsupported == Node::Unsupported::kAmbiguousNumber);
}

std::string Dump(const Node& tree) {
  std::string out;
  DumpInto(tree, 0, &out);
  return out;
}

}  // namespace mailsift::rules::regex
