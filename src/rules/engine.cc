// rules/engine.cc — see engine.h.
#include "rules/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "base/strings.h"
#include "rules/eval/eval_registry.h"
#include "rules/message/received.h"
#include "rules/prefilter/literal_prefilter.h"
#include "rules/regex/pattern.h"

namespace mailsift::rules {
namespace {

// ---- meta expressions --------------------------------------------------------------------

// A meta expression compiled to a small tree. Values are doubles with Perl's semantics:
// `a || b` is a if a is true else b, `a && b` is b if a is true else a, `!a` is 1 or 0.
struct MetaNode {
  enum Kind { kNumber, kRule, kNot, kNeg, kBinary } kind = kNumber;
  double number = 0;
  int rule = -1;  // index into the rules vector, -1 = unknown name (0)
  enum Op { kOr, kAnd, kEq, kNe, kLt, kGt, kLe, kGe, kAdd, kSub, kMul, kDiv } op = kOr;
  std::unique_ptr<MetaNode> left, right;
};

// A meta expression in postfix order: evaluating a flat program avoids the tree's pointer
// chasing (there are about a thousand metas per message). && and || short-circuit as in Perl
// (most metas are chains of && whose first operands are 0): the left operand's value decides
// whether the right one is evaluated, and is the result when it is not.
struct MetaOp {
  enum Kind : uint8_t {
    kNumber,
    kRule,
    kNot,
    kNeg,
    kBinary,
    kAndJump,  // top is 0: it is the result, go to `rule`; else drop it, evaluate the right
    kOrJump,   // top is not 0: it is the result, go to `rule`; else drop it, evaluate the right
  } kind = kNumber;
  MetaNode::Op op = MetaNode::kOr;
  int rule = -1;  // kRule: the rule read; k*Jump: the operation after the right operand
  double number = 0;
};

// Runs a postfix meta program (defined with the evaluator below).
double EvalMeta(const std::vector<MetaOp>& program, const std::vector<double>& hits,
                std::vector<double>& stack);

void CompileMeta(const MetaNode& n, std::vector<MetaOp>* out) {
  MetaOp op;
  switch (n.kind) {
    case MetaNode::kNumber:
      op.kind = MetaOp::kNumber;
      op.number = n.number;
      break;
    case MetaNode::kRule:
      op.kind = MetaOp::kRule;
      op.rule = n.rule;
      break;
    case MetaNode::kNot:
    case MetaNode::kNeg:
      CompileMeta(*n.left, out);
      op.kind = n.kind == MetaNode::kNot ? MetaOp::kNot : MetaOp::kNeg;
      break;
    case MetaNode::kBinary:
      if (n.op == MetaNode::kAnd || n.op == MetaNode::kOr) {
        CompileMeta(*n.left, out);
        const size_t jump = out->size();
        op.kind = n.op == MetaNode::kAnd ? MetaOp::kAndJump : MetaOp::kOrJump;
        out->push_back(op);
        CompileMeta(*n.right, out);
        (*out)[jump].rule = static_cast<int>(out->size());
        return;
      }
      CompileMeta(*n.left, out);
      CompileMeta(*n.right, out);
      op.kind = MetaOp::kBinary;
      op.op = n.op;
      break;
  }
  out->push_back(op);
}

class MetaParser {
 public:
  MetaParser(std::string_view text, const std::unordered_map<std::string, int>& index)
      : text_(text), index_(index) {}

  Result<std::unique_ptr<MetaNode>> Parse() {
    auto node = ParseBinary(0);
    if (!node) return node;
    SkipSpace();
    if (pos_ != text_.size()) {
      return Fail(fmt::format("unexpected '{}' at offset {}", text_.substr(pos_, 10), pos_));
    }
    return node;
  }

 private:
  static int Precedence(std::string_view op) {
    if (op == "||") return 1;
    if (op == "&&") return 2;
    if (op == "==" || op == "!=") return 3;
    if (op == "<" || op == ">" || op == "<=" || op == ">=") return 4;
    if (op == "+" || op == "-") return 5;
    if (op == "*" || op == "/") return 6;
    return -1;
  }

