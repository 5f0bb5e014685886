// scan/spam_check.cc — see spam_check.h.
#include "scan/spam_check.h"

#include <filesystem>

#include <fmt/format.h>

#include "mime/message.h"
#include "rules/cf_parser.h"

namespace mailsift::scan {

Result<std::unique_ptr<SpamCheck>> SpamCheck::Load(const config::Spam& config) {
  std::vector<std::filesystem::path> dirs(config.rule_dirs.begin(), config.rule_dirs.end());
  std::error_code ec;
  std::string chosen;
  for (const auto& dir : dirs) {
    if (std::filesystem::is_directory(dir, ec)) {
      chosen = dir.string();
      break;
    }
  }
  if (chosen.empty()) {
    std::string list;
    for (const auto& d : config.rule_dirs) list += (list.empty() ? "" : ", ") + d;
    return Fail(fmt::format("spam.rule_dirs: none of the rule directories exists ({}); install "
                            "SpamAssassin's rules or set spam.enabled = false",
                            list));
  }
  rules::RulePaths paths = rules::StandardRulePaths(dirs, config.site_dir);
  rules::ParserOptions options;
  options.local_tests_only = true;
  auto ruleset = rules::LoadRuleset(paths, options);
  if (!ruleset) return Fail("spam rules: " + ruleset.error().message);
  auto compiled = rules::CompiledRuleset::Compile(std::move(*ruleset));
  if (!compiled) return Fail("spam rules: " + compiled.error().message);
  std::unique_ptr<SpamCheck> check(new SpamCheck());
  check->config_ = config;
  check->ruleset_ = std::move(*compiled);
  const auto& st = check->ruleset_->stats();
  check->summary_ = fmt::format("{} rules ({} enabled, {} regexes) from {} and {}", st.rules,
                                st.enabled, st.regexes, chosen, config.site_dir);
  return check;
}

CheckResult SpamCheck::Run(const MessageInput& message) const {
  CheckResult result;
  result.check = "spam";
  result.required = ruleset_->required_score();
  if (config_.max_scan_size > 0 && message.raw->size() > config_.max_scan_size) {
    result.skipped_reason = "size";
    return result;
  }
  mime::Message parsed = mime::ParseMessage(*message.raw);
  rules::ScanResult scan = ruleset_->Scan(parsed, message.envelope);
  result.scanned = true;
  result.score = scan.score;
  result.required = scan.required;
  result.hits = std::move(scan.hits);
  result.regex_limit_hits = scan.regex_limit_hits;
  return result;
}

}  // namespace mailsift::scan
