// rules/cf/cf_parser.h — reads SpamAssassin 4.0.1 configuration (.pre and .cf files) into a
// Ruleset.
//
// The line language follows Mail::SpamAssassin::Conf::Parser: `#` starts a comment unless
// written `\#`; leading and trailing whitespace is removed; there are no line continuations (SA
// splits on "\n" and reads every line on its own); `lang xx` lines count only when the
// configured language starts with xx; directive names are case-insensitive with '-' read as '_'.
// `if`/`ifplugin`/`else`/`endif` are evaluated (cf_condition.h) against SA 4.0.1's features and
// the plugins loaded so far by `loadplugin`/`tryplugin` (so the .pre files decide, as in SA);
// `include` is relative to the including file; `require_version` other than 4.000001 skips the
// rest of the file. A directory is read as its files ending in the extension, sorted by name
// (`updates_spamassassin_org.cf` first, as SA does), each file at most once.
//
// At the end (Finish) SA's finish_parsing steps run: rules without a score get 1.0 (0.01 for
// T_ rules, negated for `tflags nice`), metas inherit `net` from their direct dependencies,
// priorities are fixed up (net → −100, capture rules → −10000, metas pull their dependencies
// down), and replace_rules substitutes replace_tag/pre/inter/post into the listed patterns
// (only when the ReplaceTags plugin is loaded).
//
// Problems never abort reading and nothing here asserts on file content:
//   errors   — unbalanced if/else/endif, malformed rule lines, bad rule names, regexes with bad
//              delimiters or flags, bad eval arguments, invalid if conditions, unreadable
//              include files; each names file and line, and the rule concerned is dropped;
//   warnings — unknown directives (one per directive name), require_version mismatches.
// A caller refuses the ruleset when `errors` is not empty (see LoadRuleset).
//
// Thread-safety: a CfParser is used by one thread; separate parsers are independent.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "rules/cf/cf_condition.h"
#include "rules/cf/ruleset.h"

namespace mailsift::rules {

struct ParserOptions {
  std::string language = "en_US";              // LANGUAGE/LC_ALL/LANG as SA reads it; C → en_US
  bool local_tests_only = false;               // value of `if (local_tests_only)`
  std::set<std::string, std::less<>> plugins;  // plugins loaded before any file is read
  size_t max_include_depth = 20;
};

// Parses a regex written with delimiters (`/re/i`, `m{re}`, `m!re!`, `qr<re>`), as SA's
// Util::compile_regexp checks it: known delimiters, a matching end delimiter followed only by
// flags in [a-df-z], no unescaped delimiter inside (for non-bracket delimiters), no `(?{`.
Result<DelimitedRegex> ParseDelimitedRegex(std::string_view text);

// Splits eval arguments as SA's pack_eval_args does ("'a', 5, \"b c\"" → a, 5, b c).
Result<std::vector<std::string>> ParseEvalArgs(std::string_view args);

// Rule names a meta expression references, in order, without duplicates.
std::vector<std::string> MetaReferences(std::string_view expression);

struct LoadResult {
  Ruleset ruleset;
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
};

class CfParser {
 public:
  explicit CfParser(ParserOptions options = {});

  // Reads one file, or a directory's files ending in `extension` (".cf" or ".pre"). A path that
  // does not exist is skipped silently, as SA does.
  void ReadPath(const std::filesystem::path& path, std::string_view extension);
  // Parses configuration text as if it were the file `name` (includes resolve against its
  // directory).
  void ParseText(std::string_view text, const std::string& name);

  // Runs the finish_parsing steps and hands over the result. The parser is spent afterwards.
  LoadResult Finish();

 private:
  struct IfFrame {
    bool outer_skip;  // skip state before this if
    int line;
  };
  struct ParseState;

  void ParseFileAt(const std::filesystem::path& path, size_t depth);
  void ParseTextAt(std::string_view text, const std::string& name, size_t depth);
  void HandleLine(std::string_view line, ParseState& state, size_t depth);
  void Directive(const std::string& key, std::string_view value, const SourceLocation& where);
  void DefineRule(const std::string& key, std::string_view value, const SourceLocation& where);
  void AddRule(Rule rule);
  void Error(const SourceLocation& where, std::string message);
  void Warn(const SourceLocation& where, std::string message);

  void ApplyReplaceTags();
  void FixTflagsAndPriorities();

  ParserOptions options_;
  LoadResult result_;
  std::set<std::string, std::less<>> compat_;
  std::unordered_set<std::string> files_read_;
  std::unordered_set<std::string> warned_keys_;
  // Attributes kept apart from rules (SA keeps them in their own hashes): a redefinition keeps
  // them, and they may come before the rule.
  std::unordered_map<std::string, std::string> describe_;
  std::unordered_map<std::string, std::string> tflags_;
  std::unordered_map<std::string, std::array<double, 4>> scores_;
  std::unordered_map<std::string, int> priority_;
  std::vector<std::string> replace_rules_;
  std::map<std::string, std::string, std::less<>> replace_pre_, replace_inter_, replace_post_;
  std::string replace_start_ = "<", replace_end_ = ">";
};

// The usual SA layout: the first existing of `default_rule_dirs` (sa-update's
// /var/lib/spamassassin/4.000001 before /usr/share/spamassassin), then `site_dir`'s *.cf; the
// .pre files come from `site_dir` (and the chosen default dir), read first.
struct RulePaths {
  std::vector<std::filesystem::path> pre_paths;
  std::vector<std::filesystem::path> rule_paths;
};
RulePaths StandardRulePaths(const std::vector<std::filesystem::path>& default_rule_dirs,
                            const std::filesystem::path& site_dir);

// Reads every pre path (*.pre) then every rule path (*.cf) and finishes.
LoadResult LoadRules(const RulePaths& paths, ParserOptions options = {});

// As LoadRules, but refuses a ruleset with errors: the Error lists them all, one per line.
Result<Ruleset> LoadRuleset(const RulePaths& paths, ParserOptions options = {});

}  // namespace mailsift::rules
