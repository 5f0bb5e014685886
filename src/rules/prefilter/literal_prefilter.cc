// rules/prefilter/literal_prefilter.cc — see literal_prefilter.h.
#include "rules/prefilter/literal_prefilter.h"

#include <string.h>

#include <algorithm>
#include <array>
#include <optional>

#include "base/strings.h"
#include "rules/regex/regex_syntax.h"

namespace mailsift::rules {
namespace {

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

using regex::Node;
using Kind = Node::Kind;

// Whether inline flag letters are all `allowed` ones (x, which changes the syntax, never is).
bool PlainFlagLetters(std::string_view letters, std::string_view allowed) {
  for (char f : letters) {
    if (allowed.find(f) == std::string_view::npos) return false;
  }
  return true;
}

constexpr std::string_view kLiteralFlags = "imsaduln-";

// Facts of `n` as one item of a sequence; sets `zero_width` for what consumes nothing. False on
// what the walk does not analyse: the pattern then has no required literals.
bool ItemFacts(const Node& n, Facts& facts, bool& zero_width);

// Facts of a sequence, or of an alternation of them.
std::optional<Facts> NodeFacts(const Node& n);

std::optional<Facts> AlternationFacts(const Node& n) {
  std::vector<Facts> branches;
  for (const Node& c : n.children) {
    auto f = NodeFacts(c);
    if (!f) return std::nullopt;
    branches.push_back(std::move(*f));
  }
  Facts out;
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
  return out;
}

std::optional<Facts> SequenceFacts(const Node& n) {
  std::string run;
  std::vector<std::string> best;
  bool exact = true;  // every item so far was an exact literal
  auto flush = [&]() {
    if (!run.empty()) KeepBest(best, {run});
    run.clear();
  };
  for (const Node& item : n.children) {
    const bool quantified = item.kind == Kind::kRepeat;
    const Node& atom_node = quantified ? item.children[0] : item;
    Facts atom;
    bool zero_width = false;
    if (!ItemFacts(atom_node, atom, zero_width)) return std::nullopt;
    if (quantified) {
      const int min = item.min;
      exact = false;
      if (min >= 1 && atom.exact && !atom.exact->empty() && !zero_width) {
        // x+ / x{m,n}: the first copy ends the run so far, the last one starts the next
        // ("ad+res" needs "ad" and "dres").
        run += *atom.exact;
        flush();
        run = *atom.exact;
        continue;
      }
      flush();
      if (min >= 1) KeepBest(best, atom.any);
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

std::optional<Facts> NodeFacts(const Node& n) {
  if (n.kind == Kind::kAlternation) return AlternationFacts(n);
  if (n.kind == Kind::kSequence) return SequenceFacts(n);
  Facts f;
  bool zero_width = false;
  if (!ItemFacts(n, f, zero_width)) return std::nullopt;
  return f;
}

bool ItemFacts(const Node& n, Facts& facts, bool& zero_width) {
  zero_width = false;
  facts = Facts{};
  switch (n.kind) {
    case Kind::kFlags:
      if (!PlainFlagLetters(n.text, kLiteralFlags)) return false;
      [[fallthrough]];
    case Kind::kEmpty:
      facts.exact = std::string();
      zero_width = true;
      return true;
    case Kind::kAssertion:
    case Kind::kLookaround:
      zero_width = true;
      return true;
    case Kind::kBytes:
      // A literal character (in either case, the text is lower-cased); classes claim nothing.
      if (n.source == Node::Source::kLiteral || n.source == Node::Source::kQuoted) {
        for (int c = 0; c < 256; ++c) {
          if (n.bytes.test(c)) {
            facts.exact = std::string(1, ToLowerAscii(static_cast<char>(c)));
            break;
          }
        }
      }
      return true;
    case Kind::kGroup: {
      if (n.group == Node::Group::kNamedPython) return false;
      if (n.group == Node::Group::kScopedFlags && !PlainFlagLetters(n.text, kLiteralFlags)) {
        return false;
      }
      auto inner = NodeFacts(n.children[0]);
      if (!inner) return false;
      facts = std::move(*inner);
      return true;
    }
    case Kind::kSequence:
    case Kind::kAlternation:  // \R
      return true;
    case Kind::kBackreference:
    case Kind::kUnsupported:
      // Matches something at its place (a backreference, an octal byte), or gives up.
      return regex::MatchesUnknownText(n);
    case Kind::kRepeat:
      break;  // not an item (the tree holds none: a quantifier takes an item)
  }
  return false;
}

}  // namespace

std::vector<std::string> RequiredLiterals(std::string_view pattern, std::string_view flags) {
  if (flags.find('x') != std::string_view::npos) return {};
  auto tree = regex::ParseRegex(pattern, flags);
  if (!tree) return {};
  auto facts = NodeFacts(*tree);
  if (!facts) return {};
  std::vector<std::string> out;
  if (facts->exact) {
    out.push_back(*facts->exact);
  } else {
    out = facts->any;
  }
  if (out.empty() || MinLength(out) < kMinLiteral) return {};
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  // A literal that holds another one adds nothing: drop it (this also keeps one occurrence
  // from being counted twice by TextsContainingMany).
  std::vector<std::string> minimal;
  for (const std::string& l : out) {
    bool redundant = false;
    for (const std::string& other : out) {
      if (other.size() < l.size() && l.find(other) != std::string::npos) {
        redundant = true;
        break;
      }
    }
    if (!redundant) minimal.push_back(l);
  }
  return minimal;
}

int RequiredRepeats(std::string_view pattern, std::string_view flags) {
  if (flags.find('x') != std::string_view::npos) return 0;
  auto tree = regex::ParseRegex(pattern, flags);
  if (!tree || tree->kind != Kind::kSequence || tree->children.empty()) return 0;
  // Inline flags like (?i) (?aa), then one non-capturing group repeated greedily, at the end.
  const std::vector<Node>& items = tree->children;
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    if (items[i].kind != Kind::kFlags || items[i].text.empty() ||
        !PlainFlagLetters(items[i].text, "imsnUJaudl")) {
      return 0;
    }
  }
  const Node& repeat = items.back();
  if (repeat.kind != Kind::kRepeat || repeat.greed != Node::Greed::kGreedy ||
      repeat.children[0].kind != Kind::kGroup ||
      repeat.children[0].group != Node::Group::kNonCapture || repeat.min > 1000) {
    return 0;
  }
  return repeat.min >= 2 ? repeat.min : 0;
}

size_t TextIndex::Hash(const char* p) {
  uint32_t v = static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8) |
               (static_cast<unsigned char>(p[2]) << 16);
  return (v * 2654435761u) >> 16;
}

TextIndex::TextIndex(std::string_view text, Grams grams) : lowered_(text) { Build(grams); }

TextIndex::TextIndex(const std::vector<std::string>& texts, Grams grams) {
  size_t size = 0;
  for (const std::string& t : texts) size += t.size() + 1;
  lowered_.reserve(size);
  starts_.reserve(texts.size());
  for (const std::string& t : texts) {
    starts_.push_back(lowered_.size());
    lowered_ += t;
    lowered_.push_back('\n');
  }
  Build(grams);
}

void TextIndex::Build(Grams grams) {
  for (char& c : lowered_) c = ToLowerAscii(c);
  grams_ = grams == Grams::kBuild;
  if (!grams_) return;
  for (size_t i = 0; i + 2 <= lowered_.size(); ++i) {
    bigrams_.set(static_cast<unsigned char>(lowered_[i]) << 8 |
                 static_cast<unsigned char>(lowered_[i + 1]));
    if (i + 3 <= lowered_.size()) trigrams_.set(Hash(lowered_.data() + i));
  }
}

size_t TextIndex::Find(std::string_view literal, size_t from) const {
  // glibc's memmem is much faster than std::string::find (memchr on the first byte, then
  // memcmp) for the short, common literals of rules.
  if (from >= lowered_.size()) return std::string::npos;
  const void* hit =
      memmem(lowered_.data() + from, lowered_.size() - from, literal.data(), literal.size());
  return hit == nullptr ? std::string::npos
                        : static_cast<size_t>(static_cast<const char*>(hit) - lowered_.data());
}

bool TextIndex::MayContain(std::string_view literal) const {
  return MayOccur(literal) && Find(literal, 0) != std::string::npos;
}

bool TextIndex::MayOccur(std::string_view literal) const {
  if (literal.size() > lowered_.size()) return false;
  if (!grams_) return true;
  if (literal.size() == 2) {
    return bigrams_.test(static_cast<unsigned char>(literal[0]) << 8 |
                         static_cast<unsigned char>(literal[1]));
  }
  for (size_t i = 0; i + 3 <= literal.size(); i += (i + 6 <= literal.size() ? 3 : 1)) {
    if (!trigrams_.test(Hash(literal.data() + i))) return false;
  }
  return true;
}

bool TextIndex::MayContainAny(const std::vector<std::string>& literals) const {
  for (const std::string& l : literals) {
    if (MayContain(l)) return true;
  }
  return false;
}

void TextIndex::TextsContainingMany(const std::vector<std::string>& literals, int min_count,
                                    std::vector<uint32_t>* texts) const {
  texts->clear();
  std::vector<size_t> positions;  // occurrence starts; distinct ones are counted
  for (const std::string& l : literals) {
    if (!MayOccur(l)) continue;
    for (size_t pos = Find(l, 0); pos != std::string::npos; pos = Find(l, pos + 1)) {
      positions.push_back(pos);
    }
  }
  if (positions.size() < static_cast<size_t>(min_count)) return;
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  size_t i = 0;
  while (i < positions.size()) {
    const size_t text = static_cast<size_t>(
        std::upper_bound(starts_.begin(), starts_.end(), positions[i]) - starts_.begin() - 1);
    const size_t end = text + 1 < starts_.size() ? starts_[text + 1] : lowered_.size();
    size_t j = i;
    while (j < positions.size() && positions[j] < end) ++j;
    if (j - i >= static_cast<size_t>(min_count)) texts->push_back(static_cast<uint32_t>(text));
    i = j;
  }
}

bool TextIndex::TextsContainingAny(const std::vector<std::string>& literals,
                                   std::vector<uint32_t>* texts) const {
  texts->clear();
  const size_t enough = starts_.size() / 2 + 1;
  for (const std::string& l : literals) {
    if (!MayOccur(l)) continue;
    size_t pos = Find(l, 0);
    while (pos != std::string::npos) {
      const size_t text = static_cast<size_t>(
          std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin() - 1);
      texts->push_back(static_cast<uint32_t>(text));
      if (texts->size() >= enough) {
        texts->clear();
        return false;
      }
      if (text + 1 >= starts_.size()) break;
      pos = Find(l, starts_[text + 1]);  // the next text's occurrences
    }
  }
  std::sort(texts->begin(), texts->end());
  texts->erase(std::unique(texts->begin(), texts->end()), texts->end());
  return true;
}

// ---- byte-class windows ----------------------------------------------------------------------

namespace {

using Bytes = std::bitset<256>;

// What a part of a pattern can match, cut to its first kClassWindow bytes, relaxed to byte
// classes: for each length L a match can have (L == kClassWindow: that many or more), the class
// of the byte at each position over all such matches.
struct Shape {
  std::array<bool, kClassWindow + 1> present{};
  std::array<std::array<Bytes, kClassWindow>, kClassWindow + 1> cls{};

