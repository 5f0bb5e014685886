// rules/eval/header_eval.h — SpamAssassin 4.0.1's header eval functions, natively.
//
// Implements the `eval:` functions of the HeaderEval, FreeMail and WLBLEval plugins that the
// Debian rule set calls from `header` rules, with SpamAssassin's semantics (results, not
// code, are what must agree): check_for_shifted_date, check_outlook_message_id,
// check_equal_from_domains, similar_recipients, sorted_recipients, subject_is_all_caps,
// check_for_missing_to_header, check_illegal_chars, check_for_to_in_subject,
// check_for_matching_env_and_hdr_from, check_header_count_range, check_ratware_name_id,
// check_ratware_envelope_from, check_unresolved_template,
// check_for_faraway_charset_in_headers; check_freemail_from/_replyto/_header; and
// check_from_in_list, check_replyto_in_list, check_to_in_list, check_mailfrom_matches_rcvd,
// check_from_in_(welcome|block|default_welcome)list and check_to_in_* (with their 4.0
// whitelist/blacklist aliases).
//
// The caller builds one HeaderEvalConfig from the rule set's directives (once per rule set
// generation) and, per message, a HeaderEvalInput; FindHeaderEval maps SpamAssassin's function
// name to a HeaderEvalFunction. Also exported are the pieces of PerMsgStatus::get that the
// evals need ("Name", "Name:raw", "Name:addr", ToCc, MESSAGEID, ALL), SA's internal address
// parser (Util::parse_header_addresses; Email::Address::XS is not installed on Debian, so the
// internal parser is the one SA uses), Util::parse_rfc822_date and get_envelope_from's header
// fallbacks, so the evaluator can reuse them for header rules.
//
// Malformed headers never fail: every function returns a plain value (false / empty / nullopt
// where SpamAssassin would see undef). Nothing throws.
//
// Thread-safety: HeaderEvalConfig is immutable after HeaderEvalConfig::Build and may be shared
// between threads; all functions are pure (regexes are compiled once, thread-safely, into
// immutable function-local statics).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "rules/message/received.h"