  static MetaNode::Op OpCode(std::string_view op) {
    if (op == "||") return MetaNode::kOr;
    if (op == "&&") return MetaNode::kAnd;
    if (op == "==") return MetaNode::kEq;
    if (op == "!=") return MetaNode::kNe;
    if (op == "<") return MetaNode::kLt;
    if (op == ">") return MetaNode::kGt;
    if (op == "<=") return MetaNode::kLe;
    if (op == ">=") return MetaNode::kGe;
    if (op == "+") return MetaNode::kAdd;
    if (op == "-") return MetaNode::kSub;
    if (op == "*") return MetaNode::kMul;
    return MetaNode::kDiv;  // Precedence() admits no other operator
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  std::string PeekOperator() {
    SkipSpace();
    if (pos_ >= text_.size()) return {};
    std::string_view rest = text_.substr(pos_);
    for (std::string_view op : {"||", "&&", "==", "!=", "<=", ">="}) {
      if (rest.substr(0, 2) == op) return std::string(op);
    }
    char c = rest[0];
    if (c == '<' || c == '>' || c == '+' || c == '-' || c == '*' || c == '/') {
      return std::string(1, c);
    }
    return {};
  }

  Result<std::unique_ptr<MetaNode>> ParseBinary(int min_precedence) {
    auto left = ParseUnary();
    if (!left) return left;
    while (true) {
      std::string op = PeekOperator();
      int prec = op.empty() ? -1 : Precedence(op);
      if (prec < 0 || prec <= min_precedence - 1 || prec < min_precedence) break;
      pos_ += op.size();
      auto right = ParseBinary(prec + 1);
      if (!right) return right;
      auto node = std::make_unique<MetaNode>();
      node->kind = MetaNode::kBinary;
      node->op = OpCode(op);
      node->left = std::move(*left);
      node->right = std::move(*right);
      left = std::move(node);
    }
    return left;
  }

  Result<std::unique_ptr<MetaNode>> ParseUnary() {
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("expression ends early");
    char c = text_[pos_];
    if (c == '!' && (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '=')) {
      ++pos_;
      auto inner = ParseUnary();
      if (!inner) return inner;
      auto node = std::make_unique<MetaNode>();
      node->kind = MetaNode::kNot;
      node->left = std::move(*inner);
      return node;
    }
    if (c == '-') {
      ++pos_;
      auto inner = ParseUnary();
      if (!inner) return inner;
      auto node = std::make_unique<MetaNode>();
      node->kind = MetaNode::kNeg;
      node->left = std::move(*inner);
      return node;
    }
    if (c == '(') {
      ++pos_;
      auto inner = ParseBinary(0);
      if (!inner) return inner;
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ')') return Fail("missing ')'");
      ++pos_;
      return inner;
    }
    if ((c >= '0' && c <= '9') || c == '.') {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             ((text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '.')) {
        ++pos_;
      }
      auto node = std::make_unique<MetaNode>();
      node->number = std::atof(std::string(text_.substr(start, pos_ - start)).c_str());
      return node;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             ((text_[pos_] >= 'A' && text_[pos_] <= 'Z') ||
              (text_[pos_] >= 'a' && text_[pos_] <= 'z') ||
              (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
        ++pos_;
      }
      std::string name(text_.substr(start, pos_ - start));
      auto node = std::make_unique<MetaNode>();
      node->kind = MetaNode::kRule;
      auto it = index_.find(name);
      node->rule = it == index_.end() ? -1 : it->second;
      return node;
    }
    return Fail(fmt::format("unexpected '{}' at offset {}", c, pos_));
  }

  std::string_view text_;
  size_t pos_ = 0;
  const std::unordered_map<std::string, int>& index_;
};

// ---- compiled rules ----------------------------------------------------------------------

// Patterns up to this long run on every text, without a class window or a search for the
// texts holding their literals: those cost about what the regex costs (measured on the parity
// sample).
constexpr size_t kWindowMinPattern = 100;

struct CompiledRule {
  const Rule* rule = nullptr;
  bool enabled = false;
  bool multiple = false;
  bool nosubject = false;
  int maxhits = 0;
  double score = 0;
  std::unique_ptr<Pattern> pattern;
  std::string header_request;  // header rules: name[:mods]
  int header_slot = -1;        // header rules: index of header_request among the distinct ones
  std::unique_ptr<MetaNode> meta;
  std::vector<MetaOp> meta_program;  // `meta` in postfix order, for EvalMeta
  EvalFunction eval = nullptr;
  bool skip = false;
  bool templated = false;  // uses %{NAME}: built per message from the captures
  // Templates every match holds one value of (see RequiredTemplates).
  std::vector<std::string> required_templates;
  std::vector<std::string> literals;  // one of them occurs in every match (empty: unknown)
  std::optional<ClassWindow> window;  // without literals: a byte-class window every match has
  int literal_repeats = 0;       // every match holds this many occurrences of `literals` (0: one)
  int literal_set = -1;          // the same literals, the same repeats: the same id (for a cache)
  std::vector<int> literal_ids;  // `literals` numbered among the ruleset's distinct literals
};

}  // namespace

struct CompiledRuleset::Impl {
  Ruleset ruleset;
  std::vector<CompiledRule> rules;
  std::unordered_map<std::string, int> index;
  std::vector<int> meta_order;  // metas in dependency order
  std::vector<int> run_order;   // non-meta rules: capture-defining rules first
  // What the scan loops read for every rule, kept small and together (the CompiledRules are
  // some hundred bytes each, a megabyte in all): per rule whether a header rule is negated (it
  // hits when the prefilter rules its regex out), and per meta in meta_order its inputs (a
  // range of meta_inputs) and its value when they are all 0.
  std::vector<uint8_t> negated_header;
  struct MetaHead {
    uint32_t first = 0, count = 0;
    double all_zero = 0;
  };
  std::vector<MetaHead> meta_heads;
  std::vector<int> meta_inputs;
  size_t header_slots = 0;   // distinct header rule requests
  size_t literal_sets = 0;   // distinct (literals, repeats) of regex rules
  size_t literal_count = 0;  // distinct literals of regex rules
  CompileStats stats;
  double required = 5.0;
  std::shared_ptr<const EvalConfig> eval_config;
  mime::TldSet tlds;
  RegistryBoundaries boundaries;
  mime::RedirectorPatterns redirectors;
  std::shared_ptr<PrefilterSlot> prefilter;  // never null after Compile
};

namespace {

// The prefilter's databases: one per text. Header rules get one per distinct header request
// with at least kMinHeaderGroup rules (fewer cost about as much to run as to scan for). URI rules
// get none: on the parity sample their database cost more than the literal prefilter (many
// short texts, large TLD alternations) — measured, 25 µs per message more.
constexpr int kGroupBody = 0;
constexpr int kGroupRawBody = 1;
constexpr int kGroupBodyAscii = 2;  // the body, when it is all ASCII: the look-alike rules
constexpr int kGroupFirstHeader = 3;
constexpr size_t kMinHeaderGroup = 3;

// What the prefilter compiles: regex rules of the types it knows. Long body rules with a class
// window (ReplaceTags' look-alike letters in FUZZY_*, __MY_MALWARE and the like, up to 220 kB)
// are too large for Hyperscan as written, and its automata for their collapsed forms are large
// and slow: they get a database of their own for bodies without a byte above 0x7f, where their
// look-alike branches in UTF-8 and Latin-1 cannot match and drop out (15 µs per median message
// for all 42 against 180 µs for their windows and PCRE2). A body with such bytes still finds
// their candidate lines by the window. Short ones (__DRUGS_*) stay in the body database.
constexpr size_t kMaxWindowPrefilterPattern = 1000;
std::vector<PrefilterGroup> PrefilterPlan(const std::vector<CompiledRule>& rules,
                                          size_t header_slots) {
  std::vector<PrefilterGroup> groups(kGroupFirstHeader + header_slots);
  groups[kGroupBody].lists = groups[kGroupRawBody].lists = groups[kGroupBodyAscii].lists = true;
  groups[kGroupBodyAscii].text = TextBytes::kAscii;
  for (size_t i = 0; i < rules.size(); ++i) {
    const CompiledRule& c = rules[i];
    if (!c.enabled || c.skip || !c.pattern || c.templated) continue;
    const bool look_alike = c.window && c.rule->regex.pattern.size() > kMaxWindowPrefilterPattern;
    if (look_alike && c.rule->type != RuleType::kBody) continue;
    int group = -1;
    switch (c.rule->type) {
      case RuleType::kBody:
        group = look_alike ? kGroupBodyAscii : kGroupBody;
        break;
      case RuleType::kRawBody:
        group = kGroupRawBody;
        break;
      case RuleType::kHeader:
        if (c.header_slot >= 0) group = kGroupFirstHeader + c.header_slot;
        break;
      default:
        break;
    }
    if (group < 0) continue;
    groups[group].rules.push_back(
        PrefilterRule{static_cast<uint32_t>(i), c.rule->regex.pattern, c.rule->regex.flags});
  }
  for (size_t g = kGroupFirstHeader; g < groups.size(); ++g) {
    if (groups[g].rules.size() < kMinHeaderGroup) groups[g].rules.clear();
  }
  return groups;
}

// The templates of a pattern that every match holds one value of: a %{NAME} outside any group,
// class and alternation, with no quantifier after it, is a required part of every match once
// replaced by its values. None for /x patterns and \Q…\E (spacing and quoting would need a full
// parse).
std::vector<std::string> RequiredTemplates(std::string_view pattern, std::string_view flags,
                                           const std::vector<std::string>& names) {
  if (flags.find('x') != std::string_view::npos || pattern.find("(?x") != std::string_view::npos ||
      pattern.find("\\Q") != std::string_view::npos) {
    return {};
  }
  std::vector<bool> top(pattern.size(), false);  // per byte: outside groups and classes
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char ch = pattern[i];
    top[i] = depth == 0 && !in_class;
    if (ch == '\\') {
      ++i;  // the escaped byte is where its backslash is
      continue;
    }
    if (in_class) {
      in_class = ch != ']';
      continue;
    }
    if (ch == '[') {
      in_class = true;
      // A ']' first in a class (after an optional '^') is a member.
      size_t j = i + 1;
      if (j < pattern.size() && pattern[j] == '^') ++j;
      if (j < pattern.size() && pattern[j] == ']') i = j;
    } else if (ch == '(') {
      ++depth;
    } else if (ch == ')') {
      --depth;
    } else if (ch == '|' && depth == 0) {
      return {};  // a match of another branch needs nothing
    }
  }
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const std::string tag = "%{" + name + "}";
    for (size_t pos = pattern.find(tag); pos != std::string_view::npos;
         pos = pattern.find(tag, pos + 1)) {
      if (pos > 0 && pattern[pos - 1] == '\\') continue;  // not a template (as RunTemplated)
      const size_t after = pos + tag.size();
      const bool quantified =
          after < pattern.size() &&
          (pattern[after] == '?' || pattern[after] == '*' || pattern[after] == '{');
      if (top[pos] && !quantified) {
        out.push_back(name);
        break;
      }
    }
  }
  return out;
}

}  // namespace