  static Shape Empty() {
    Shape s;
    s.present[0] = true;
    return s;
  }
  // One byte of `b`, lower-cased like the text (a case-sensitive class over-approximates).
  static Shape Byte(const Bytes& b) {
    Shape s;
    s.present[1] = true;
    for (int c = 0; c < 256; ++c) {
      if (b.test(c))
        s.cls[1][0].set(static_cast<unsigned char>(ToLowerAscii(static_cast<char>(c))));
    }
    return s;
  }
  // Whether some length is still short of the window.
  bool Open() const {
    for (size_t l = 0; l < kClassWindow; ++l) {
      if (present[l]) return true;
    }
    return false;
  }
};

Shape Union(const Shape& a, const Shape& b) {
  Shape out = a;
  for (size_t l = 0; l <= kClassWindow; ++l) {
    if (!b.present[l]) continue;
    out.present[l] = true;
    for (size_t j = 0; j < l; ++j) out.cls[l][j] |= b.cls[l][j];
  }
  return out;
}

Shape Concat(const Shape& a, const Shape& b) {
  Shape out;
  for (size_t la = 0; la <= kClassWindow; ++la) {
    if (!a.present[la]) continue;
    if (la == kClassWindow) {
      out.present[la] = true;
      for (size_t j = 0; j < la; ++j) out.cls[la][j] |= a.cls[la][j];
      continue;
    }
    for (size_t lb = 0; lb <= kClassWindow; ++lb) {
      if (!b.present[lb]) continue;
      const size_t l = std::min(la + lb, kClassWindow);
      out.present[l] = true;
      for (size_t j = 0; j < la; ++j) out.cls[l][j] |= a.cls[la][j];
      for (size_t j = la; j < l; ++j) out.cls[l][j] |= b.cls[lb][j - la];
    }
  }
  return out;
}

// A rough share of the bytes of mail text that fall in `b` (lower-cased).
// With the popcnt instruction where the CPU has it: window selection counts many classes.
__attribute__((target_clones("popcnt", "default"))) double Share(const Bytes& b) {
  static const std::array<Bytes, 4> kKinds = [] {
    std::array<Bytes, 4> k;  // letters, space and newline, digits, other ASCII
    for (int c = 0; c < 0x80; ++c) {
      if (c >= 'a' && c <= 'z')
        k[0].set(c);
      else if (c == ' ' || c == '\n')
        k[1].set(c);
      else if (c >= '0' && c <= '9')
        k[2].set(c);
      else
        k[3].set(c);
    }
    return k;
  }();
  const size_t letters = (b & kKinds[0]).count(), spaces = (b & kKinds[1]).count(),
               digits = (b & kKinds[2]).count(), ascii = (b & kKinds[3]).count();
  const size_t high = b.count() - letters - spaces - digits - ascii;
  double p = 0.04 * letters + 0.12 * spaces + 0.01 * digits + 0.004 * ascii + 0.001 * high;
  return std::min(p, 1.0);
}

// One run of byte classes; a window is a list of runs, one of which every match contains.
struct Run {
  std::vector<Bytes> cls;
  double Chance() const {
    double q = 1;
    for (const Bytes& b : cls) q *= Share(b);
    return q;
  }
};
using Runs = std::vector<Run>;

double Chance(const Runs& runs) {
  double p = 0;
  for (const Run& r : runs) p += r.Chance();
  return std::min(p, 1.0);
}

// A shape's runs (one per length), or none when a length is under 2 bytes.
Runs ToRuns(const Shape& s) {
  if (s.present[0] || s.present[1]) return {};
  Runs out;
  for (size_t l = 2; l <= kClassWindow; ++l) {
    if (!s.present[l]) continue;
    out.push_back(Run{std::vector<Bytes>(s.cls[l].begin(), s.cls[l].begin() + l)});
  }
  return out;
}

// What a node gives a class window: the shape of everything it matches (nullopt: unknown), and
// the most selective window found inside (only that one is ever used).
struct ShapeFacts {
  std::optional<Shape> set;
  std::optional<Runs> best;
  double best_chance = 1;

