// rules/eval/wlbl_eval.cc — SpamAssassin 4.0.1's WLBLEval plugin (Plugin/WLBLEval.pm), natively.
//
// WLBLEval's evals (table WlblEvals; the 4.0 whitelist/blacklist names are aliases):
//   address lists  check_from_in_list, check_replyto_in_list, check_to_in_list,
//                  check_mailfrom_matches_rcvd, check_from_in_(welcome|block|default_welcome)list
//                  and check_to_in_* over the rule set's enlist_addrlist and welcomelist_from
//                  family (EvalConfig::address_lists, *_from_rcvd with the relays consulted);
//   URI hosts      check_uri_host_listed, check_uri_host_in_blocklist,
//                  check_uri_host_in_welcomelist over uri_to_domain of every canonical URI
//                  except mailto: and the enlist_uri_host lists (EvalConfig::uri_host_lists).
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/eval/header_access.h"
#include "rules/eval/uri_eval.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// ---- address lists

bool InList(const std::vector<std::string>& list, const std::string& addr) {
  std::string lc = ToLowerAscii(addr);
  for (const std::string& g : list) {
    if (g == lc || AddressGlobMatches(g, lc)) return true;
  }
  return false;
}

const std::vector<std::string>& CachedAllFromAddresses(EvalInput& in) {
  if (!in.memo().all_from) in.memo().all_from = AllFromAddresses(in);
  return *in.memo().all_from;
}

const std::vector<std::string>& CachedAllToAddresses(EvalInput& in) {
  if (!in.memo().all_to) in.memo().all_to = AllToAddresses(in);
  return *in.memo().all_to;
}

// Whether one of `addresses` matches a glob of the address list `list_name`.
bool AnyInList(const std::vector<std::string>* list, const std::vector<std::string>& addresses) {
  for (const std::string& a : addresses) {
    if (InList(*list, a)) return true;
  }
  return false;
}

bool FromInNamedList(EvalInput& in, std::string_view list_name) {
  const std::vector<std::string>* list = in.config().AddressList(list_name);
  return list != nullptr && AnyInList(list, CachedAllFromAddresses(in));
}

bool ToInNamedList(EvalInput& in, std::string_view list_name) {
  const std::vector<std::string>* list = in.config().AddressList(list_name);
  return list != nullptr && AnyInList(list, CachedAllToAddresses(in));
}

bool CheckFromInList(EvalInput& in, const std::vector<std::string>& args) {
  return FromInNamedList(in, ArgView(args, 0));
}
bool CheckToInList(EvalInput& in, const std::vector<std::string>& args) {
  return ToInNamedList(in, ArgView(args, 0));
}
bool CheckReplytoInList(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig& cfg = in.config();
  const std::vector<std::string>* list = cfg.AddressList(ArgView(args, 0));
  if (list == nullptr) return false;
  std::string replyto = FirstOrEmpty(HeaderAddresses(in.headers(), "Reply-To"));
  return !replyto.empty() && InList(*list, replyto);
}
bool CheckFromInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return FromInNamedList(in, "blocklist_from");
}
bool CheckToInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "blocklist_to");
}
bool CheckToInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "welcomelist_to");
}
bool CheckToInMoreSpam(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "more_spam_to");
}
bool CheckToInAllSpam(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "all_spam_to");
}

// Dotted-quad text to a 32-bit number.
std::optional<uint32_t> ParseIpv4(std::string_view s) {
  uint32_t v = 0;
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t dot = s.find('.', pos);
    std::string_view p = s.substr(pos, dot == std::string_view::npos ? s.npos : dot - pos);
    std::optional<uint64_t> n = ParseUnsigned(p);
    if (!n || *n > 255 || p.empty() || p.size() > 3) return std::nullopt;
    v = (v << 8) | static_cast<uint32_t>(*n);
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (parts != 4) return std::nullopt;
  return v;
}

// The relays SA's WLBLEval consults: the last untrusted one, or else all trusted ones.
std::vector<const Relay*> WlblRelays(EvalInput& in) {
  std::vector<const Relay*> relays;
  if (!in.relays().untrusted.empty()) {
    relays.push_back(&in.relays().untrusted.front());
  } else {
    for (const Relay& r : in.relays().trusted) relays.push_back(&r);
  }
  return relays;
}

