// rules/eval/eval_registry.cc — see eval_registry.h.
#include "rules/eval/eval_registry.h"

#include <string>
#include <unordered_map>

namespace mailsift::rules {

namespace {

// Plugins that need DNS, a network service or Bayes data: with local tests only and score set
// 0 their evals never hit.
bool IsNetworkOrBayes(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {"check_rbl",
                                                   "check_dns",
                                                   "check_uridnsbl",
                                                   "check_dkim",
                                                   "check_arc",
                                                   "check_dmarc",
                                                   "check_for_spf",
                                                   "check_for_def_spf",
                                                   "check_for_dkim",
                                                   "check_for_def_dkim",
                                                   "check_spf",
                                                   "check_bayes",
                                                   "check_razor",
                                                   "check_pyzor",
                                                   "check_hashbl",
                                                   "check_askdns",
                                                   "check_senders_reputation",
                                                   "check_fuz",
                                                   "check_phishing",
                                                   "check_uridnsbl",
                                                   "check_rbl_sub",
                                                   "check_rbl_txt",
                                                   "check_dns_sender",
                                                   "check_ips"};
  for (std::string_view p : kPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

const std::vector<EvalTable>& AllTables() {
  static const auto* kTables = new std::vector<EvalTable>{HeaderEvals(),
                                                          FreeMailEvals(),
                                                          HtmlEvals(),
                                                          MimeEvals(),
                                                          BodyEvals(),
                                                          ImageInfoEvals(),
                                                          UriEvals(),
                                                          HttpsMismatchEvals(),
                                                          VBounceEvals(),
                                                          WlblEvals(),
                                                          WelcomeListSubjectEvals(),
                                                          RelayEvals()};
  return *kTables;
}

// Every plugin's functions by name (no name is in two tables).
const std::unordered_map<std::string_view, EvalFunction>& Registry() {
  static const auto* kRegistry = [] {
    auto* registry = new std::unordered_map<std::string_view, EvalFunction>();
    for (EvalTable table : AllTables()) {
      for (const EvalEntry& e : table) registry->emplace(e.name, e.function);
    }
    return registry;
  }();
  return *kRegistry;
}

}  // namespace

EvalFunction FindEval(std::string_view name, EvalKind* kind) {
  const auto& registry = Registry();
  if (auto it = registry.find(name); it != registry.end()) {
    *kind = EvalKind::kNative;
    return it->second;
  }
  *kind = IsNetworkOrBayes(name) ? EvalKind::kNeverHits : EvalKind::kUnknown;
  return nullptr;
}

const EvalFunction* FindEvalIn(EvalTable table, std::string_view name) {
  for (const EvalEntry& e : table) {
    if (e.name == name) return &e.function;
  }
  return nullptr;
}

std::vector<std::string_view> EvalNamesIn(EvalTable table) {
  std::vector<std::string_view> names;
  for (const EvalEntry& e : table) names.push_back(e.name);
  return names;
}

}  // namespace mailsift::rules