CompiledRuleset::CompiledRuleset() : impl_(std::make_unique<Impl>()) {}
CompiledRuleset::~CompiledRuleset() {
  if (impl_->prefilter) impl_->prefilter->Cancel();
}
const PrefilterSlot& CompiledRuleset::prefilter() const { return *impl_->prefilter; }
const Ruleset& CompiledRuleset::ruleset() const { return impl_->ruleset; }
const CompileStats& CompiledRuleset::stats() const { return impl_->stats; }
double CompiledRuleset::required_score() const { return impl_->required; }

Result<std::shared_ptr<const CompiledRuleset>> CompiledRuleset::Compile(
    Ruleset ruleset, const CompileOptions& options) {
  std::shared_ptr<CompiledRuleset> out(new CompiledRuleset());
  Impl& impl = *out->impl_;
  impl.ruleset = std::move(ruleset);
  const auto& rules = impl.ruleset.rules();
  impl.rules.resize(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) impl.index[rules[i].name] = static_cast<int>(i);

  if (!impl.ruleset.Setting("required_score").empty()) {
    impl.required = std::atof(impl.ruleset.Setting("required_score").back().c_str());
  }
  impl.tlds = mime::TldSet(impl.ruleset.SettingWords("util_rb_tld"));
  impl.boundaries = RegistryBoundaries(impl.ruleset.SettingWords("util_rb_tld"),
                                       impl.ruleset.SettingWords("util_rb_2tld"),
                                       impl.ruleset.SettingWords("util_rb_3tld"));
  {
    std::vector<std::string> patterns;
    for (const std::string& p : impl.ruleset.Setting("redirector_pattern")) patterns.push_back(p);
    auto compiled = mime::RedirectorPatterns::Compile(patterns);
    if (!compiled) return Fail("redirector_pattern: " + compiled.error().message);
    impl.redirectors = std::move(*compiled);
  }
  impl.eval_config = EvalConfigFromRuleset(impl.ruleset);

  std::vector<std::string> errors;
  std::unordered_map<std::string, int> literal_sets;
  std::unordered_map<std::string, int> literal_ids;
  CompileStats& st = impl.stats;
  st.rules = rules.size();
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    CompiledRule& c = impl.rules[i];
    c.rule = &r;
    c.score = r.scores[0];
    c.enabled = r.scores[0] != 0 && r.type != RuleType::kEmpty;
    c.multiple = r.HasTflag("multiple");
    c.nosubject = r.HasTflag("nosubject");
    c.maxhits = r.MaxHits();
    if (!c.enabled) continue;
    ++st.enabled;
    auto where = [&] { return fmt::format("{}:{}: rule {}", r.where.file, r.where.line, r.name); };
    if (r.type == RuleType::kMeta) {
      MetaParser parser(r.meta_expression, impl.index);
      auto node = parser.Parse();
      if (!node) {
        errors.push_back(fmt::format("{}: bad meta expression: {}", where(), node.error().message));
        c.enabled = false;
        continue;
      }
      c.meta = std::move(*node);
      CompileMeta(*c.meta, &c.meta_program);
      continue;
    }
    if (r.is_eval) {
      EvalKind kind;
      c.eval = FindEval(r.eval.function, &kind);
      if (kind == EvalKind::kNative) {
        ++st.evals_native;
      } else {
        ++st.evals_never_hit;
        if (kind == EvalKind::kUnknown) st.unknown_eval_functions.push_back(r.eval.function);
      }
      continue;
    }
    if (!r.capture_templates.empty()) {
      c.templated = true;
      c.required_templates = RequiredTemplates(r.regex.pattern, r.regex.flags, r.capture_templates);
      ++st.capture_template_rules;
      continue;
    }
    if (r.type == RuleType::kHeader && r.header.exists) {
      c.header_request = r.header.name;
      continue;
    }
    auto pattern = Pattern::Compile(r.regex.pattern, r.regex.flags);
    if (!pattern) {
      errors.push_back(fmt::format("{}: {}", where(), pattern.error().message));
      c.enabled = false;
      continue;
    }
    ++st.regexes;
    if (pattern->wide()) ++st.wide_regexes;
    c.pattern = std::make_unique<Pattern>(std::move(*pattern));
    c.literals = RequiredLiterals(r.regex.pattern, r.regex.flags);
    // A window scan costs about what a short regex costs: only for long patterns.
    if (c.literals.empty() && r.regex.pattern.size() > kWindowMinPattern &&
        (r.type == RuleType::kBody || r.type == RuleType::kRawBody || r.type == RuleType::kUri)) {
      c.window = ClassWindow::ForPattern(r.regex.pattern, r.regex.flags);
    }
    if (!c.literals.empty()) {
      ++st.prefiltered_regexes;
      c.literal_repeats = RequiredRepeats(r.regex.pattern, r.regex.flags);
      std::string key = std::to_string(c.literal_repeats);
      for (const std::string& l : c.literals) key += '\0' + l;
      c.literal_set =
          literal_sets.emplace(key, static_cast<int>(literal_sets.size())).first->second;
      for (const std::string& l : c.literals) {
        c.literal_ids.push_back(
            literal_ids.emplace(l, static_cast<int>(literal_ids.size())).first->second);
      }
    }
    if (r.type == RuleType::kHeader || r.type == RuleType::kMimeHeader) {
      c.header_request = r.header.name;
      for (const std::string& m : r.header.modifiers) c.header_request += ":" + m;
    }
  }
  if (!errors.empty()) {
    std::string joined;
    for (const std::string& e : errors) joined += (joined.empty() ? "" : "\n") + e;
    return Fail(joined);
  }
  // Metas in dependency order (depth-first; a cycle is broken where it closes, the rule inside
  // it then reads 0 for the rule not yet evaluated).
  std::vector<int> state(rules.size(), 0);
  std::function<void(int)> visit = [&](int i) {
    if (state[i] != 0) return;
    state[i] = 1;
    for (const std::string& ref : rules[i].meta_refs) {
      auto it = impl.index.find(ref);
      if (it != impl.index.end() && rules[it->second].type == RuleType::kMeta) visit(it->second);
    }
    state[i] = 2;
    impl.meta_order.push_back(i);
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].type == RuleType::kMeta && impl.rules[i].enabled) visit(static_cast<int>(i));
  }
  std::unordered_map<std::string, int> slots;
  for (CompiledRule& c : impl.rules) {
    if (!c.enabled || c.skip || c.meta || c.rule->is_eval || c.rule->type != RuleType::kHeader) {
      continue;
    }
    c.header_slot = slots.emplace(c.header_request, static_cast<int>(slots.size())).first->second;
  }
  impl.header_slots = slots.size();
  impl.literal_sets = literal_sets.size();
  impl.literal_count = literal_ids.size();
  impl.meta_order.erase(std::remove_if(impl.meta_order.begin(), impl.meta_order.end(),
                                       [&](int i) { return !impl.rules[i].enabled; }),
                        impl.meta_order.end());
  {
    const std::vector<double> zeros(impl.rules.size(), 0.0);
    std::vector<double> stack;
    for (int i : impl.meta_order) {
      // The rules the meta reads, each once, and its value when all of them are 0: most rules
      // do not hit a given message, so most metas need not be evaluated.
      const std::vector<MetaOp>& program = impl.rules[i].meta_program;
      const auto first = impl.meta_inputs.size();
      for (const MetaOp& op : program) {
        if (op.kind == MetaOp::kRule && op.rule >= 0 &&
            std::find(impl.meta_inputs.begin() + first, impl.meta_inputs.end(), op.rule) ==
                impl.meta_inputs.end()) {
          impl.meta_inputs.push_back(op.rule);
        }
      }
      impl.meta_heads.push_back({static_cast<uint32_t>(first),
                                 static_cast<uint32_t>(impl.meta_inputs.size() - first),
                                 EvalMeta(program, zeros, stack)});
    }
  }
  impl.negated_header.resize(rules.size(), 0);
  for (size_t i = 0; i < rules.size(); ++i) {
    impl.negated_header[i] = rules[i].type == RuleType::kHeader && rules[i].header.negated;
  }
  // SpamAssassin gives rules that define captures priority -10000: they run before the rules
  // whose templates read them.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < rules.size(); ++i) {
      const CompiledRule& c = impl.rules[i];
      if (!c.enabled || c.meta) continue;
      if (rules[i].defines_captures == (pass == 0)) impl.run_order.push_back(static_cast<int>(i));
    }
  }
  std::vector<PrefilterGroup> plan = PrefilterPlan(impl.rules, impl.header_slots);
  for (const PrefilterGroup& g : plan) st.multi_prefilter_candidates += g.rules.size();
  impl.prefilter = PrefilterSlot::Start(std::move(plan), impl.rules.size(), options.prefilter);
  return std::shared_ptr<const CompiledRuleset>(std::move(out));
}

