// rules/eval/eval_config.cc — see eval_config.h. The directive handling follows SpamAssassin
// 4.0.1's Conf.pm and the parse_config / set_config of Plugin/FreeMail.pm, WLBLEval.pm,
// WelcomeListSubject.pm and VBounce.pm.
#include "rules/eval/eval_config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "base/strings.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// Perl's split(/\s+/, $s) without empty fields.
std::vector<std::string> PerlWords(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsPerlSpace(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !IsPerlSpace(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// /^ \( (.+?) \) \s+ (.+) \z/sx: the list name and the rest, or nullopt.
std::optional<std::pair<std::string, std::string>> ParseListPrefix(std::string_view line) {
  if (line.size() < 2 || line[0] != '(') return std::nullopt;
  for (size_t k = 2; k < line.size(); ++k) {
    if (line[k] != ')') continue;
    size_t ws = k + 1;
    while (ws < line.size() && IsPerlSpace(line[ws])) ++ws;
    if (ws == k + 1) continue;                       // \s+ needs one blank
    if (ws == line.size()) ws--;                     // (.+) takes back the last blank
    if (ws <= k + 1 || ws >= line.size()) continue;  // nothing left for (.+)
    return std::pair{std::string(line.substr(1, k - 1)), std::string(line.substr(ws))};
  }
  return std::nullopt;
}

}  // namespace

EvalSettings EvalSettingsFromRuleset(const Ruleset& ruleset) {
  EvalSettings settings;
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
  settings.trust.trusted_networks = words("trusted_networks");
  settings.trust.internal_networks = words("internal_networks");
  settings.trust.msa_networks = words("msa_networks");
  if (!ruleset.Setting("originating_ip_headers").empty()) {
    settings.trust.originating_ip_headers = words("originating_ip_headers");
  }
  // Perl's split(/\s+/) over every line (VBounce and WLBLEval split so).
  auto perl_words = [&](std::string_view key) {
    std::vector<std::string> out;
    for (const std::string& line : ruleset.Setting(key)) {
      for (std::string& w : PerlWords(line)) out.push_back(std::move(w));
    }
    return out;
  };
  for (const char* key : {"welcomelist_subject", "whitelist_subject"}) {
    for (const std::string& line : ruleset.Setting(key))
      settings.welcomelist_subject.push_back(line);
  }
  for (const char* key : {"blocklist_subject", "blacklist_subject"}) {
    for (const std::string& line : ruleset.Setting(key)) settings.blocklist_subject.push_back(line);
  }
  for (const char* key : {"welcomelist_bounce_relays", "whitelist_bounce_relays"}) {
    for (std::string& w : perl_words(key))
      settings.welcomelist_bounce_relays.push_back(std::move(w));
  }
  for (const std::string& line : ruleset.Setting("enlist_uri_host")) {
    auto parsed = ParseListPrefix(line);
    if (!parsed) continue;
    settings.uri_host_directives.push_back({false, parsed->first, PerlWords(parsed->second)});
  }
  for (auto [key, list] : {std::pair{"blocklist_uri_host", "BLOCK"},
                           {"blacklist_uri_host", "BLOCK"},
                           {"welcomelist_uri_host", "WELCOME"},
                           {"whitelist_uri_host", "WELCOME"}}) {
    for (const std::string& line : ruleset.Setting(key)) {
      settings.uri_host_directives.push_back({false, list, PerlWords(line)});
    }
  }
  for (const std::string& line : ruleset.Setting("delist_uri_host")) {
    if (auto parsed = ParseListPrefix(line)) {
      settings.uri_host_directives.push_back({true, parsed->first, PerlWords(parsed->second)});
    } else {
      settings.uri_host_directives.push_back({true, "", PerlWords(line)});
    }
  }
  return settings;
}

const std::vector<std::string>* EvalConfig::AddressList(std::string_view name) const {
  auto it = address_lists.find(std::string(name));
  return it == address_lists.end() ? nullptr : &it->second;
}

std::shared_ptr<const EvalConfig> BuildEvalConfig(const EvalSettings& settings) {
  auto config = std::make_shared<EvalConfig>();
  EvalConfig& c = *config;
  // FreeMail::parse_config: entries with characters outside [a-zA-Z0-9.*?-] are refused.
  for (const std::string& word : settings.freemail_domains) {
    if (word.empty()) continue;
    bool ok = std::all_of(word.begin(), word.end(), [](char c) {
      unsigned char u = static_cast<unsigned char>(c);
      return (u < 0x80 && std::isalnum(u)) || c == '.' || c == '*' || c == '?' || c == '-';
    });
    if (!ok) continue;
    std::string value = ToLowerAscii(word);
    if (value.find_first_of("*?") != std::string::npos) {
      if (std::find(c.freemail_wildcards.begin(), c.freemail_wildcards.end(), value) ==
          c.freemail_wildcards.end()) {
        c.freemail_wildcards.push_back(value);
      }
    } else {
      c.freemail_domains.insert(value);
    }
  }
  static const PerlRegex kWelcomeOk("\\w[.@]\\w", 0);
  for (const std::string& word : settings.freemail_welcomelist) {
    std::string value = ToLowerAscii(word);
    if (kWelcomeOk.Matches(value)) c.freemail_welcomelist.insert(value);
  }
  c.freemail_available = !c.freemail_domains.empty() || !c.freemail_wildcards.empty();
  c.freemail_max_body_emails = settings.freemail_max_body_emails;
  c.freemail_max_body_freemails = settings.freemail_max_body_freemails;
  c.freemail_skip_when_over_max = settings.freemail_skip_when_over_max;
  c.freemail_skip_bulk_envfrom = settings.freemail_skip_bulk_envfrom;

  c.boundaries = RegistryBoundaries(settings.valid_tlds, settings.two_level_domains,
                                    settings.three_level_domains);
  // RegistryBoundaries' valid_tlds_re, inside FreeMail's email_regex.
  std::vector<std::string> tlds;
  for (const std::string& t : c.boundaries.valid_tlds()) {
    bool plain = !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
      unsigned char u = static_cast<unsigned char>(c);
      return (u < 0x80 && std::isalnum(u)) || c == '-';
    });
    if (plain) tlds.push_back(t);
  }
  std::sort(tlds.begin(), tlds.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  std::string tld_re = "no_tlds_defined";
  if (!tlds.empty()) {
    tld_re = "(?<![a-zA-Z0-9-])(?:";
    for (size_t i = 0; i < tlds.size(); ++i) {
      if (i > 0) tld_re += '|';
      tld_re += tlds[i];
    }
    tld_re += ")(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9]))";
  }
  std::string email_re =
      "(?=.{0,64}\\@)"
      "(?<![a-z0-9!#\\$%&'*+\\/=?^_`{|}~-])"
      "("
      "[a-z0-9!#\\$%&'*+\\/=?^_`{|}~-]+"
      "(?:\\.[a-z0-9!#\\$%&'*+\\/=?^_`{|}~-]+)*"
      "\\@"
      "(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}" +
      tld_re + ")";
  c.email_regex = std::make_unique<PerlRegex>(email_re, PCRE2_CASELESS);
  c.strip_regex = std::make_unique<PerlRegex>(
      "<?(?<!mailto:)" + email_re +
          "(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)",
      PCRE2_CASELESS);

  for (const auto& [name, globs] : settings.address_lists) {
    std::vector<std::string>& list = c.address_lists[name];
    for (const std::string& g : globs) list.push_back(ToLowerAscii(g));
  }
  for (const AddressWithRelay& e : settings.welcomelist_from_rcvd) {
    c.welcomelist_from_rcvd.push_back({ToLowerAscii(e.address), ToLowerAscii(e.domain)});
  }
  for (const AddressWithRelay& e : settings.def_welcomelist_from_rcvd) {
    c.def_welcomelist_from_rcvd.push_back({ToLowerAscii(e.address), ToLowerAscii(e.domain)});
  }
  for (const std::string& g : settings.welcomelist_allows_relays) {
    c.welcomelist_allows_relays.push_back(ToLowerAscii(g));
  }
  c.ok_locales = settings.ok_locales;
  for (const std::string& g : settings.welcomelist_subject) {
    c.welcomelist_subject.push_back(ToLowerAscii(g));
  }
  for (const std::string& g : settings.blocklist_subject) {
    c.blocklist_subject.push_back(ToLowerAscii(g));
  }
  for (const std::string& g : settings.welcomelist_bounce_relays) {
    c.bounce_relays.push_back(ToLowerAscii(g));
  }
  for (const UriHostDirective& d : settings.uri_host_directives) {
    if (!d.delist) {
      auto& list = c.uri_host_lists[d.list];
      for (const std::string& h : d.hosts) {
        std::string host = ToLowerAscii(h);
        bool listed = true;
        if (!host.empty() && host[0] == '!') {
          host.erase(0, 1);
          listed = false;
        }
        list[host] = listed;
      }
      continue;
    }
    for (auto& [name, list] : c.uri_host_lists) {
      if (!d.list.empty() && name != d.list) continue;
      for (const std::string& h : d.hosts) {
        std::string host = ToLowerAscii(h);
        if (!host.empty() && host[0] == '!') host.erase(0, 1);
        list.erase(host);
      }
    }
  }
  c.trust = settings.trust;
  return config;
}

std::shared_ptr<const EvalConfig> EvalConfigFromRuleset(const Ruleset& ruleset) {
  return BuildEvalConfig(EvalSettingsFromRuleset(ruleset));
}

}  // namespace mailsift::rules
