// rules/eval/eval_table.cc — see eval_table.h.
#include "rules/eval/eval_table.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "rules/eval/header_eval.h"
#include "rules/eval/message_eval.h"
#include "rules/eval/misc_eval.h"
#include "rules/eval/relay_eval.h"
#include "rules/message/received.h"

namespace mailsift::rules {

struct EvalShared {
  std::shared_ptr<const HeaderEvalConfig> header_config;
  std::shared_ptr<const MiscEvalConfig> misc_config;
  TrustOptions trust;
};

struct EvalEnv::Cache {
  std::optional<MessageFacts> message_facts;
  std::optional<RelayPath> relays;
  std::optional<std::optional<std::string>> envelope_from;
  std::optional<std::string> from_addr, envelope_from_addr;
  std::optional<HeaderEvalInput> header_input;
  std::optional<ImageFacts> images;
  std::optional<std::vector<std::vector<HtmlAnchor>>> html_anchors;
  std::optional<std::string> subject;
  std::optional<std::vector<std::string>> uri_hosts;
};

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

const MessageFacts& FactsOf(EvalEnv& env) {
  if (!env.cache->message_facts) {
    MessageText& text = env.text;
    env.cache->message_facts.emplace(ComputeMessageFacts(
        text.message(), [&text](std::string_view html) { return text.RenderedHtml(html); }));
  }
  return *env.cache->message_facts;
}

const RelayPath& RelaysOf(EvalEnv& env) {
  if (!env.cache->relays) {
    env.cache->relays.emplace(
        AnalyzeReceivedHeaders(env.text.message().headers(), env.shared.trust));
  }
  return *env.cache->relays;
}

// SpamAssassin's EnvelopeFrom: the SMTP envelope when known, else its guess from the headers.
const std::optional<std::string>& EnvelopeFromOf(EvalEnv& env) {
  if (!env.cache->envelope_from) {
    if (!env.text.envelope().mail_from.empty()) {
      env.cache->envelope_from.emplace(env.text.envelope().mail_from);
    } else {
      env.cache->envelope_from.emplace(
          GuessEnvelopeFrom(env.text.message().headers(), &RelaysOf(env)));
    }
  }
  return *env.cache->envelope_from;
}

std::string FirstAddress(const std::vector<std::string>& addresses) {
  return addresses.empty() ? std::string() : addresses.front();
}

const HeaderEvalInput& HeaderInputOf(EvalEnv& env) {
  if (env.cache->header_input) return *env.cache->header_input;
  HeaderEvalInput in;
  in.headers = &env.text.message().headers();
  in.config = env.shared.header_config.get();
  in.envelope_from = EnvelopeFromOf(env);
  in.relays = &RelaysOf(env);
  in.body_text = env.text.BodyLines();
  for (const auto& [index, html] : env.text.HtmlParts()) {
    for (const mime::HtmlUri& u : html.uris) {
      if (u.tag == "a") in.anchor_uris.push_back(u.uri);
    }
  }
  return env.cache->header_input.emplace(std::move(in));
}

int RunMiscEval(MiscEvalFunction f, EvalEnv& env, const std::vector<std::string>& args) {
  const MessageFacts& facts = FactsOf(env);
  EvalEnv::Cache& cache = *env.cache;
  if (!cache.images) cache.images.emplace(ComputeImageFacts(facts));
  if (!cache.html_anchors) {
    std::vector<std::vector<HtmlAnchor>> anchors;
    for (const auto& html : facts.html_all) {
      anchors.push_back(PairAnchors(html.anchor_hrefs, html.anchors));
    }
    cache.html_anchors.emplace(std::move(anchors));
  }
  if (!cache.subject) cache.subject.emplace(env.text.Get("Subject").value_or(std::string()));
  MiscEvalInput in;
  in.facts = &facts;
  in.message = &env.text.message();
  in.config = env.shared.misc_config.get();
  in.images = &*cache.images;
  in.subject = &*cache.subject;
  in.uris = &env.text.Uris();
  in.uri_hosts = &cache.uri_hosts;
  in.html_anchors = &*cache.html_anchors;
  in.body_lines = &env.text.BodyLines();
  in.eval_text =
      env.rule_type == RuleType::kRawBody ? &env.text.RawBodyChunks() : &env.text.BodyLines();
  return f(in, args) ? 1 : 0;
}

}  // namespace