namespace {

double Binary(MetaNode::Op op, double a, double b) {
  switch (op) {
    case MetaNode::kOr:
      return a != 0 ? a : b;
    case MetaNode::kAnd:
      return a != 0 ? b : a;
    case MetaNode::kAdd:
      return a + b;
    case MetaNode::kSub:
      return a - b;
    case MetaNode::kMul:
      return a * b;
    case MetaNode::kDiv:
      return b != 0 ? a / b : 0.0;
    case MetaNode::kLt:
      return a < b;
    case MetaNode::kGt:
      return a > b;
    case MetaNode::kLe:
      return a <= b;
    case MetaNode::kGe:
      return a >= b;
    case MetaNode::kEq:
      return a == b;
    case MetaNode::kNe:
      return a != b;
  }
  return 0;
}

// Runs a postfix meta program; `stack` is scratch space with room for the program's operands
// (a program never holds more values at once than it has operations).
double EvalMeta(const std::vector<MetaOp>& program, const std::vector<double>& hits,
                std::vector<double>& stack) {
  if (stack.size() < program.size()) stack.resize(program.size());
  double* top = stack.data();  // one past the last value
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const MetaOp& op = program[pc];
    switch (op.kind) {
      case MetaOp::kNumber:
        *top++ = op.number;
        break;
      case MetaOp::kRule:
        *top++ = op.rule < 0 ? 0.0 : hits[op.rule];
        break;
      case MetaOp::kNot:
        top[-1] = top[-1] != 0 ? 0.0 : 1.0;
        break;
      case MetaOp::kNeg:
        top[-1] = -top[-1];
        break;
      case MetaOp::kBinary: {
        const double b = *--top;
        top[-1] = Binary(op.op, top[-1], b);
        break;
      }
      case MetaOp::kAndJump:
      case MetaOp::kOrJump:
        if ((top[-1] != 0) == (op.kind == MetaOp::kOrJump)) {
          pc = static_cast<size_t>(op.rule) - 1;  // the loop's ++pc lands on op.rule
        } else {
          --top;
        }
        break;
    }
  }
  return top == stack.data() ? 0.0 : top[-1];
}

