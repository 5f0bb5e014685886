// scan/spam_check.h — the SpamAssassin rule check: the generation's compiled ruleset.
//
// Load() reads the rule files named by the [spam] config (the first existing rule directory,
// then the site directory's *.pre and *.cf, as SpamAssassin does), refuses a ruleset with
// errors (every error with its file and line) and compiles it. The compiled ruleset is part of
// the generation's snapshot: a reload builds a new one, and the old generation keeps its own
// until it has drained.
//
// Thread-safety: immutable after Load; Run() is reentrant.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "config/config.h"
#include "rules/prefilter/multi_prefilter.h"
#include "scan/check.h"

namespace mailsift::scan {

class SpamCheck : public Check {
 public:
  // `prefilter`: how the ruleset's vectorscan prefilter is built or loaded (its cache).
  static Result<std::unique_ptr<SpamCheck>> Load(const config::Spam& config,
                                                 const rules::PrefilterOptions& prefilter);

  std::string_view name() const override { return "spam"; }
  CheckResult Run(const MessageInput& message) const override;

  const rules::CompiledRuleset& ruleset() const { return *ruleset_; }
  // What was loaded, for logs and status: "2946 rules from /usr/share/spamassassin, …".
  const std::string& summary() const { return summary_; }
  // FNV-1a of the rule and config files read (names and bytes), as 16 hex digits: tells which
  // rules a generation runs (`mailsift status`).
  const std::string& digest() const { return digest_; }

 private:
  SpamCheck() = default;
  config::Spam config_;
  std::shared_ptr<const rules::CompiledRuleset> ruleset_;
  std::string summary_;
  std::string digest_;
};

}  // namespace mailsift::scan