EvalFn FindEval(std::string_view name, EvalKind* kind) {
  if (const MiscEvalFunction* fn = FindMiscEval(name)) {
    *kind = EvalKind::kNative;
    MiscEvalFunction f = *fn;
    return [f](EvalEnv& env, const std::vector<std::string>& args) {
      return RunMiscEval(f, env, args);
    };
  }
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
  if (const HeaderEvalFunction* fn = FindHeaderEval(name)) {
    *kind = EvalKind::kNative;
    HeaderEvalFunction f = *fn;
    return [f](EvalEnv& env, const std::vector<std::string>& args) {
      return f(HeaderInputOf(env), args) ? 1 : 0;
    };
  }
  const auto& relay_names = RelayEvalFunctionNames();
  if (std::find(relay_names.begin(), relay_names.end(), name) != relay_names.end()) {
    *kind = EvalKind::kNative;
    std::string function(name);
    return [function](EvalEnv& env, const std::vector<std::string>& args) {
      if (!env.cache->from_addr) {
        env.cache->from_addr =
            FirstAddress(HeaderAddresses(env.text.message().headers(), "From", Instance::kAll));
        const auto& envelope = EnvelopeFromOf(env);
        std::vector<ParsedAddress> parsed =
            envelope ? ParseHeaderAddresses(*envelope) : std::vector<ParsedAddress>();
        env.cache->envelope_from_addr = parsed.empty() ? std::string() : parsed.front().address;
      }
      RelayEvalInput in{RelaysOf(env), env.text.message().headers(), *env.cache->from_addr,
                        *env.cache->envelope_from_addr};
      return RunRelayEval(function, args, in).value_or(false) ? 1 : 0;
    };
  }
  *kind = IsNetworkOrBayes(name) ? EvalKind::kNeverHits : EvalKind::kUnknown;
  return {};
}

