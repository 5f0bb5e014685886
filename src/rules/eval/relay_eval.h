// rules/eval/relay_eval.h — SpamAssassin 4.0.1's eval functions over the relay path and the
// Received headers, as the Debian ruleset calls them.
//
// The evals (table RelayEvals, eval_registry.h), over EvalInput's relay path (received.h) and
// headers. From Plugin/RelayEval.pm: check_all_trusted, check_no_relays, check_relays_unparseable,
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
// Thread-safety: pure functions of the EvalInput (which belongs to one scan); compiled patterns
// are immutable statics.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::rules {

// SA's RelayEval hostname_to_domain: the last two labels when the top-level label has 3+
// characters or is ie/fr/de ("a.b.example.com" -> "example.com"), else the last three
// ("www.example.co.uk" -> "example.co.uk"); names without letters are returned unchanged.
std::string HostnameToDomain(std::string_view hostname);

}  // namespace mailsift::rules
