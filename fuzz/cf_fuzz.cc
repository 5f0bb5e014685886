// libFuzzer target: the SpamAssassin .cf parser (one configuration text per input).
// Invariants: no crash, no sanitizer report, no runaway time or memory; every diagnostic names
// the input and a line inside it; every rule is found by its name; a regex rule's pattern parses
// back with its own delimiters unless replace_rules changed it; if-conditions evaluate or fail.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rules/cf/cf_condition.h"
#include "rules/cf/cf_parser.h"

using namespace mailsift::rules;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParserOptions options;
  options.max_include_depth = 0;  // never read files named by the input
  options.plugins = {"Mail::SpamAssassin::Plugin::ReplaceTags",
                     "Mail::SpamAssassin::Plugin::MIMEHeader"};
  CfParser parser(options);
  parser.ParseText(text, "fuzz.cf");
  LoadResult result = parser.Finish();

  int lines = 1;
  for (char c : text) lines += c == '\n';
  for (const auto* list : {&result.errors, &result.warnings}) {
    for (const Diagnostic& d : *list) {
      if (d.where.file != "fuzz.cf" || d.where.line < 0 || d.where.line > lines) std::abort();
    }
  }
  for (const Rule& rule : result.ruleset.rules()) {
    if (result.ruleset.Find(rule.name) != &rule) std::abort();
    bool has_regex = !rule.is_eval && rule.type != RuleType::kMeta &&
                     rule.type != RuleType::kEmpty && !rule.header.exists;
    if (has_regex && !rule.replaced) {
      std::string again;
      if (rule.regex.open_delimiter != '/') again += 'm';
      again += rule.regex.open_delimiter;
      again += rule.regex.pattern;
      again += rule.regex.close_delimiter;
      again += rule.regex.flags;
      auto parsed = ParseDelimitedRegex(again);
      if (!parsed || parsed->pattern != rule.regex.pattern) std::abort();
    }
    for (const std::string& ref : rule.meta_refs) {
      if (ref.empty()) std::abort();
    }
  }

  // The first line also as an if-condition and as a delimited regex.
  std::string_view first = text.substr(0, text.find('\n'));
  std::set<std::string, std::less<>> plugins = options.plugins;
  ConditionContext context{&plugins, nullptr, false};
  (void)EvaluateCondition(first, context);
  (void)ParseDelimitedRegex(first);
  (void)ParseEvalArgs(first);
  (void)MetaReferences(first);
  return 0;
}
