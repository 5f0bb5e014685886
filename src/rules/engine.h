// rules/engine.h — the compiled ruleset and the evaluator: a message in, SpamAssassin's verdict
// out.
//
// CompiledRuleset::Compile takes a parsed Ruleset (cf_parser.h), compiles every regex once
// (pattern.h; an invalid regex refuses the ruleset with its file and line), parses every meta
// expression, and resolves each eval rule to its native function. Scan() then evaluates one
// message with SpamAssassin 4.0.1's semantics (Plugin/Check.pm):
//   - a rule runs only when its score in score set 0 (no Bayes, no network) is not zero;
//   - header rules on get() of their header (modifiers, pseudo-headers, [if-unset: …],
//     exists:, !~), body rules per rendered line, rawbody per decoded chunk, full on the whole
//     message, uri per canonical URI, mimeheader per MIME entity; the first hit ends a rule
//     unless `tflags multiple` (then every match counts, up to maxhits);
//   - eval rules call native functions (relay, header, FreeMail, WLBL, HTML, MIME and body
//     evals); network and Bayes evals never hit, as with local tests only;
//   - metas last, on the hit counts of the rules they name (unknown or disabled rules count 0),
//     with Perl's arithmetic, comparison and boolean operators;
//   - the score is the sum of the set-0 scores of the rules that hit, `__` sub-rules excluded.
//   - capture templates: a rule defining (?<NAME>…) runs first; a rule using %{NAME} is built per
//     message with the captured values (quoted, as alternatives) and skipped when none was
//     captured (Check.pm capture_rules_replace).
//
// Body, rawbody and header regex rules are first checked by a multi-pattern prefilter
// (multi_prefilter.h): one Hyperscan scan per text names the rules that may match; the others
// are skipped. It is built in the background (or loaded from its cache) and only ever skips
// rules that cannot match, so results do not depend on it. MAILSIFT_PREFILTER=off turns it off,
// =verify runs every rule and reports any the prefilter would have skipped wrongly.
//
// Thread-safety: a CompiledRuleset is immutable after Compile (the prefilter is published
// atomically when its build finishes) and is shared read-only by all scan threads (it is part
// of a generation's snapshot). Scan() is reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "mime/message.h"
#include "rules/cf/ruleset.h"
#include "rules/message/message_text.h"
#include "rules/prefilter/multi_prefilter.h"

namespace mailsift::rules {

struct RuleHit {
  std::string name;
  int count = 0;
  double score = 0;  // set-0 score times the hit count (0 for `__` sub-rules)
};

struct ScanResult {
  double score = 0;
  double required = 5.0;
  std::vector<RuleHit> hits;  // every rule that hit, in ruleset order, sub-rules included
  uint64_t regex_limit_hits = 0;
  bool IsSpam() const { return score >= required; }
};

struct CompileStats {
  size_t rules = 0;
  size_t enabled = 0;
  size_t regexes = 0;
  size_t wide_regexes = 0;         // compiled with the 32-bit library (too large for link size 2)
  size_t prefiltered_regexes = 0;  // with required literals (skipped when none occurs)
  size_t evals_native = 0;
  size_t evals_never_hit = 0;             // network, Bayes and other evals without a native version
  size_t capture_template_rules = 0;      // %{NAME} rules, compiled per message from captures
  size_t multi_prefilter_candidates = 0;  // regex rules handed to the vectorscan prefilter
  std::vector<std::string> unknown_eval_functions;
};

struct CompileOptions {
  // The vectorscan prefilter (multi_prefilter.h): mode and cache directory. Only what is
  // passed in counts: the rules never read the environment (the program may,
  // generation/prefilter.h).
  PrefilterOptions prefilter;
};

class CompiledRuleset {
 public:
  ~CompiledRuleset();
  // Compiles `ruleset`. Errors (invalid regexes, broken metas) are all listed, one per line,
  // each naming the rule and its file:line. The vectorscan prefilter is loaded from its cache or
  // built in the background (options.prefilter): Compile does not wait for a build, and Scan
  // gives the same results before and after the prefilter is ready.
  static Result<std::shared_ptr<const CompiledRuleset>> Compile(
      Ruleset ruleset, const CompileOptions& options = CompileOptions());

  ScanResult Scan(const mime::Message& message, const Envelope& envelope = {}) const;

  const Ruleset& ruleset() const;
  const CompileStats& stats() const;
  double required_score() const;
  // The prefilter's state (ready, building, off, failed), description and Wait().
  const PrefilterSlot& prefilter() const;

  struct Impl;

 private:
  CompiledRuleset();
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::rules
