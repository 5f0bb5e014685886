// rules/eval/relay_eval.h — SpamAssassin 4.0.1's eval functions over the relay path and the
// Received headers, as the Debian ruleset calls them.
//
// From Plugin/RelayEval.pm: check_all_trusted, check_no_relays, check_relays_unparseable,
// helo_ip_mismatch, check_for_forged_received_trail, check_for_no_rdns_dotcom_helo, and the
// unused-by-Debian check_for_numeric_helo and check_for_sender_no_reverse.
// From Plugin/HeaderEval.pm (the Received-based ones): gated_through_received_hdr_remover,
// check_for_fake_aol_relay_in_rcvd, check_for_forged_hotmail_received_headers,
// check_for_no_hotmail_received_headers, check_for_forged_eudoramail_received_headers,
// check_for_forged_yahoo_received_headers, check_for_forged_juno_received_headers,
// check_for_forged_gmail_received_headers.
//
// Each function returns whether the rule hits, computed exactly as SA does (including its
// quirks: check_for_no_rdns_dotcom_helo looks only at the last public untrusted relay;
// check_for_forged_juno_received_headers always hits a juno.com sender without
// X-Originating-IP). Header texts are read as SA's $pms->get does (rules/message/received.h
// SaGetHeader). None of these functions take arguments in the ruleset; RunRelayEval ignores
// extra arguments as SA does.
//
// Thread-safety: pure functions of their input; compiled patterns are immutable statics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "rules/message/received.h"

namespace mailsift::rules {

struct RelayEvalInput {
  const RelayPath& relays;
  const mime::Headers& headers;
  // SA's $pms->get('From:addr'): the first address of the From field, "" when none. Supplied by
  // the caller (the header-eval module parses addresses).
  std::string_view from_addr;
  // SA's $pms->get('EnvelopeFrom:addr'), "" when unknown (only the MSN-groups check reads it).
  std::string_view envelope_from_addr;
};

// RelayEval.pm
bool CheckAllTrusted(const RelayEvalInput& in);
bool CheckNoRelays(const RelayEvalInput& in);
bool CheckRelaysUnparseable(const RelayEvalInput& in);
bool HeloIpMismatch(const RelayEvalInput& in);
bool CheckForForgedReceivedTrail(const RelayEvalInput& in);
bool CheckForNoRdnsDotcomHelo(const RelayEvalInput& in);
bool CheckForNumericHelo(const RelayEvalInput& in);
bool CheckForSenderNoReverse(const RelayEvalInput& in);

// HeaderEval.pm
bool GatedThroughReceivedHdrRemover(const RelayEvalInput& in);
bool CheckForFakeAolRelayInRcvd(const RelayEvalInput& in);
bool CheckForForgedHotmailReceivedHeaders(const RelayEvalInput& in);
bool CheckForNoHotmailReceivedHeaders(const RelayEvalInput& in);
bool CheckForForgedEudoramailReceivedHeaders(const RelayEvalInput& in);
bool CheckForForgedYahooReceivedHeaders(const RelayEvalInput& in);
bool CheckForForgedJunoReceivedHeaders(const RelayEvalInput& in);
bool CheckForForgedGmailReceivedHeaders(const RelayEvalInput& in);

// SA's RelayEval hostname_to_domain: the last two labels when the top-level label has 3+
// characters or is ie/fr/de ("a.b.example.com" -> "example.com"), else the last three
// ("www.example.co.uk" -> "example.co.uk"); names without letters are returned unchanged.
std::string HostnameToDomain(std::string_view hostname);

// Dispatches an eval by its SA name (as in `eval:helo_ip_mismatch()`). Returns nullopt when
// `function` is not one of the functions above.
std::optional<bool> RunRelayEval(std::string_view function, const std::vector<std::string>& args,
                                 const RelayEvalInput& in);

// The SA function names RunRelayEval knows.
const std::vector<std::string_view>& RelayEvalFunctionNames();

}  // namespace mailsift::rules
