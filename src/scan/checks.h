// scan/checks.h — the generation's checks, built from the config.
//
// BuildChecks() makes every check the config turns on, in the order the pipeline runs them:
// bad header, banned files, virus (clamd), spam (SpamAssassin's rules). Anything that fails to
// build (a rule file that does not parse, a banned pattern that does not compile, libmagic's
// database missing) is an error naming the key or file: check-config fails with it, and a new
// generation reports FAILED so that the running one keeps serving.
//
// Thread-safety: pure function.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "config/config.h"
#include "rules/prefilter/multi_prefilter.h"
#include "scan/check.h"

namespace mailsift::scan {

struct BuiltChecks {
  std::vector<std::unique_ptr<Check>> checks;
  std::vector<std::string> summaries;  // one line per check, for the log and check-config
  std::string rules_digest;            // the spam check's ruleset digest ("" without it)
};

// `prefilter`: how the spam check's vectorscan prefilter is built or loaded.
Result<BuiltChecks> BuildChecks(const config::Config& config,
                                const rules::PrefilterOptions& prefilter);

}  // namespace mailsift::scan