std::shared_ptr<const EvalShared> BuildEvalShared(const Ruleset& ruleset) {
  auto shared = std::make_shared<EvalShared>();
  HeaderEvalSettings settings;
  auto words = [&](std::string_view key) { return ruleset.SettingWords(key); };
  auto append = [](std::vector<std::string>& to, std::vector<std::string> from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  settings.freemail_domains = words("freemail_domains");
  settings.freemail_welcomelist = words("freemail_welcomelist");
  append(settings.freemail_welcomelist, words("freemail_whitelist"));
  auto last_int = [&](std::string_view key, int fallback) {
    const auto& v = ruleset.Setting(key);
    return v.empty() ? fallback : std::atoi(v.back().c_str());
  };
  settings.freemail_max_body_emails = last_int("freemail_max_body_emails", 5);
  settings.freemail_max_body_freemails = last_int("freemail_max_body_freemails", 3);
  settings.freemail_skip_when_over_max = last_int("freemail_skip_when_over_max", 1) != 0;
  settings.freemail_skip_bulk_envfrom = last_int("freemail_skip_bulk_envfrom", 1) != 0;
  // Named address lists: "enlist_addrlist (NAME) glob …", plus the directive lists.
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  auto list_for = [&](const std::string& name) -> std::vector<std::string>& {
    for (auto& [n, globs] : lists) {
      if (n == name) return globs;
    }
    lists.emplace_back(name, std::vector<std::string>());
    return lists.back().second;
  };
  for (const std::string& line : ruleset.Setting("enlist_addrlist")) {
    size_t open = line.find('('), close = line.find(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::string name = line.substr(open + 1, close - open - 1);
    std::string rest = line.substr(close + 1);
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t start = rest.find_first_not_of(" \t", pos);
      if (start == std::string::npos) break;
      size_t end = rest.find_first_of(" \t", start);
      list_for(name).push_back(rest.substr(start, end - start));
      pos = end == std::string::npos ? rest.size() : end;
    }
  }
  for (auto [key, old_key] : {std::pair{"welcomelist_from", "whitelist_from"},
                              {"blocklist_from", "blacklist_from"},
                              {"welcomelist_to", "whitelist_to"},
                              {"blocklist_to", "blacklist_to"},
                              {"more_spam_to", "more_spam_to"},
                              {"all_spam_to", "all_spam_to"}}) {
    std::vector<std::string>& globs = list_for(key);
    append(globs, words(key));
    if (std::string_view(old_key) != key) append(globs, words(old_key));
  }
  settings.address_lists = std::move(lists);
  auto with_relay = [&](std::string_view key, std::string_view old_key) {
    std::vector<AddressWithRelay> out;
    std::vector<std::string> lines = ruleset.Setting(key);
    const auto& old_lines = ruleset.Setting(old_key);
    lines.insert(lines.end(), old_lines.begin(), old_lines.end());
    for (const std::string& line : lines) {
      size_t space = line.find_first_of(" \t");
      if (space == std::string::npos) continue;
      size_t domain = line.find_first_not_of(" \t", space);
      if (domain == std::string::npos) continue;
      out.push_back({line.substr(0, space), line.substr(domain)});
    }
    return out;
  };
  settings.welcomelist_from_rcvd = with_relay("welcomelist_from_rcvd", "whitelist_from_rcvd");
  settings.def_welcomelist_from_rcvd =
      with_relay("def_welcomelist_from_rcvd", "def_whitelist_from_rcvd");
  settings.welcomelist_allows_relays = words("welcomelist_allows_relays");
  if (!ruleset.Setting("ok_locales").empty()) settings.ok_locales = words("ok_locales");
  settings.valid_tlds = words("util_rb_tld");
  settings.two_level_domains = words("util_rb_2tld");
  settings.three_level_domains = words("util_rb_3tld");
  shared->header_config = HeaderEvalConfig::Build(settings);
  shared->misc_config = MiscEvalConfig::Build(MiscEvalSettingsFromRuleset(ruleset));
  shared->trust.trusted_networks = words("trusted_networks");
  shared->trust.internal_networks = words("internal_networks");
  shared->trust.msa_networks = words("msa_networks");
  if (!ruleset.Setting("originating_ip_headers").empty()) {
    shared->trust.originating_ip_headers = words("originating_ip_headers");
  }
  return shared;
}

std::unique_ptr<EvalEnv::Cache, void (*)(EvalEnv::Cache*)> NewEvalCache() {
  return {new EvalEnv::Cache(), [](EvalEnv::Cache* c) { delete c; }};
}

RelayStrings ComputeRelayStrings(EvalEnv& env) {
  const RelayPath& path = RelaysOf(env);
  const mime::Headers& headers = env.text.message().headers();
  RelayStrings out;
  out.computed = true;
  out.trusted = path.trusted_str;
  out.untrusted = path.untrusted_str;
  out.internal = path.internal_str;
  out.external = path.external_str;
  out.last_trusted_relay_index = path.last_trusted_relay_index;
  out.last_internal_relay_index = path.last_internal_relay_index;
  out.all_trusted = ReceivedRangeText(headers, path, ReceivedRange::kAllTrusted);
  out.all_untrusted = ReceivedRangeText(headers, path, ReceivedRange::kAllUntrusted);
  out.all_internal = ReceivedRangeText(headers, path, ReceivedRange::kAllInternal);
  out.all_external = ReceivedRangeText(headers, path, ReceivedRange::kAllExternal);
  out.envelope_from = EnvelopeFromOf(env);
  return out;
}

}  // namespace mailsift::rules
