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
// The evals read the rule set's EvalConfig and the message through one EvalInput
// (eval_input.h); the plugin's table, HeaderEvals(), is joined in the one registry
// (eval_registry.h). Also exported are the pieces of PerMsgStatus::get that the
// evals need ("Name", "Name:raw", "Name:addr", ToCc, MESSAGEID, ALL), SA's internal address
// parser (Util::parse_header_addresses; Email::Address::XS is not installed on Debian, so the
// internal parser is the one SA uses), Util::parse_rfc822_date and get_envelope_from's header
// fallbacks, so the evaluator can reuse them for header rules.
//
// Malformed headers never fail: every function returns a plain value (false / empty / nullopt
// where SpamAssassin would see undef). Nothing throws.
//
// Thread-safety: all functions are pure (regexes are compiled once, thread-safely, into
// immutable function-local statics).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "rules/eval/eval_config.h"
#include "rules/message/received.h"

namespace mailsift::rules {

class EvalInput;

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
std::vector<std::string> EnvelopeFromAddresses(EvalInput& input);

// PerMsgStatus::get_envelope_from without envelope_sender_header: the last untrusted relay's
// envfrom (or the first trusted one's), else X-Envelope-From / Envelope-Sender / Return-Path
// when not below a Received header (X-Sender + fetchmail makes it undef).
std::optional<std::string> GuessEnvelopeFrom(const mime::Headers& headers, const RelayPath* relays);

// PerMsgStatus::all_from_addrs (lower-cased duplicates removed, order of first appearance).
std::vector<std::string> AllFromAddresses(EvalInput& input);
// PerMsgStatus::all_to_addrs.
std::vector<std::string> AllToAddresses(EvalInput& input);

// Util::parse_rfc822_date: seconds since the epoch (UTC), or nullopt where SA returns undef.
std::optional<int64_t> ParseRfc822Date(std::string_view date);

// Util::is_fqdn_valid for an ASCII name.
bool IsFqdnValid(std::string_view host);

// Conf::Parser::add_to_addrlist's glob: `*` any run, `?` one character, case-insensitive,
// whole string.
bool AddressGlobMatches(std::string_view glob, std::string_view address);

}  // namespace mailsift::rules