  void Offer(Runs window) {
    if (window.empty()) return;
    const double chance = Chance(window);
    if (!best || chance < best_chance) {
      best = std::move(window);
      best_chance = chance;
    }
  }
};

Shape RepeatShape(const Shape& s, int min, int max) {
  // Beyond kClassWindow repeats nothing new fits: each repeat adds a byte or nothing.
  const int limit = static_cast<int>(kClassWindow);
  int lo = std::min(min, limit);
  int hi = max < 0 ? limit : std::min(max, limit);
  Shape power = Shape::Empty();
  Shape out;
  for (int n = 0; n <= hi; ++n) {
    if (n >= lo) out = Union(out, power);
    if (n == hi) break;
    power = Concat(power, s);
  }
  return out;
}

constexpr std::string_view kShapeFlags = "imsnUJaudl-";

// The facts of `n`; false on what the walk does not analyse (no window then).
bool WalkShape(const Node& n, ShapeFacts& out);

bool AlternationShape(const Node& n, ShapeFacts& out) {
  std::vector<ShapeFacts> branches;
  for (const Node& c : n.children) {
    ShapeFacts b;
    if (!WalkShape(c, b)) return false;
    branches.push_back(std::move(b));
  }
  // A window of the alternation: each branch's best window, one of which occurs.
  out = ShapeFacts{};
  Runs any;
  for (ShapeFacts& b : branches) {
    if (b.set) b.Offer(ToRuns(*b.set));
    if (!b.best) {
      any.clear();
      break;
    }
    any.insert(any.end(), b.best->begin(), b.best->end());
  }
  out.Offer(std::move(any));
  Shape all;
  for (const ShapeFacts& b : branches) {
    if (!b.set) return true;
    all = Union(all, *b.set);
  }
  out.set = all;
  return true;
}

bool SequenceShape(const Node& n, ShapeFacts& out) {
  out = ShapeFacts{};
  std::vector<std::optional<Shape>> nodes;
  for (const Node& item : n.children) {
    const bool quantified = item.kind == Kind::kRepeat;
    ShapeFacts atom;
    if (!WalkShape(quantified ? item.children[0] : item, atom)) return false;
    const int min = quantified ? item.min : 1, max = quantified ? item.max : 1;
    if (min >= 1) {
      if (atom.best) out.Offer(std::move(*atom.best));
    }
    if (atom.set && !(min == 1 && max == 1)) atom.set = RepeatShape(*atom.set, min, max);
    nodes.push_back(std::move(atom.set));
  }
  // Windows: from each known node, the following known ones appended up to kClassWindow bytes.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]) continue;
    Shape w = *nodes[i];
    for (size_t j = i + 1; j < nodes.size() && w.Open() && nodes[j]; ++j) {
      w = Concat(w, *nodes[j]);
    }
    out.Offer(ToRuns(w));
  }
  std::optional<Shape> all = Shape::Empty();
  for (const auto& s : nodes) {
    if (!s) {
      all.reset();
      break;
    }
    all = Concat(*all, *s);
  }
  out.set = all;
  return true;
}

bool WalkShape(const Node& n, ShapeFacts& out) {
  out = ShapeFacts{};
  switch (n.kind) {
    case Kind::kSequence:
      return SequenceShape(n, out);
    case Kind::kAlternation:
      return AlternationShape(n, out);
    case Kind::kFlags:
      if (n.text.empty() || !PlainFlagLetters(n.text, kShapeFlags)) return false;
      out.set = Shape::Empty();
      return true;
    case Kind::kEmpty:
    case Kind::kAssertion:
    case Kind::kLookaround:  // an assertion consumes nothing
      out.set = Shape::Empty();
      return true;
    case Kind::kBytes:
      // '.' as any byte whatever the flags (the window has always read it so).
      out.set = Shape::Byte(n.source == Node::Source::kDot ? Bytes().set() : n.bytes);
      return true;
    case Kind::kGroup:
      if (n.group == Node::Group::kScopedFlags && !PlainFlagLetters(n.text, kShapeFlags)) {
        return false;
      }
      return WalkShape(n.children[0], out);
    case Kind::kBackreference:
    case Kind::kUnsupported:
      return regex::MatchesUnknownText(n);  // an unknown shape, or give up
    case Kind::kRepeat:
      break;  // not an item (the tree holds none: a quantifier takes an item)
  }
  return false;
}

}  // namespace

std::optional<ClassWindow> ClassWindow::ForPattern(std::string_view pattern,
                                                   std::string_view flags) {
  if (flags.find('x') != std::string_view::npos) return std::nullopt;
  auto tree = regex::ParseRegex(pattern, flags);
  if (!tree) return std::nullopt;
  ShapeFacts facts;
  if (!WalkShape(*tree, facts)) return std::nullopt;
  if (facts.set) facts.Offer(ToRuns(*facts.set));
  if (!facts.best || facts.best_chance > kMaxChance) return std::nullopt;
  // Fit the runs into kMaxWords words of 64 state bits, a run never across two words: merge
  // runs of equal length (their classes united, which only over-approximates) while they do
  // not fit.
  Runs runs = std::move(*facts.best);
  std::sort(runs.begin(), runs.end(),
            [](const Run& a, const Run& b) { return a.cls.size() > b.cls.size(); });
  std::vector<std::vector<size_t>> words;  // run indexes per word
  auto pack = [&] {
    words.clear();
    std::vector<size_t> used;
    for (size_t i = 0; i < runs.size(); ++i) {
      size_t w = 0;
      while (w < used.size() && used[w] + runs[i].cls.size() + kSticky > 64) ++w;
      if (w == used.size()) {
        used.push_back(0);
        words.emplace_back();
      }
      used[w] += runs[i].cls.size() + kSticky;
      words[w].push_back(i);
    }
    return words.size() <= kMaxWords;
  };
  while (!pack()) {
    size_t bi = 0, bj = 0;
    double best_merged = 2;
    for (size_t i = 0; i < runs.size(); ++i) {
      for (size_t j = i + 1; j < runs.size(); ++j) {
        if (runs[i].cls.size() != runs[j].cls.size()) continue;
        Run m = runs[i];
        for (size_t k = 0; k < m.cls.size(); ++k) m.cls[k] |= runs[j].cls[k];
        double c = m.Chance() - runs[i].Chance() - runs[j].Chance();
        if (c < best_merged) {
          best_merged = c;
          bi = i;
          bj = j;
        }
      }
    }
    if (best_merged > 1) return std::nullopt;  // cannot happen: few distinct lengths
    for (size_t k = 0; k < runs[bi].cls.size(); ++k) runs[bi].cls[k] |= runs[bj].cls[k];
    runs.erase(runs.begin() + static_cast<ptrdiff_t>(bj));
  }
  ClassWindow out;
  out.chance_ = Chance(runs);
  if (out.chance_ > kMaxChance) return std::nullopt;
  out.words_ = words.size();
  out.mask_.assign(256 * out.words_, 0);
  for (size_t w = 0; w < words.size(); ++w) {
    int bit = 0;
    for (size_t i : words[w]) {
      const Run& r = runs[i];
      out.init_[w] |= uint64_t{1} << bit;
      for (size_t j = 0; j < r.cls.size(); ++j) {
        for (int c = 0; c < 256; ++c) {
          if (r.cls[j].test(c)) out.mask_[c * out.words_ + w] |= uint64_t{1} << (bit + j);
        }
      }
      // The run's last bit, then kSticky bits every byte keeps: a completed run stays
      // visible for kSticky more bytes (Scan1 checks every fourth byte).
      for (size_t j = r.cls.size() - 1; j < r.cls.size() + kSticky; ++j) {
        out.hit_[w] |= uint64_t{1} << (bit + j);
        if (j >= r.cls.size()) {
          for (int c = 0; c < 256; ++c) out.mask_[c * out.words_ + w] |= uint64_t{1} << (bit + j);
        }
      }
      bit += static_cast<int>(r.cls.size() + kSticky);
    }
  }
  return out;
}

void ClassWindow::TextsMatching(const TextIndex& index, std::vector<uint32_t>* texts) const {
  switch (words_) {
    case 1:
      return Scan1(index, texts);
    case 2:
      return Scan<2>(index, texts);
    case 3:
      return Scan<3>(index, texts);
    default:
      return Scan<4>(index, texts);
  }
}

// Marks the texts an occurrence ending at byte `end` (or up to kSticky bytes before) may start
// in; returns the offset to go on from (the next text's start), or npos at the last text.
size_t ClassWindow::MarkTexts(const TextIndex& index, size_t end, std::vector<uint32_t>* texts) {
  const std::vector<size_t>& starts = index.starts_;
  const size_t back = kClassWindow - 1 + kSticky;
  const size_t first = end >= back ? end - back : 0;
  size_t t = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), first) -
                                 starts.begin() - 1);
  const size_t last =
      static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), end) - starts.begin() - 1);
  for (; t <= last; ++t) {
    if (texts->empty() || texts->back() < t) texts->push_back(static_cast<uint32_t>(t));
  }
  return last + 1 < starts.size() ? starts[last + 1] : std::string::npos;
}

