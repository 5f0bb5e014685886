// rules/eval/header_access.h — SpamAssassin 4.0.1's ways of reading headers and addresses, for
// the eval plugins and the evaluator.
//
// The pieces of PerMsgStatus::get the evals need ("Name", "Name:raw", "Name:addr", ToCc,
// MESSAGEID, ALL), SA's internal address parser (Util::parse_header_addresses;
// Email::Address::XS is not installed on Debian, so the internal parser is the one SA uses),
// get_envelope_from's header fallbacks, all_from_addrs / all_to_addrs, Util::parse_rfc822_date,
// Util::is_fqdn_valid and Conf::Parser::add_to_addrlist's address globs. Mirrors
// PerMsgStatus.pm, Message/Node.pm, Util.pm and Conf/Parser.pm.
//
// Malformed headers never fail: every function returns a plain value (false / empty / nullopt
// where SpamAssassin would see undef). Nothing throws.
//
// Thread-safety: all functions are pure (regexes are compiled once, thread-safely, into
// immutable function-local statics).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
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