// Runs a regex rule over a list of texts: first hit only, or every match with `multiple`.
// Only the texts listed in `only` (ascending) when not null.
int MatchTexts(const CompiledRule& c, const std::vector<std::string>& texts, size_t skip_first,
               const std::vector<uint32_t>* only) {
  int hits = 0;
  const size_t n = only != nullptr ? only->size() : texts.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = only != nullptr ? (*only)[k] : k;
    if (i < skip_first) continue;
    if (!c.multiple) {
      if (c.pattern->Matches(texts[i])) return 1;
      continue;
    }
    int remaining = c.maxhits > 0 ? c.maxhits - hits : 0;
    hits += c.pattern->CountMatches(texts[i], remaining);
    if (c.maxhits > 0 && hits >= c.maxhits) break;
  }
  return hits;
}

// Which texts of one list may hold a match, per literal set: rules sharing their literals
// (ReplaceTags families) search for them once. Likewise whether each distinct literal occurs
// at all: many rules share a literal ("http", "click"), each is searched for once per text kind.
struct CandidateCache {
  enum State : uint8_t { kUnknown, kAll, kListed };
  std::vector<State> state;
  std::vector<uint32_t> list_of;             // per set when kListed: its index in `lists`
  std::vector<std::vector<uint32_t>> lists;  // only for the sets a message asks about
  std::vector<int8_t> literal_found;  // per distinct literal: -1 unknown, 0 absent, 1 may occur
  CandidateCache(size_t sets, size_t literals)
      : state(sets, kUnknown), list_of(sets, 0), literal_found(literals, -1) {}

