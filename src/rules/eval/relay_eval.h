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
// SaGetHeader). None of these functions take arguments in the ruleset; extra arguments are
// ignored as SA does.
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

class EvalInput;

// RelayEval.pm
bool CheckAllTrusted(EvalInput& in, const std::vector<std::string>& args);
bool CheckNoRelays(EvalInput& in, const std::vector<std::string>& args);
bool CheckRelaysUnparseable(EvalInput& in, const std::vector<std::string>& args);
bool HeloIpMismatch(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedReceivedTrail(EvalInput& in, const std::vector<std::string>& args);
bool CheckForNoRdnsDotcomHelo(EvalInput& in, const std::vector<std::string>& args);
bool CheckForNumericHelo(EvalInput& in, const std::vector<std::string>& args);
bool CheckForSenderNoReverse(EvalInput& in, const std::vector<std::string>& args);

// HeaderEval.pm
bool GatedThroughReceivedHdrRemover(EvalInput& in, const std::vector<std::string>& args);
bool CheckForFakeAolRelayInRcvd(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedHotmailReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);
bool CheckForNoHotmailReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedEudoramailReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedYahooReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedJunoReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);
bool CheckForForgedGmailReceivedHeaders(EvalInput& in, const std::vector<std::string>& args);

// SA's RelayEval hostname_to_domain: the last two labels when the top-level label has 3+
// characters or is ie/fr/de ("a.b.example.com" -> "example.com"), else the last three
// ("www.example.co.uk" -> "example.co.uk"); names without letters are returned unchanged.
std::string HostnameToDomain(std::string_view hostname);

}  // namespace mailsift::rules