// _check_welcomelist_rcvd: 1 match, -1 address matched but relay did not, 0 no address match.
int CheckWelcomelistRcvd(EvalInput& in, const std::vector<AddressWithRelay>& list,
                         const std::string& addr_in) {
  std::vector<const Relay*> relays = WlblRelays(in);
  if (relays.empty()) return 0;
  std::string addr = ToLowerAscii(addr_in);
  int found_forged = 0;
  static const PerlRegex kBracket(R"(^\[(.*)\](/\d{1,3})?\z)", kDotAll);
  for (const AddressWithRelay& entry : list) {
    if (!AddressGlobMatches(entry.address, addr)) continue;
    bool match = false;
    for (const Relay* r : relays) {
      std::vector<Span> g;
      if (kBracket.Search(entry.domain, 0, &g)) {
        std::string wl_ip(GroupText(entry.domain, g, 1));
        if (HasGroup(g, 2)) wl_ip += std::string(GroupText(entry.domain, g, 2));
        const std::string& rly_ip = r->ip;
        if (rly_ip.empty()) continue;
        static const PerlRegex kQuad(R"(^\d+\.\d+\.\d+\.\d+\z)", kDotAll);
        static const PerlRegex kClassful(R"(^[\d\.]+\z)", kDotAll);
        if (kQuad.Matches(wl_ip)) {
          if (wl_ip == rly_ip) match = true;
        } else if (kClassful.Matches(wl_ip)) {
          while (!wl_ip.empty() && wl_ip.back() == '.') wl_ip.pop_back();
          wl_ip += '.';
          if (rly_ip.rfind(wl_ip, 0) == 0) match = true;
        } else {
          // IPv4 prefix length (IPv6 welcomelist entries are not matched here).
          size_t slash = wl_ip.find('/');
          std::optional<uint32_t> net = ParseIpv4(wl_ip.substr(0, slash));
          std::optional<uint32_t> ip = ParseIpv4(rly_ip);
          if (net && ip && slash != std::string::npos) {
            uint64_t len = ParseUnsigned(wl_ip.substr(slash + 1)).value_or(33);
            if (len <= 32) {
              uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
              if ((*net & mask) == (*ip & mask)) match = true;
            }
          }
        }
      } else {
        const std::string& rdns = r->lc_rdns;
        const std::string& d = entry.domain;
        if (rdns.size() >= d.size() && rdns.compare(rdns.size() - d.size(), d.size(), d) == 0 &&
            (rdns.size() == d.size() || rdns[rdns.size() - d.size() - 1] == '.')) {
          match = true;
        }
      }
      if (match) break;
    }
    if (match) return 1;
    found_forged = -1;
  }
  if (found_forged != 0) {
    for (const std::string& g : in.config().welcomelist_allows_relays) {
      if (AddressGlobMatches(g, addr)) return 0;
    }
  }
  return found_forged;
}

bool CheckFromInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& cfg = in.config();
  const std::vector<std::string>* list = cfg.AddressList("welcomelist_from");
  for (const std::string& a : CachedAllFromAddresses(in)) {
    if (list != nullptr && InList(*list, a)) return true;
    if (CheckWelcomelistRcvd(in, cfg.welcomelist_from_rcvd, a) == 1) return true;
  }
  return false;
}

bool CheckFromInDefaultWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& cfg = in.config();
  for (const std::string& a : CachedAllFromAddresses(in)) {
    if (CheckWelcomelistRcvd(in, cfg.def_welcomelist_from_rcvd, a) == 1) return true;
  }
  return false;
}

bool CheckMailfromMatchesRcvd(EvalInput& in, const std::vector<std::string>&) {
  std::string sender = FirstOrEmpty(EnvelopeFromAddresses(in));
  if (sender.empty()) return false;
  static const PerlRegex kDomain(R"( \@ ( [^\@]+ \. [^\@]+ ) \z)", kExtended);
  std::vector<Span> g;
  if (!kDomain.Search(sender, 0, &g)) return false;
  std::string addr_domain = ToLowerAscii(GroupText(sender, g, 1));
  std::vector<const Relay*> relays = WlblRelays(in);
  if (relays.empty()) return false;
  std::string adrd = in.config().boundaries.SplitDomain(addr_domain).second;
  for (const Relay* r : relays) {
    const std::string& rdns = r->lc_rdns;
    if (rdns.empty()) continue;
    if (adrd == in.config().boundaries.SplitDomain(rdns).second) return true;
  }
  return false;
}

// ---- URI hosts

// /^\d+\.\d+\.\d+\.\d+\z/
bool IsDottedQuad(std::string_view s) {
  const size_t n = DottedQuadLength(s, 0);
  return n != 0 && n == s.size();
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
  const EvalConfig& c = in.config();
  auto list_it = c.uri_host_lists.find(std::string(list_name));
  if (list_it == c.uri_host_lists.end() || list_it->second.empty()) return false;
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
    {"check_from_in_list", &CheckFromInList},
    {"check_to_in_list", &CheckToInList},
    {"check_replyto_in_list", &CheckReplytoInList},
    {"check_mailfrom_matches_rcvd", &CheckMailfromMatchesRcvd},
    {"check_from_in_welcomelist", &CheckFromInWelcomelist},
    {"check_from_in_whitelist", &CheckFromInWelcomelist},
    {"check_from_in_default_welcomelist", &CheckFromInDefaultWelcomelist},
    {"check_from_in_default_whitelist", &CheckFromInDefaultWelcomelist},
    {"check_from_in_blocklist", &CheckFromInBlocklist},
    {"check_from_in_blacklist", &CheckFromInBlocklist},
    {"check_to_in_welcomelist", &CheckToInWelcomelist},
    {"check_to_in_whitelist", &CheckToInWelcomelist},
    {"check_to_in_blocklist", &CheckToInBlocklist},
    {"check_to_in_blacklist", &CheckToInBlocklist},
    {"check_to_in_more_spam", &CheckToInMoreSpam},
    {"check_to_in_all_spam", &CheckToInAllSpam},
    {"check_uri_host_listed", &CheckUriHostListed},
    {"check_uri_host_in_blocklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_blacklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_welcomelist", &CheckUriHostInWelcomelist},
    {"check_uri_host_in_whitelist", &CheckUriHostInWelcomelist},
};

}  // namespace

EvalTable WlblEvals() { return kEvals; }

}  // namespace mailsift::rules