  // index.MayContainAny(c.literals), each literal's answer kept for the next rule.
  bool MayContainAny(const CompiledRule& c, const TextIndex& index) {
    for (size_t k = 0; k < c.literals.size(); ++k) {
      int8_t& found = literal_found[c.literal_ids[k]];
      if (found < 0) found = index.MayContain(c.literals[k]) ? 1 : 0;
      if (found != 0) return true;
    }
    return false;
  }
};

// Runs a regex rule over the texts that can match: those holding one of its literals (enough of
// them for a repeated group), or an occurrence of its class window.
int MatchIndexedTexts(const CompiledRule& c, const std::vector<std::string>& texts,
                      size_t skip_first, const TextIndex& index, CandidateCache& cache,
                      std::vector<uint32_t>* candidates) {
  if (c.literals.empty()) {
    if (!c.window) return MatchTexts(c, texts, skip_first, nullptr);
    c.window->TextsMatching(index, candidates);
    if (candidates->empty()) return 0;
    return MatchTexts(c, texts, skip_first, candidates);
  }
  if (c.literal_repeats <= 1 &&
      (texts.size() <= 2 || c.rule->regex.pattern.size() <= kWindowMinPattern)) {
    // A short regex costs about what finding the texts with its literals costs.
    return cache.MayContainAny(c, index) ? MatchTexts(c, texts, skip_first, nullptr) : 0;
  }
  CandidateCache::State& state = cache.state[c.literal_set];
  if (state == CandidateCache::kUnknown) {
    cache.list_of[c.literal_set] = static_cast<uint32_t>(cache.lists.size());
    std::vector<uint32_t>& listed = cache.lists.emplace_back();
    if (c.literal_repeats > 1) {
      index.TextsContainingMany(c.literals, c.literal_repeats, &listed);
      state = CandidateCache::kListed;
    } else {
      state = index.TextsContainingAny(c.literals, &listed) ? CandidateCache::kListed
                                                            : CandidateCache::kAll;
    }
  }
  if (state == CandidateCache::kAll) return MatchTexts(c, texts, skip_first, nullptr);
  const std::vector<uint32_t>& listed = cache.lists[cache.list_of[c.literal_set]];
  if (listed.empty()) return 0;
  return MatchTexts(c, texts, skip_first, &listed);
}

}  // namespace

