// rules/eval/eval_table.cc — see eval_table.h.
#include "rules/eval/eval_table.h"

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

}  // namespace

EvalFunction FindEval(std::string_view name, EvalKind* kind) {
  for (auto find : {&FindMiscEval, &FindMessageEval, &FindHeaderEval, &FindRelayEval}) {
    if (const EvalFunction* fn = find(name)) {
      *kind = EvalKind::kNative;
      return *fn;
    }
  }
  *kind = IsNetworkOrBayes(name) ? EvalKind::kNeverHits : EvalKind::kUnknown;
  return nullptr;
}

}  // namespace mailsift::rules
