// rules/cf/ruleset.h — the parsed form of a SpamAssassin rule set (the .cf language of SA 4.0.1).
//
// A Ruleset is what cf_parser.h produces after reading the .pre and .cf files, evaluating
// if/ifplugin blocks, applying redefinitions, default scores, tflags/priority fix-ups and
// replace_tag/replace_rules. It holds rule definitions as text (patterns exactly as written
// between their delimiters, flags separately, meta expressions as text plus the rule names they
// reference, eval calls split into function and arguments) and the non-rule directives as
// key/value lists. It compiles nothing and evaluates nothing: the regex compiler and the
// evaluator consume it.
//
// Thread-safety: plain values. A Ruleset is built by one thread and is immutable afterwards, so
// it may then be shared read-only between threads.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mailsift::rules {

// Where a line came from, for diagnostics and for rules ("file:line").
struct SourceLocation {
  std::string file;
  int line = 0;
};

// An error or warning produced while loading rules. ToString() gives "file:line: message".
struct Diagnostic {
  SourceLocation where;
  std::string message;
  std::string ToString() const;
};

// The rule types of SpamAssassin's Conf (TYPE_*_TESTS / *_EVALS). kEmpty is a rule that only
// exists through `reuse` or `askdns` (SA's TYPE_EMPTY_TESTS).
enum class RuleType { kHeader, kBody, kRawBody, kFull, kUri, kMeta, kMimeHeader, kEmpty };

std::string_view RuleTypeName(RuleType type);

// A delimited regex as written: `/re/flags`, `m{re}flags`, `m!re!flags`, `qr<re>flags`, …
// `pattern` is the text between the delimiters, unchanged (replace_rules may have substituted
// tags in it; `original_pattern` keeps the text as written). `flags` are the modifiers after the
// closing delimiter (SA allows [a-df-z]). SA compiles with `(?aa)` in effect besides these.
struct DelimitedRegex {
  std::string pattern;
  std::string original_pattern;
  std::string flags;
  char open_delimiter = '/';
  char close_delimiter = '/';
};

// Header selector of a header or mimeheader rule: `Name[:mod[:mod]] =~ /re/`, `exists:Name`.
// `name` keeps its case as written (header names are matched case-insensitively); pseudo-headers
// (ALL, ALL-TRUSTED, ALL-UNTRUSTED, ALL-INTERNAL, ALL-EXTERNAL, ToCc, MESSAGEID, EnvelopeFrom,
// X-Spam-Relays-*) are plain names here; IsPseudoHeader() tells them apart.
struct HeaderSelector {
  std::string name;
  std::vector<std::string> modifiers;   // raw, addr, name, host, domain, ip, revip, first, last
  bool exists = false;                  // `exists:Name`
  bool negated = false;                 // `!~`
  std::optional<std::string> if_unset;  // `[if-unset: value]`
  bool HasModifier(std::string_view m) const;
};

bool IsPseudoHeader(std::string_view header_name);

// `eval:function(args)`: SA's pack_eval_args splits the arguments (quoted strings with the
// quotes removed, or bare numbers/words/IP addresses).
struct EvalCall {
  std::string function;
  std::vector<std::string> args;
};

// One rule after all files are read. Which members are set depends on `type` and `is_eval`:
//   header regex: header + regex;  header exists: header;  body/rawbody/full/uri: regex;
//   mimeheader: header (modifiers at most "raw") + regex;  meta: meta_expression + meta_refs;
//   any type with is_eval: eval.
struct Rule {
  std::string name;
  RuleType type = RuleType::kEmpty;
  bool is_eval = false;
  bool is_rbl_eval = false;  // header eval whose function starts with check_rbl/check_dns
  std::string definition;    // the rule's text after its name, as written
  DelimitedRegex regex;
  HeaderSelector header;
  EvalCall eval;
  std::string meta_expression;
  std::vector<std::string> meta_refs;            // distinct rule names, in order of appearance
  std::vector<std::string> meta_rules_matching;  // rules_matching(GLOB) arguments
  bool defines_captures = false;                 // pattern has (?<NAME>…): priority -10000
  std::vector<std::string> capture_templates;    // %{NAME} used in the pattern
  bool replaced = false;                         // replace_rules changed the pattern

  std::string describe;
  // tflags tokens in order: {"multiple", ""}, {"maxhits", "5"}, {"nice", ""}, …
  std::vector<std::pair<std::string, std::string>> tflags;
  std::array<double, 4> scores{1.0, 1.0, 1.0, 1.0};  // score sets 0..3
  bool has_explicit_score = false;
  // SA's $conf->{priority} after its fix-ups (capture rules −10000, razor/pyzor fork −100,
  // metas pulling their dependencies down). RunPriority() adds the −100 that SA gives rules
  // with `tflags net` and priority 0 when it orders the tests.
  int priority = 0;
  SourceLocation where;

  bool HasTflag(std::string_view flag) const;
  std::optional<std::string> TflagValue(std::string_view flag) const;
  // maxhits=N, or 0 when not set.
  int MaxHits() const;
  bool IsSubRule() const { return name.rfind("__", 0) == 0; }
  int RunPriority() const { return priority != 0 ? priority : HasTflag("net") ? -100 : 0; }
};

class Ruleset {
 public:
  // Rules in order of first definition (a redefinition replaces in place).
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule* Find(std::string_view name) const;
  size_t CountType(RuleType type, std::optional<bool> is_eval = std::nullopt) const;

  // Non-rule directives (freemail_domains, welcomelist_from, util_rb_tld, redirector_pattern,
  // report, add_header, trusted_networks, …): each line's value in file order, keyed by the
  // directive name lower-cased with '-' turned into '_'.
  const std::map<std::string, std::vector<std::string>, std::less<>>& settings() const {
    return settings_;
  }
  const std::vector<std::string>& Setting(std::string_view key) const;
  // Whitespace-separated words of every line of a list directive, in order.
  std::vector<std::string> SettingWords(std::string_view key) const;

  // replace_tag / replace_pre / replace_inter / replace_post definitions (last one wins).
  const std::map<std::string, std::string, std::less<>>& replace_tags() const {
    return replace_tags_;
  }

  // Plugins loaded by loadplugin/tryplugin lines and by the caller (full Perl package names).
  const std::set<std::string, std::less<>>& plugins() const { return plugins_; }

 private:
  friend class CfParser;
  std::vector<Rule> rules_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::vector<std::string>, std::less<>> settings_;
  std::map<std::string, std::string, std::less<>> replace_tags_;
  std::set<std::string, std::less<>> plugins_;
};

}  // namespace mailsift::rules