namespace {

// Perl's quotemeta: every byte other than [A-Za-z0-9_] is escaped.
std::string QuoteMeta(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (!std::isalnum(u) && ch != '_') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

// A rule with %{NAME} templates: each replaced by the captured values as alternatives; not run
// when a name has no value, nor when no text holds a value of a template every match needs
// (the pattern is compiled per message, which costs more than looking).
int RunTemplated(const CompiledRule& c,
                 const std::map<std::string, std::vector<std::string>, std::less<>>& captures,
                 MessageText& text) {
  const Rule& r = *c.rule;
  const std::vector<std::string>* texts = nullptr;
  switch (r.type) {
    case RuleType::kUri:
      texts = &text.Uris();
      break;
    case RuleType::kBody:
      texts = &text.BodyLines();
      break;
    case RuleType::kRawBody:
      texts = &text.RawBodyChunks();
      break;
    default:
      return 0;  // SpamAssassin's shipped templates are all uri rules
  }
  for (const std::string& name : c.required_templates) {
    auto it = captures.find(name);
    if (it == captures.end()) return 0;
    const bool held = std::any_of(texts->begin(), texts->end(), [&](const std::string& t) {
      return std::any_of(it->second.begin(), it->second.end(),
                         // Without case: a superset of what the pattern, /i or not, finds.
                         [&](const std::string& v) { return ContainsIgnoreCase(t, v); });
    });
    if (!held) return 0;
  }
  std::string pattern = r.regex.pattern;
  for (const std::string& name : r.capture_templates) {
    auto it = captures.find(name);
    if (it == captures.end() || it->second.empty()) return 0;
    std::string alternatives = "(?:";
    for (size_t k = 0; k < it->second.size(); ++k) {
      if (k) alternatives += '|';
      alternatives += QuoteMeta(it->second[k]);
    }
    alternatives += ')';
    const std::string tag = "%{" + name + "}";
    for (size_t pos = 0; (pos = pattern.find(tag, pos)) != std::string::npos;) {
      if (pos > 0 && pattern[pos - 1] == '\\') {
        pos += tag.size();
        continue;
      }
      pattern.replace(pos, tag.size(), alternatives);
      pos += alternatives.size();
    }
  }
  auto compiled = Pattern::Compile(pattern, r.regex.flags, {}, /*jit=*/false);
  if (!compiled) return 0;
  int count = 0;
  for (const std::string& t : *texts) {
    if (!c.multiple) {
      if (compiled->Matches(t)) return 1;
      continue;
    }
    count += compiled->CountMatches(t, c.maxhits > 0 ? c.maxhits - count : 0);
    if (c.maxhits > 0 && count >= c.maxhits) break;
  }
  return count;
}

}  // namespace

ScanResult CompiledRuleset::Scan(const mime::Message& message, const Envelope& envelope) const {
  const Impl& impl = *impl_;
  const SaHeaderCacheScope header_cache;
  const LimitHitScope limit_hits;
  TextContext context{&impl.tlds, &impl.redirectors, &impl.boundaries};
  MessageText text(message, envelope, context);
  EvalInput eval_input(text, *impl.eval_config);
  text.SetRelays(ComputeRelayStrings(eval_input));

  // Lower-cased indexes of the texts, built on first use, for the literal prefilter.
  std::optional<TextIndex> body_index, rawbody_index, uri_index, full_index;
  auto list_index = [](std::optional<TextIndex>& index, const std::vector<std::string>& texts,
                       TextIndex::Grams grams) -> const TextIndex& {
    if (!index) index.emplace(texts, grams);
    return *index;
  };
  std::vector<uint32_t> candidates;
  CandidateCache body_candidates(impl.literal_sets, impl.literal_count),
      rawbody_candidates(impl.literal_sets, impl.literal_count),
      uri_candidates(impl.literal_sets, impl.literal_count), full_candidates(0, impl.literal_count);
  // Per rule: how often it hit (got_hit calls), and the value metas read (SpamAssassin's
  // tests_already_hit: the hit count, or a meta's own value).
  std::vector<int> hits(impl.rules.size(), 0);
  std::vector<double> values(impl.rules.size(), 0.0);
  std::vector<const std::optional<std::string>*> header_values(impl.header_slots, nullptr);
  // The prefilter, when ready: per group whether its text was scanned (1), could not be (-1),
  // or not yet (0); per rule whether it may match. In verify mode every rule runs and a rule the
  // prefilter would have skipped although it hits is reported.
  const std::shared_ptr<const PrefilterDatabases> prefilter =
      impl.prefilter->mode() == PrefilterMode::kOff ? nullptr : impl.prefilter->Get();
  const bool verify = impl.prefilter->mode() == PrefilterMode::kVerify;
  std::vector<uint8_t> may_match(prefilter ? impl.rules.size() : 0, 0);
  std::vector<int8_t> group_scanned(prefilter ? kGroupFirstHeader + impl.header_slots : 0, 0);
  RepeatCandidates repeat_candidates;
  // A list of texts joined with "\n", and where each text starts, for the prefilter.
  struct Joined {
    std::string text;
    std::vector<size_t> starts;
    bool built = false;
  } joined_body, joined_rawbody;
  auto join = [](Joined& j, const std::vector<std::string>& texts) -> Joined& {
    if (!j.built) {
      size_t size = 0;
      for (const std::string& t : texts) size += t.size() + 1;
      j.text.reserve(size);
      j.starts.reserve(texts.size());
      for (const std::string& t : texts) {
        j.starts.push_back(j.text.size());
        j.text += t;
        j.text += '\n';
      }
      j.built = true;
    }
    return j;
  };
  // False only when the prefilter tells that rule i cannot match the text of its group.
  auto may = [&](int i, std::string_view group_text, const std::vector<size_t>* starts) -> bool {
    if (!prefilter) return true;
    const int group = prefilter->GroupOf(static_cast<uint32_t>(i));
    if (group < 0) return true;
    int8_t& scanned = group_scanned[group];
    if (scanned == 0) {
      const bool scannable = group != kGroupBodyAscii || IsAscii(group_text);
      scanned = scannable && prefilter->Scan(group, group_text, starts, may_match.data(),
                                             &repeat_candidates)
                    ? 1
                    : -1;
    }
    return scanned < 0 || may_match[i] != 0;
  };
  // A list rule the prefilter may not skip: over the texts the prefilter names for it (repeated
  // groups), else as usual.
  auto match_list = [&](int i, const CompiledRule& c, const std::vector<std::string>& texts,
                        size_t skip_first, const TextIndex& index, CandidateCache& cache) {
    const std::vector<uint32_t>* only = nullptr;
    if (prefilter) {
      const int group = prefilter->GroupOf(static_cast<uint32_t>(i));
      if (group >= 0 && group_scanned[group] > 0) {
        only = repeat_candidates.Find(static_cast<uint32_t>(i));
      }
    }
    if (only == nullptr) return MatchIndexedTexts(c, texts, skip_first, index, cache, &candidates);
    const int count = MatchTexts(c, texts, skip_first, only);
    if (verify) {
      const int all = MatchIndexedTexts(c, texts, skip_first, index, cache, &candidates);
      if (all != count) {
        std::fprintf(stderr,
                     "mailsift: prefilter miss: rule %s (%d hits) was run on too few "
                     "texts (%d hits)\n",
                     c.rule->name.c_str(), all, count);
      }
      return all;
    }
    return count;
  };
  // A body or rawbody rule: 0 at once when the prefilter rules out the joined texts (*skipped
  // says so; in verify mode the rule runs all the same), else matched over the texts.
  auto run_list = [&](int i, const CompiledRule& c, const std::vector<std::string>& texts,
                      size_t skip_first, Joined& joined, std::optional<TextIndex>& index,
                      CandidateCache& cache, std::optional<int>* skipped) {
    if (prefilter) {
      const Joined& j = join(joined, texts);
      if (!may(i, j.text, &j.starts)) {
        *skipped = 0;
        if (!verify) return 0;
      }
    }
    // With the prefilter, the rules that get here have a likely match: no bitmaps.
    const TextIndex::Grams grams = prefilter ? TextIndex::Grams::kNone : TextIndex::Grams::kBuild;
    return match_list(i, c, texts, skip_first, list_index(index, texts, grams), cache);
  };
  // Named captures of the rules that define them (SpamAssassin's capture tags).
  std::map<std::string, std::vector<std::string>, std::less<>> captures;
  std::vector<std::pair<std::string, std::string>> named;
  for (int i : impl.run_order) {
    // A regex rule the prefilter has ruled out for a text it has scanned: decided without
    // reading the rule (0, or 1 for a negated header rule; hits and values start at 0).
    if (prefilter && !verify) {
      const int group = prefilter->GroupOf(static_cast<uint32_t>(i));
      if (group >= 0 && group_scanned[group] > 0 && may_match[i] == 0) {
        if (impl.negated_header[i]) {
          hits[i] = 1;
          values[i] = 1;
        }
        continue;
      }
    }
    const CompiledRule& c = impl.rules[i];
    if (c.skip) continue;
    const Rule& r = *c.rule;
    int count = 0;
    // Set when the prefilter would skip the rule: the count it then gets.
    std::optional<int> skipped;
    if (c.templated) {
      count = RunTemplated(c, captures, text);
    } else if (r.is_eval) {
      if (c.eval) {
        eval_input.set_rule_type(r.type);
        count = c.eval(eval_input, r.eval.args) ? 1 : 0;
      }
    } else {
      switch (r.type) {
        case RuleType::kHeader: {
          const std::optional<std::string>*& slot = header_values[c.header_slot];
          if (slot == nullptr) slot = &text.GetRef(c.header_request);
          const std::optional<std::string>& value = *slot;
          if (r.header.exists) {
            count = value.has_value() != r.header.negated ? 1 : 0;
            break;
          }
          if (value && !may(i, *value, nullptr)) {
            skipped = r.header.negated ? 1 : 0;
            if (!verify) {
              count = *skipped;
              break;
            }
          }
          static const std::string kEmpty;
          const std::string& subject =
              value ? *value : (r.header.if_unset ? *r.header.if_unset : kEmpty);
          if (r.defines_captures && !r.header.negated) {
            if (c.pattern->SearchCaptures(subject, &named)) {
              count = 1;
              for (auto& [name, value] : named) {
                auto& values = captures[name];
                if (!value.empty() &&
                    std::find(values.begin(), values.end(), value) == values.end()) {
                  values.push_back(std::move(value));
                }
              }
            }
          } else if (r.header.negated) {
            count = c.pattern->Matches(subject) ? 0 : 1;
          } else if (c.multiple) {
            count = c.pattern->CountMatches(subject, c.maxhits);
          } else {
            count = c.pattern->Matches(subject) ? 1 : 0;
          }
          break;
        }
        case RuleType::kBody:
          count = run_list(i, c, text.BodyLines(), c.nosubject ? 1 : 0, joined_body, body_index,
                           body_candidates, &skipped);
          break;
        case RuleType::kRawBody:
          count = run_list(i, c, text.RawBodyChunks(), 0, joined_rawbody, rawbody_index,
                           rawbody_candidates, &skipped);
          break;
        case RuleType::kUri:
          count = MatchIndexedTexts(c, text.Uris(), 0,
                                    list_index(uri_index, text.Uris(), TextIndex::Grams::kBuild),
                                    uri_candidates, &candidates);
          break;
        case RuleType::kFull: {
          if (!c.literals.empty()) {
            if (!full_index) full_index.emplace(text.Full());
            if (!full_candidates.MayContainAny(c, *full_index)) break;
          }
          const std::string_view full = text.Full();
          count = c.multiple ? c.pattern->CountMatches(full, c.maxhits)
                             : (c.pattern->Matches(full) ? 1 : 0);
          break;
        }
        case RuleType::kMimeHeader: {
          // Plugin/MIMEHeader.pm: each entity's last instance of the header (or if-unset);
          // the first entity with matches ends the rule; a negated rule always hits.
          if (r.header.negated) {
            count = 1;
            break;
          }
          const bool raw = r.header.HasModifier("raw");
          const int maxhits = c.maxhits > 0 ? c.maxhits : (c.multiple ? 1000 : 1);
          for (const SaEntity& e : text.MimeParts()) {
            std::optional<std::string> value;
            for (const SaHeader& h : e.headers) {
              if (h.name.size() == r.header.name.size() &&
                  std::equal(h.name.begin(), h.name.end(), r.header.name.begin(),
                             [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
                value = raw ? h.raw : h.decoded + "\n";
              }
            }
            if (!value && r.header.if_unset) value = *r.header.if_unset;
            count = c.pattern->CountMatches(value.value_or(std::string()), maxhits);
            if (count > 0) break;
          }
          break;
        }
        default:
          break;
      }
    }
    if (verify && skipped && count != *skipped) {
      std::fprintf(stderr,
                   "mailsift: prefilter miss: rule %s (%d hits) was flagged as unable to "
                   "match\n",
                   r.name.c_str(), count);
    }
    hits[i] = count;
    values[i] = count;
  }
  std::vector<double> meta_stack;
  meta_stack.reserve(64);
  for (size_t m = 0; m < impl.meta_order.size(); ++m) {
    const int i = impl.meta_order[m];
    const Impl::MetaHead& head = impl.meta_heads[m];
    bool any_input = false;
    for (uint32_t k = head.first; k < head.first + head.count; ++k) {
      if (values[impl.meta_inputs[k]] != 0) {
        any_input = true;
        break;
      }
    }
    // A true result is a hit whose value is the result (1 when not positive), as got_hit does.
    const double v =
        any_input ? EvalMeta(impl.rules[i].meta_program, values, meta_stack) : head.all_zero;
    hits[i] = v != 0 ? 1 : 0;
    values[i] = v == 0 ? 0.0 : v > 0 ? v : 1.0;
  }

  ScanResult result;
  result.required = impl.required;
  for (size_t i = 0; i < impl.rules.size(); ++i) {
    if (hits[i] == 0) continue;
    const CompiledRule& c = impl.rules[i];
    // Every hit of a `multiple` rule adds its score again.
    RuleHit hit{c.rule->name, hits[i], c.rule->IsSubRule() ? 0.0 : c.score * hits[i]};
    result.score += hit.score;
    result.hits.push_back(std::move(hit));
  }
  result.score = std::round(result.score * 1000) / 1000;
  result.regex_limit_hits = limit_hits.hits();
  return result;
}

}  // namespace mailsift::rules
