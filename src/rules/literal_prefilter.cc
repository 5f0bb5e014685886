// rules/literal_prefilter.cc — see literal_prefilter.h.
#include "rules/literal_prefilter.h"

#include <algorithm>
#include <optional>

namespace mailsift::rules {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// What a regex node guarantees: `exact` when it always matches exactly that string, else a set
// of literals one of which every match contains (`any`, empty = nothing known).
struct Facts {
  std::optional<std::string> exact;
  std::vector<std::string> any;
};

size_t MinLength(const std::vector<std::string>& set) {
  size_t m = SIZE_MAX;
  for (const std::string& s : set) m = std::min(m, s.size());
  return set.empty() ? 0 : m;
}

// Better of two candidate sets: the one whose shortest literal is longer.
void KeepBest(std::vector<std::string>& best, std::vector<std::string> candidate) {
  if (candidate.empty()) return;
  if (best.empty() || MinLength(candidate) > MinLength(best)) best = std::move(candidate);
}

class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}

  // Parses an alternation up to ')' or the end. Returns nullopt when the syntax is not understood.
  std::optional<Facts> Alternation() {
    std::vector<Facts> branches;
    while (true) {
      auto seq = Sequence();
      if (!seq) return std::nullopt;
      branches.push_back(std::move(*seq));
      if (pos_ < p_.size() && p_[pos_] == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (branches.size() == 1) return branches[0];
    Facts out;
    bool all_exact = true;
    for (const Facts& b : branches) {
      if (!b.exact) all_exact = false;
    }
    for (const Facts& b : branches) {
      if (b.exact) {
        if (b.exact->empty()) return Facts{};  // an empty branch: nothing is required
        out.any.push_back(*b.exact);
      } else if (!b.any.empty()) {
        out.any.insert(out.any.end(), b.any.begin(), b.any.end());
      } else {
        return Facts{};
      }
    }
    (void)all_exact;
    return out;
  }

  size_t pos() const { return pos_; }

 private:
  // Reads one atom; sets `facts`. Returns false on syntax not understood.
  bool Atom(Facts& facts, bool& zero_width) {
    zero_width = false;
    char c = p_[pos_];
    if (c == '(') {
      ++pos_;
      if (pos_ < p_.size() && p_[pos_] == '?') {
        ++pos_;
        if (pos_ >= p_.size()) return false;
        char k = p_[pos_];
        if (k == '#') {  // comment
          size_t close = p_.find(')', pos_);
          if (close == std::string_view::npos) return false;
          pos_ = close + 1;
          facts = Facts{std::string(), {}};
          zero_width = true;
          return true;
        }
        if (k == '=' || k == '!' || k == '<') {
          // Lookaround, or a named group (?<name>…).
          if (k == '<' && pos_ + 1 < p_.size() && p_[pos_ + 1] != '=' && p_[pos_ + 1] != '!') {
            size_t close = p_.find('>', pos_);
            if (close == std::string_view::npos) return false;
            pos_ = close + 1;
          } else {
            pos_ += (k == '<') ? 2 : 1;
            auto inner = Alternation();
            if (!inner || pos_ >= p_.size() || p_[pos_] != ')') return false;
            ++pos_;
            facts = Facts{};
            zero_width = true;
            return true;
          }
        } else if (k == ':' || k == '>') {
          ++pos_;
        } else if (k == 'P' || k == '\'') {
          return false;
        } else {
          // Inline flags: (?i) (?-i) (?i:…) (?x…) is refused.
          size_t start = pos_;
          while (pos_ < p_.size() && p_[pos_] != ')' && p_[pos_] != ':') ++pos_;
          if (pos_ >= p_.size()) return false;
          std::string_view flags = p_.substr(start, pos_ - start);
          if (flags.find('x') != std::string_view::npos) return false;
          for (char f : flags) {
            if (f != 'i' && f != 'm' && f != 's' && f != '-' && f != 'a' && f != 'u' &&
                f != 'l' && f != 'd' && f != 'n') {
              return false;
            }
          }
          if (p_[pos_] == ')') {
            ++pos_;
            facts = Facts{std::string(), {}};
            zero_width = true;
            return true;
          }
          ++pos_;  // ':'
        }
      }
      auto inner = Alternation();
      if (!inner || pos_ >= p_.size() || p_[pos_] != ')') return false;
      ++pos_;
      facts = std::move(*inner);
      return true;
    }
    if (c == '[') {
      // Skip a character class: "[]…]" and "[^]…]" start with a literal ']'.
      ++pos_;
      if (pos_ < p_.size() && p_[pos_] == '^') ++pos_;
      if (pos_ < p_.size() && p_[pos_] == ']') ++pos_;
      while (pos_ < p_.size() && p_[pos_] != ']') {
        if (p_[pos_] == '\\') ++pos_;
        else if (p_[pos_] == '[' && pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
          size_t close = p_.find(":]", pos_ + 2);
          if (close == std::string_view::npos) return false;
          pos_ = close + 1;
        }
        ++pos_;
      }
      if (pos_ >= p_.size()) return false;
      ++pos_;
      facts = Facts{};
      return true;
    }
    if (c == '.') {
      ++pos_;
      facts = Facts{};
      return true;
    }
    if (c == '^' || c == '$') {
      ++pos_;
      facts = Facts{};
      zero_width = true;
      return true;
    }
    if (c == '\\') {
      if (pos_ + 1 >= p_.size()) return false;
      char e = p_[pos_ + 1];
      pos_ += 2;
      auto literal = [&](char ch) {
        facts = Facts{std::string(1, Lower(ch)), {}};
        return true;
      };
      switch (e) {
        case 'n': return literal('\n');
        case 't': return literal('\t');
        case 'r': return literal('\r');
        case 'f': return literal('\f');
        case 'e': return literal('\x1b');
        case 'a': return literal('\a');
        case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
          facts = Facts{};
          zero_width = true;
          return true;
        case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h': case 'H':
        case 'v': case 'V': case 'R': case 'N': case 'X':
          facts = Facts{};
          return true;
        case 'x': {
          if (pos_ < p_.size() && p_[pos_] == '{') return false;
          int value = 0, digits = 0;
          while (digits < 2 && pos_ < p_.size() && std::isxdigit(static_cast<unsigned char>(p_[pos_]))) {
            char h = Lower(p_[pos_++]);
            value = value * 16 + (h <= '9' ? h - '0' : h - 'a' + 10);
            ++digits;
          }
          return literal(static_cast<char>(value));
        }
        case '0': {
          int value = 0, digits = 0;
          while (digits < 2 && pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '7') {
            value = value * 8 + (p_[pos_++] - '0');
            ++digits;
          }
          return literal(static_cast<char>(value));
        }
        default:
          if (e >= '1' && e <= '9') {
            // A backreference, or an octal escape like \015: either way nothing literal is
            // claimed.
            while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') ++pos_;
            facts = Facts{};
            return true;
          }
          if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) return false;  // \p, \c, \g …
          return literal(e);
      }
    }
    if (c == '*' || c == '+' || c == '?' || c == '{' || c == ')' || c == '|') return false;
    ++pos_;
    facts = Facts{std::string(1, Lower(c)), {}};
    return true;
  }

  // Reads a quantifier after an atom. Sets min; returns false when absent.
  bool Quantifier(int& min) {
    if (pos_ >= p_.size()) return false;
    char c = p_[pos_];
    if (c == '*' || c == '?') {
      min = 0;
    } else if (c == '+') {
      min = 1;
    } else if (c == '{') {
      size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      std::string_view body = p_.substr(pos_ + 1, close - pos_ - 1);
      if (body.empty() || !(body[0] >= '0' && body[0] <= '9')) return false;  // literal '{'
      for (char d : body) {
        if (!(d >= '0' && d <= '9') && d != ',') return false;
      }
      min = std::atoi(std::string(body).c_str());
      pos_ = close;
    } else {
      return false;
    }
    ++pos_;
    if (pos_ < p_.size() && (p_[pos_] == '?' || p_[pos_] == '+')) ++pos_;  // lazy, possessive
    return true;
  }

  std::optional<Facts> Sequence() {
    std::string run;
    std::vector<std::string> best;
    bool exact = true;  // every atom so far was an exact literal
    auto flush = [&]() {
      if (!run.empty()) KeepBest(best, {run});
      run.clear();
    };
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      Facts atom;
      bool zero_width = false;
      if (!Atom(atom, zero_width)) return std::nullopt;
      int min = 1;
      bool quantified = Quantifier(min);
      if (quantified) {
        exact = false;
        flush();
        if (min >= 1) {
          if (atom.exact && !atom.exact->empty()) KeepBest(best, {*atom.exact});
          KeepBest(best, atom.any);
        }
        continue;
      }
      if (atom.exact) {
        if (!zero_width || atom.exact->empty()) {
          run += *atom.exact;
          continue;
        }
      }
      if (zero_width) {
        // Anchors and lookarounds: the literal run continues only across an empty assertion
        // like (?i); across others the run ends but nothing is lost.
        exact = false;
        flush();
        continue;
      }
      exact = false;
      flush();
      KeepBest(best, atom.any);
    }
    Facts out;
    if (exact) {
      out.exact = run;
      return out;
    }
    flush();
    out.any = std::move(best);
    return out;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<std::string> RequiredLiterals(std::string_view pattern, std::string_view flags) {
  if (flags.find('x') != std::string_view::npos) return {};
  Reader reader(pattern);
  auto facts = reader.Alternation();
  if (!facts || reader.pos() != pattern.size()) return {};
  std::vector<std::string> out;
  if (facts->exact) {
    out.push_back(*facts->exact);
  } else {
    out = facts->any;
  }
  if (out.empty() || MinLength(out) < kMinLiteral) return {};
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

size_t TextIndex::Hash(const char* p) {
  uint32_t v = static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8) |
               (static_cast<unsigned char>(p[2]) << 16);
  return (v * 2654435761u) >> 16;
}

TextIndex::TextIndex(std::string_view text) : lowered_(text) {
  for (char& c : lowered_) c = Lower(c);
  for (size_t i = 0; i + 2 <= lowered_.size(); ++i) {
    bigrams_.set(static_cast<unsigned char>(lowered_[i]) << 8 |
                 static_cast<unsigned char>(lowered_[i + 1]));
    if (i + 3 <= lowered_.size()) trigrams_.set(Hash(lowered_.data() + i));
  }
}

bool TextIndex::MayContain(std::string_view literal) const {
  if (literal.size() > lowered_.size()) return false;
  if (literal.size() == 2) {
    return bigrams_.test(static_cast<unsigned char>(literal[0]) << 8 |
                         static_cast<unsigned char>(literal[1]));
  }
  for (size_t i = 0; i + 3 <= literal.size(); i += (i + 6 <= literal.size() ? 3 : 1)) {
    if (!trigrams_.test(Hash(literal.data() + i))) return false;
  }
  return lowered_.find(literal) != std::string::npos;
}

bool TextIndex::MayContainAny(const std::vector<std::string>& literals) const {
  for (const std::string& l : literals) {
    if (MayContain(l)) return true;
  }
  return false;
}

}  // namespace mailsift::rules
