// scan/checks.cc — see checks.h.
#include "scan/checks.h"

#include <fmt/format.h>

#include "scan/bad_header_check.h"
#include "scan/banned_check.h"
#include "scan/spam_check.h"
#include "scan/virus_check.h"

namespace mailsift::scan {

Result<BuiltChecks> BuildChecks(const config::Config& config,
                                const rules::PrefilterOptions& prefilter) {
  BuiltChecks built;
  if (config.bad_header.enabled) {
    built.checks.push_back(BadHeaderCheck::Create(config.bad_header, BadHeaderCheck::Options()));
    built.summaries.push_back("bad-header check on");
  }
  if (config.banned.enabled) {
    auto banned = BannedCheck::Create(config.banned);
    if (!banned) return tl::unexpected(banned.error());
    built.checks.push_back(std::move(*banned));
    built.summaries.push_back(
        fmt::format("banned-file check: {} patterns", config.banned.patterns.size()));
  }
  if (!config.virus.clamd.empty()) {
    built.checks.push_back(std::make_unique<VirusCheck>(config.virus));
    built.summaries.push_back(fmt::format("virus check: clamd {}", config.virus.clamd));
  }
  if (config.spam.enabled) {
    auto spam = SpamCheck::Load(config.spam, prefilter);
    if (!spam) return tl::unexpected(spam.error());
    built.summaries.push_back("spam check: " + (*spam)->summary());
    built.rules_digest = (*spam)->digest();
    built.checks.push_back(std::move(*spam));
  }
  return built;
}

}  // namespace mailsift::scan