namespace mailsift::rules {

// ---------------------------------------------------------------------------------------------
// Configuration (from .cf directives)

// One `welcomelist_from_rcvd` / `def_welcomelist_from_rcvd` line: an address glob and the
// relay rDNS domain (or "[ip]", "[ip/len]", "[classful.prefix]") it must have come through.
struct AddressWithRelay {
  std::string address;
  std::string domain;
};

// The directive values the evals consult, as plain words (Ruleset::SettingWords order).
struct HeaderEvalSettings {
  std::vector<std::string> freemail_domains;      // may contain * and ? wildcards
  std::vector<std::string> freemail_welcomelist;  // plus the old freemail_whitelist
  int freemail_max_body_emails = 5;
  int freemail_max_body_freemails = 3;
  bool freemail_skip_when_over_max = true;
  bool freemail_skip_bulk_envfrom = true;
  // Named address lists: enlist_addrlist (NAME) globs, and the directive lists
  // welcomelist_from, blocklist_from, welcomelist_to, blocklist_to, more_spam_to, all_spam_to
  // (keyed by those names; the old whitelist_*/blacklist_* directives go into the same keys).
  std::vector<std::pair<std::string, std::vector<std::string>>> address_lists;
  std::vector<AddressWithRelay> welcomelist_from_rcvd;
  std::vector<AddressWithRelay> def_welcomelist_from_rcvd;
  std::vector<std::string> welcomelist_allows_relays;
  std::vector<std::string> ok_locales{"all"};
  // RegistryBoundaries: util_rb_tld, util_rb_2tld, util_rb_3tld.
  std::vector<std::string> valid_tlds;
  std::vector<std::string> two_level_domains;
  std::vector<std::string> three_level_domains;
};

// The compiled, immutable form of HeaderEvalSettings.
class HeaderEvalConfig {
 public:
  // Never fails: invalid entries are skipped as SpamAssassin skips them (with a warning there).
  static std::shared_ptr<const HeaderEvalConfig> Build(const HeaderEvalSettings& settings);
  ~HeaderEvalConfig();
  HeaderEvalConfig(const HeaderEvalConfig&) = delete;
  HeaderEvalConfig& operator=(const HeaderEvalConfig&) = delete;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  HeaderEvalConfig();
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Per-message input

struct HeaderEvalInput {
  const mime::Headers* headers = nullptr;    // required
  const HeaderEvalConfig* config = nullptr;  // required for FreeMail/WLBL; may be null otherwise
  // SpamAssassin's EnvelopeFrom (PerMsgStatus::get_envelope_from); nullopt when SA has none.
  // GuessEnvelopeFrom() below computes it as SA does when no envelope_sender_header is set.
  std::optional<std::string> envelope_from;
  // The message's relays (received.h; only `trusted` and `untrusted` are used: ip, lc_rdns,
  // envfrom). Null means no Received header could be parsed.
  const RelayPath* relays = nullptr;
  // For FreeMail's body scan (check_freemail_replyto): the decoded, stripped body text
  // (PerMsgStatus::get_decoded_stripped_body_text_array) and the URIs found in <a href>
  // anchors (uri_detail_list entries with type "a" and not "parsed").
  std::vector<std::string> body_text;
  std::vector<std::string> anchor_uris;
  // The Date/Received time difference check_for_shifted_date computes, kept for the other
  // calls on the same message (twelve rules call it).
  mutable std::optional<int64_t> date_diff;
  // The sender and recipient addresses of the welcomelist/blocklist checks, likewise kept.
  mutable std::optional<std::vector<std::string>> all_from, all_to;
  // FreeMail's addresses of the body (nullopt inside: too many), kept for the second of
  // __freemail_reply / __freemail_replyto: the body scan is the costly part of both.
  mutable std::optional<std::optional<std::vector<std::string>>> freemail_body;
};

// An eval: (input, arguments as split by the rule parser) -> hit.
using HeaderEvalFunction = bool (*)(const HeaderEvalInput& input,
                                    const std::vector<std::string>& args);

// The function implementing SpamAssassin eval `name` (e.g. "check_for_shifted_date"), or
// nullptr when it is not one of this module's.
const HeaderEvalFunction* FindHeaderEval(std::string_view name);
// Every name FindHeaderEval knows, for listing.
std::vector<std::string_view> HeaderEvalNames();

// ---------------------------------------------------------------------------------------------
// PerMsgStatus::get building blocks

// SpamAssassin's decoded header value (Node::header, as received.h's SaHeaderValue): one per
// instance, in order, without the trailing newline SA's get_header appends.
std::vector<std::string> HeaderValues(const mime::Headers& headers, std::string_view name);
// SpamAssassin's raw value (Node::raw_header): everything after the colon including the
// leading blank, folding and the final "\n" (CRLF turned to LF).
std::vector<std::string> RawHeaderValues(const mime::Headers& headers, std::string_view name);
// PerMsgStatus::get(name) in scalar context for a plain header name, `Name:raw`, `ToCc`,
// `MESSAGEID` or `ALL`: the values joined, each ending in "\n"; "" when absent.
std::string GetHeader(const mime::Headers& headers, std::string_view request);

// One address from Util::parse_header_addresses (unset members are SA's undef).
struct ParsedAddress {
  std::optional<std::string> phrase;
  std::optional<std::string> address;
  std::optional<std::string> user;
  std::optional<std::string> host;
  std::optional<std::string> comment;
  bool invalid = true;
};
// Util::parse_header_addresses with SA's internal parser, on a raw header value.
std::vector<ParsedAddress> ParseHeaderAddresses(std::string_view value);

// PerMsgStatus::get("Name:addr") in list context: the addresses of every instance of the
// header. Supports plain names (raw values are parsed, as SA does), ToCc and MESSAGEID
// (decoded values, as SA does). `first`/`last` select one instance like `:first`/`:last`.
enum class Instance { kAll, kFirst, kLast };
std::vector<std::string> HeaderAddresses(const mime::Headers& headers, std::string_view name,
                                         Instance which = Instance::kAll);
// PerMsgStatus::get("EnvelopeFrom:addr") in list context.
std::vector<std::string> EnvelopeFromAddresses(const HeaderEvalInput& input);

// PerMsgStatus::get_envelope_from without envelope_sender_header: the last untrusted relay's
// envfrom (or the first trusted one's), else X-Envelope-From / Envelope-Sender / Return-Path
// when not below a Received header (X-Sender + fetchmail makes it undef).
std::optional<std::string> GuessEnvelopeFrom(const mime::Headers& headers, const RelayPath* relays);

// PerMsgStatus::all_from_addrs (lower-cased duplicates removed, order of first appearance).
std::vector<std::string> AllFromAddresses(const HeaderEvalInput& input);
// PerMsgStatus::all_to_addrs.
std::vector<std::string> AllToAddresses(const HeaderEvalInput& input);

// Util::parse_rfc822_date: seconds since the epoch (UTC), or nullopt where SA returns undef.
std::optional<int64_t> ParseRfc822Date(std::string_view date);

// Util::is_fqdn_valid for an ASCII name.
bool IsFqdnValid(std::string_view host);

// Conf::Parser::add_to_addrlist's glob: `*` any run, `?` one character, case-insensitive,
// whole string.
bool AddressGlobMatches(std::string_view glob, std::string_view address);

}  // namespace mailsift::rules
