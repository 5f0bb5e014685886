// rules/eval/eval_config.h — the one per-ruleset configuration of SpamAssassin's eval functions.
//
// The .cf directives the native evals consult, read once per rule set generation: FreeMail's
// freemail_* settings, WLBLEval's address lists (enlist_addrlist, welcomelist_from and friends,
// *_from_rcvd) and URI host lists (enlist_uri_host and friends), WelcomeListSubject's subject
// globs, VBounce's welcomelist_bounce_relays, ok_locales, RegistryBoundaries' util_rb_tld /
// util_rb_2tld / util_rb_3tld, and the trust path options of the Received parser
// (trusted_networks, internal_networks, msa_networks, originating_ip_headers). It mirrors the
// parts of Mail::SpamAssassin::Conf those plugins register (their parse_config / set_config).
//
// EvalSettingsFromRuleset reads the plain directive values (only Ruleset::Setting and
// SettingWords); BuildEvalConfig compiles them (lower-cased globs, FreeMail's address regexes).
// Neither fails: invalid entries are skipped as SpamAssassin skips them (with a warning there).
//
// Thread-safety: an EvalConfig is immutable after BuildEvalConfig and may be shared between
// threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "rules/cf/ruleset.h"
#include "rules/message/received.h"
#include "rules/message/registry_boundaries.h"
#include "rules/regex/perl_regex.h"

namespace mailsift::rules {

// One `welcomelist_from_rcvd` / `def_welcomelist_from_rcvd` line: an address glob and the
// relay rDNS domain (or "[ip]", "[ip/len]", "[classful.prefix]") it must have come through.
struct AddressWithRelay {
  std::string address;
  std::string domain;
};

// One enlist_uri_host / blocklist_uri_host / welcomelist_uri_host line (list "BLOCK" /
// "WELCOME" for the short forms), or a delist_uri_host line (`delist`, list empty when none is
// named). Hosts as written; a leading '!' excludes.
struct UriHostDirective {
  bool delist = false;
  std::string list;
  std::vector<std::string> hosts;
};

// The directive values the evals consult, as plain words (Ruleset::SettingWords order).
struct EvalSettings {
  // FreeMail
  std::vector<std::string> freemail_domains;      // may contain * and ? wildcards
  std::vector<std::string> freemail_welcomelist;  // plus the old freemail_whitelist
  int freemail_max_body_emails = 5;
  int freemail_max_body_freemails = 3;
  bool freemail_skip_when_over_max = true;
  bool freemail_skip_bulk_envfrom = true;
  // WLBLEval: named address lists: enlist_addrlist (NAME) globs, and the directive lists
  // welcomelist_from, blocklist_from, welcomelist_to, blocklist_to, more_spam_to, all_spam_to
  // (keyed by those names; the old whitelist_*/blacklist_* directives go into the same keys).
  std::vector<std::pair<std::string, std::vector<std::string>>> address_lists;
  std::vector<AddressWithRelay> welcomelist_from_rcvd;
  std::vector<AddressWithRelay> def_welcomelist_from_rcvd;
  std::vector<std::string> welcomelist_allows_relays;
  // WLBLEval: URI host list directives, in the order they are to be applied.
  std::vector<UriHostDirective> uri_host_directives;
  // WelcomeListSubject: one entry per welcomelist_subject / whitelist_subject
  // (blocklist_subject / blacklist_subject) line: the whole line is one glob, blanks included.
  std::vector<std::string> welcomelist_subject;
  std::vector<std::string> blocklist_subject;
  // VBounce: welcomelist_bounce_relays / whitelist_bounce_relays words (globs).
  std::vector<std::string> welcomelist_bounce_relays;
  std::vector<std::string> ok_locales{"all"};
  // RegistryBoundaries: util_rb_tld, util_rb_2tld, util_rb_3tld.
  std::vector<std::string> valid_tlds;
  std::vector<std::string> two_level_domains;
  std::vector<std::string> three_level_domains;
  // The Received parser's trust path (received.h).
  TrustOptions trust;
};

// Reads the directives above from a rule set. Malformed enlist_addrlist / enlist_uri_host lines
// (no "(NAME)") are skipped, as SA rejects them; the relative order of enlist_uri_host /
// blocklist_uri_host / welcomelist_uri_host and delist_uri_host lines is not known from
// Ruleset::settings(), so all delist_uri_host lines are applied after all enlisting lines.
EvalSettings EvalSettingsFromRuleset(const Ruleset& ruleset);

// The compiled, immutable form of EvalSettings.
struct EvalConfig {
  // FreeMail
  std::unordered_set<std::string> freemail_domains;
  std::vector<std::string> freemail_wildcards;  // lower-cased globs: * = [^.]*, ? = .
  std::unordered_set<std::string> freemail_welcomelist;
  bool freemail_available = false;
  int freemail_max_body_emails = 5;
  int freemail_max_body_freemails = 3;
  bool freemail_skip_when_over_max = true;
  bool freemail_skip_bulk_envfrom = true;
  std::unique_ptr<PerlRegex> email_regex;  // FreeMail's email_regex with valid_tlds_re
  std::unique_ptr<PerlRegex> strip_regex;  // _parse_body's address-with-label stripper
  // WLBLEval addresses
  std::unordered_map<std::string, std::vector<std::string>> address_lists;  // lower-cased globs
  std::vector<AddressWithRelay> welcomelist_from_rcvd;                      // lower-cased
  std::vector<AddressWithRelay> def_welcomelist_from_rcvd;
  std::vector<std::string> welcomelist_allows_relays;
  // WLBLEval URI hosts: list name (sorted) → lower-cased host → listed (false: excluded by '!').
  std::map<std::string, std::unordered_map<std::string, bool>> uri_host_lists;
  // WelcomeListSubject
  std::vector<std::string> welcomelist_subject;  // lower-cased globs
  std::vector<std::string> blocklist_subject;
  // VBounce
  std::vector<std::string> bounce_relays;  // lower-cased globs
  std::vector<std::string> ok_locales;
  RegistryBoundaries boundaries;
  TrustOptions trust;

  // The address list `name` (lower-cased globs), or nullptr when the rule set has none.
  const std::vector<std::string>* AddressList(std::string_view name) const;
};

std::shared_ptr<const EvalConfig> BuildEvalConfig(const EvalSettings& settings);

// BuildEvalConfig(EvalSettingsFromRuleset(ruleset)).
std::shared_ptr<const EvalConfig> EvalConfigFromRuleset(const Ruleset& ruleset);

}  // namespace mailsift::rules
