// scan/spam_check.cc — see spam_check.h.
#include "scan/spam_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "mime/message.h"
#include "rules/cf/cf_parser.h"

namespace mailsift::scan {
namespace {

// FNV-1a over the names and contents of the files LoadRules reads from `paths` (directories:
// their *.pre / *.cf files in name order).
std::string DigestOf(const rules::RulePaths& paths) {
  uint64_t hash = kFnv1aOffset;
  auto mix = [&](std::string_view bytes) { hash = Fnv1a(bytes, hash); };
  auto add_path = [&](const std::filesystem::path& path, std::string_view extension) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        if (entry.path().extension() == extension) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else if (std::filesystem::exists(path, ec)) {
      files.push_back(path);
    }
    for (const auto& file : files) {
      mix(file.string());
      std::ifstream in(file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      mix(text.str());
    }
  };
  for (const auto& p : paths.pre_paths) add_path(p, ".pre");
  for (const auto& p : paths.rule_paths) add_path(p, ".cf");
  return fmt::format("{:016x}", hash);
}

}  // namespace

Result<std::unique_ptr<SpamCheck>> SpamCheck::Load(const config::Spam& config,
                                                   const rules::PrefilterOptions& prefilter) {
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
    return Fail(
        fmt::format("spam.rule_dirs: none of the rule directories exists ({}); install "
                    "SpamAssassin's rules or set spam.enabled = false",
                    list));
  }
  rules::RulePaths paths = rules::StandardRulePaths(dirs, config.site_dir);
  std::string digest = DigestOf(paths);
  rules::ParserOptions options;
  options.local_tests_only = true;
  auto ruleset = rules::LoadRuleset(paths, options);
  if (!ruleset) return Fail("spam rules: " + ruleset.error().message);
  rules::CompileOptions compile_options;
  compile_options.prefilter = prefilter;
  auto compiled = rules::CompiledRuleset::Compile(std::move(*ruleset), compile_options);
  if (!compiled) return Fail("spam rules: " + compiled.error().message);
  std::unique_ptr<SpamCheck> check(new SpamCheck());
  check->config_ = config;
  check->ruleset_ = std::move(*compiled);
  const auto& st = check->ruleset_->stats();
  check->digest_ = digest;
  check->summary_ = fmt::format("{} rules ({} enabled, {} regexes) from {} and {}, digest {}",
                                st.rules, st.enabled, st.regexes, chosen, config.site_dir, digest);
  return check;
}

CheckResult SpamCheck::Run(const MessageInput& message) const {
  CheckResult result;
  result.check = "spam";
  result.kind = CheckKind::kSpam;
  result.required = ruleset_->required_score();
  if (config_.max_scan_size > 0 && message.raw->size() > config_.max_scan_size) {
    result.skipped_reason = "size";
    return result;
  }
  rules::ScanResult scan = ruleset_->Scan(message.Parsed(), message.envelope);
  result.scanned = true;
  result.score = scan.score;
  result.required = scan.required;
  result.hits = std::move(scan.hits);
  result.regex_limit_hits = scan.regex_limit_hits;
  return result;
}

}  // namespace mailsift::scan
