// rules/eval_table.cc — see eval_table.h.
#include "rules/eval_table.h"

#include <optional>
#include <unordered_map>

#include "rules/message_eval.h"

namespace mailsift::rules {

struct EvalShared {
  std::vector<std::string> freemail_domains;
};

struct EvalEnv::Cache {
  std::optional<MessageFacts> message_facts;
};

namespace {

// Plugins that need DNS, a network service or Bayes data: with local tests only and score set
// 0 their evals never hit.
bool IsNetworkOrBayes(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {
      "check_rbl", "check_dns", "check_uridnsbl", "check_dkim", "check_arc", "check_dmarc",
      "check_for_spf", "check_for_def_spf", "check_for_dkim", "check_for_def_dkim",
      "check_spf", "check_bayes", "check_razor", "check_pyzor", "check_hashbl", "check_askdns",
      "check_uri_host_listed", "check_senders_reputation", "check_fuz", "check_phishing",
      "check_uridnsbl", "check_rbl_sub", "check_rbl_txt", "check_dns_sender", "check_ips"};
  for (std::string_view p : kPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

const MessageFacts& FactsOf(EvalEnv& env) {
  if (!env.cache->message_facts) {
    env.cache->message_facts.emplace(ComputeMessageFacts(env.text.message()));
  }
  return *env.cache->message_facts;
}

}  // namespace

EvalFn FindEval(std::string_view name, EvalKind* kind) {
  if (const MessageEvalFunction* fn = FindMessageEval(name)) {
    *kind = EvalKind::kNative;
    MessageEvalFunction f = *fn;
    return [f](EvalEnv& env, const std::vector<std::string>& args) {
      MessageEvalInput in;
      in.message = &env.text.message();
      in.facts = &FactsOf(env);
      in.body_lines = &env.text.BodyLines();
      return f(in, args) ? 1 : 0;
    };
  }
  *kind = IsNetworkOrBayes(name) ? EvalKind::kNeverHits : EvalKind::kUnknown;
  return {};
}

std::shared_ptr<const EvalShared> BuildEvalShared(const Ruleset& ruleset) {
  auto shared = std::make_shared<EvalShared>();
  shared->freemail_domains = ruleset.SettingWords("freemail_domains");
  return shared;
}

std::unique_ptr<EvalEnv::Cache, void (*)(EvalEnv::Cache*)> NewEvalCache() {
  return {new EvalEnv::Cache(), [](EvalEnv::Cache* c) { delete c; }};
}

RelayStrings ComputeRelayStrings(EvalEnv& env) { return {}; }

}  // namespace mailsift::rules
