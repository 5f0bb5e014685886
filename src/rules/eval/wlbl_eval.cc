// rules/eval/wlbl_eval.cc — SpamAssassin 4.0.1's WLBLEval plugin (Plugin/WLBLEval.pm), natively.
//
// The URI-host part of WLBLEval (table WlblEvals): check_uri_host_listed,
// check_uri_host_in_blocklist and check_uri_host_in_welcomelist (with their 4.0
// blacklist/whitelist aliases), over uri_to_domain of every canonical URI except mailto: and
// the rule set's enlist_uri_host lists (EvalConfig::uri_host_lists).
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/eval/uri_eval.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// /^\d+\.\d+\.\d+\.\d+\z/
bool IsDottedQuad(std::string_view s) {
  size_t i = 0;
  for (int k = 0; k < 4; ++k) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
    if (k < 3) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

// The distinct hosts of the message's URIs (not mailto:), in their order.
std::vector<std::string> UriHosts(EvalInput& in) {
  std::vector<std::string> hosts;
  std::unordered_set<std::string> seen;
  for (const std::string& uri : in.uris()) {
    if (StartsWithIgnoreCase(uri, "mailto:")) continue;
    std::optional<std::pair<std::string, std::string>> dom = UriToDomain(in.config(), uri);
    if (!dom || !seen.insert(dom->second).second) continue;
    hosts.push_back(std::move(dom->second));
  }
  return hosts;
}

bool CheckUriHostListedIn(EvalInput& in, std::string_view list_name) {
  const EvalConfig* c = &in.config();
  if (c == nullptr) return false;
  auto list_it = c->uri_host_lists.find(std::string(list_name));
  if (list_it == c->uri_host_lists.end() || list_it->second.empty()) return false;
  const auto& list = list_it->second;
  std::optional<std::vector<std::string>>& hosts = in.memo().uri_hosts;
  if (!hosts) hosts = UriHosts(in);
  for (const std::string& host : *hosts) {
    std::vector<std::string> keys;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      keys.push_back(host.substr(1, host.size() - 2));
    } else if (IsDottedQuad(host)) {
      keys.push_back(host);
    } else if (!host.empty()) {
      std::string h = host;
      for (;;) {
        if (keys.size() > 10) keys.erase(keys.begin());
        keys.push_back(h);
        size_t dot = h.find('.');
        if (dot == std::string::npos) break;
        h.erase(0, dot + 1);
      }
    }
    for (const std::string& q : keys) {
      auto it = list.find(q);
      if (it == list.end()) continue;
      if (it->second) return true;
      break;  // the most specific entry says "not listed" for this host
    }
  }
  return false;
}

bool CheckUriHostListed(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* name = ArgOrNull(args, 0);
  return name != nullptr && CheckUriHostListedIn(in, *name);
}
bool CheckUriHostInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return CheckUriHostListedIn(in, "BLOCK");
}
bool CheckUriHostInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  return CheckUriHostListedIn(in, "WELCOME");
}

constexpr EvalEntry kEvals[] = {
    {"check_uri_host_listed", &CheckUriHostListed},
    {"check_uri_host_in_blocklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_blacklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_welcomelist", &CheckUriHostInWelcomelist},
    {"check_uri_host_in_whitelist", &CheckUriHostInWelcomelist},
};

}  // namespace

EvalTable WlblEvals() { return kEvals; }

}  // namespace mailsift::rules