// One state word, four bytes a step: the shift-and recurrence unrolled so that the state's
// dependency chain is three operations per four bytes instead of per byte.
void ClassWindow::Scan1(const TextIndex& index, std::vector<uint32_t>* texts) const {
  texts->clear();
  const std::string& s = index.lowered_;
  const auto* bytes = reinterpret_cast<const unsigned char*>(s.data());
  const uint64_t init = init_[0], hit = hit_[0];
  const uint64_t* mask = mask_.data();
  uint64_t state = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (i + 4 <= s.size()) {
      const uint64_t m0 = mask[bytes[i]], m1 = mask[bytes[i + 1]], m2 = mask[bytes[i + 2]],
                     m3 = mask[bytes[i + 3]];
      const uint64_t through = (m0 << 3) & (m1 << 2) & (m2 << 1) & m3;
      const uint64_t fresh =
          ((((((init & m0) << 1 | init) & m1) << 1 | init) & m2) << 1 | init) & m3;
      state = ((state << 4) & through) | fresh;
      i += 4;
    } else {
      state = ((state << 1) | init) & mask[bytes[i]];
      ++i;
    }
    if ((state & hit) == 0) continue;
    const size_t next = MarkTexts(index, i - 1, texts);
    if (next == std::string::npos) break;
    i = next;
    state = 0;
  }
}

template <size_t kWords>
void ClassWindow::Scan(const TextIndex& index, std::vector<uint32_t>* texts) const {
  texts->clear();
  const std::string& s = index.lowered_;
  const auto* bytes = reinterpret_cast<const unsigned char*>(s.data());
  std::array<uint64_t, kWords> state{};
  for (size_t i = 0; i < s.size(); ++i) {
    const uint64_t* mask = &mask_[bytes[i] * kWords];
    uint64_t hit = 0;
    for (size_t w = 0; w < kWords; ++w) {
      state[w] = ((state[w] << 1) | init_[w]) & mask[w];
      hit |= state[w] & hit_[w];
    }
    if (hit == 0) continue;
    const size_t next = MarkTexts(index, i, texts);
    if (next == std::string::npos) break;
    i = next - 1;  // on to the next text
    state = {};
  }
}

}  // namespace mailsift::rules
