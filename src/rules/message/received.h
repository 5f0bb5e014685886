// rules/message/received.h — SpamAssassin 4.0.1's Received-header parser and trust path.
//
// AnalyzeReceivedHeaders reads a message's Received header fields (newest first, as they appear)
// and, like SA's Message::Metadata::Received (parse_received_headers / parse_received_line):
//   - parses each into a Relay (ip, rdns, helo, by, ident, envfrom, id, auth, …) with SA's
//     per-MTA formats (sendmail, Postfix, Exim, qmail, Microsoft SMTPSVC / Exchange, CommuniGate,
//     Yahoo, Hotmail, Gmail and the rest), or skips it (local handovers, mail fetchers, …), or
//     counts it as unparseable;
//   - appends the synthetic relays of the originating_ip_headers (X-Originating-IP, …) after the
//     Received fields, as SA does;
//   - splits the relays into trusted/untrusted and internal/external: with trusted_networks and
//     internal_networks unset (Debian's default) the trust boundary is inferred (a relay from a
//     private IP or with an authentication token extends trust; the first other relay ends it);
//     with networks configured, CIDR membership decides (127.0.0.0/8 and ::1 always trusted and
//     internal), msa_networks mark an MSA after which every relay is trusted;
//   - renders each relay as SA's make_relay_as_string does, and the four X-Spam-Relays-*
//     pseudo-header strings (relay strings joined by one space), byte-identical to SA;
//   - records SA's last_trusted_relay_index / last_internal_relay_index, from which
//     ReceivedRangeText builds the ALL-TRUSTED / ALL-UNTRUSTED / ALL-INTERNAL / ALL-EXTERNAL
//     pseudo-headers (SA's get_all_hdrs_in_rcvd_index_range).
//
// Malformed input never fails: any header text gives some result (unparseable lines are
// counted). Perl truthiness quirks of SA that change results (a value "0" counts as empty) are
// reproduced.
//
// Thread-safety: all functions are reentrant; the compiled patterns are immutable statics
// initialised on first use. Results are plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"

namespace mailsift::rules {

// One parsed handover, SA's relay hash.
struct Relay {
  std::string ip;
  std::string by;
  std::string helo;
  std::string rdns;
  std::string ident;
  std::string envfrom;  // "" when SA's is undef (envfrom_defined tells them apart)
  std::string id;
  std::string auth;  // authentication token ("ESMTPA", "Sendmail", …) or ""
  std::string lc_by, lc_helo, lc_rdns;
  bool envfrom_defined = false;
  bool msa = false;                  // from msa_networks (only with configured networks)
  bool internal = false;             // SA's {internal}; also printed as intl=
  bool ip_private = false;           // ip matches SA's IP_PRIVATE
  bool no_reverse_dns = false;       // the MTA looks up rDNS and found none
  bool rdns_not_in_headers = false;  // no rDNS and the MTA format does not record it
  std::string as_string;  // "[ ip=… rdns=… helo=… by=… ident=… envfrom=… intl=0 id=… ]"
};

struct TrustOptions {
  // CIDR lists as in SA's config ("10.0.0.0/8", "192.168.1.5", "!10.1.2.3", "2001:db8::/32").
  // Empty = not configured (SA's *_networks_configured false).
  std::vector<std::string> trusted_networks;
  std::vector<std::string> internal_networks;
  std::vector<std::string> msa_networks;
  // SA's originating_ip_headers; the default is Debian's 10_default_prefs.cf list.
  std::vector<std::string> originating_ip_headers = {
      "X-Yahoo-Post-IP",   "X-Originating-IP",
      "X-Apparently-From", "X-SenderIP",
      "X-AOL-IP",          "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp"};
  // SA's suppl_attrib originating: the caller asserts the message was submitted from inside.
  bool originating = false;
};

struct RelayPath {
  std::vector<Relay> trusted, untrusted, internal, external;
  // The X-Spam-Relays-Trusted/Untrusted/Internal/External values.
  std::string trusted_str, untrusted_str, internal_str, external_str;
  size_t unparseable = 0;  // SA's num_relays_unparseable
  // SA's indexes into the Received fields (counting from the top, 0-based; -1 = none).
  int last_trusted_relay_index = -1;
  int last_internal_relay_index = -1;
  // Configured network entries that could not be parsed (ignored), for the config check.
  std::vector<std::string> bad_networks;
};

// Parses one Received field value (unfolded) as SA's parse_received_line. Returns kRelay with
// `relay` filled (as_string with intl=0 msa=0), kSkipped for handovers SA deliberately ignores,
// or kUnparseable.
enum class ReceivedParse { kRelay, kSkipped, kUnparseable };
struct ParsedReceived {
  ReceivedParse kind = ReceivedParse::kUnparseable;
  Relay relay;
  bool pop_fetcher = false;           // a mail-fetcher handover (POP3/IMAP): SA restarts the parse
  bool qmail_scanner = false;         // a qmail-scanner line; its envfrom goes to the next relay
  std::string qmail_scanner_envfrom;  // cleaned envfrom of that line (may be "")
};
ParsedReceived ParseReceivedLine(std::string_view value);

// The whole analysis; see the top of this file.
RelayPath AnalyzeReceivedHeaders(const mime::Headers& headers, const TrustOptions& options);

// SA's make_relay_as_string for `relay` (uses relay.internal and relay.msa).
std::string RelayAsString(const Relay& relay);

// True when `ip` matches SA's IP_PRIVATE (RFC 1918, loopback, link-local, CGN, their
// IPv4-mapped IPv6 forms, fe80::/10, ::1). Like SA, a prefix match: "10.foo" counts.
bool IsPrivateIp(std::string_view ip);

// SA's IP_ADDRESS pattern (IPv4, IPv6, IPv4-mapped IPv6; case-insensitive group) as PCRE2
// text, to embed in other patterns.
std::string_view IpAddressPattern();

// A field's value as SA's $msg->get_header returns it (without the trailing newline): unfolded
// SA's way (a line break and the blanks after it become one space; ends trimmed), cut at SA's
// 8192-byte limit, RFC 2047-decoded except for the fields SA leaves alone (Received, Date,
// Message-ID, …), and UTF-8 (text that is not UTF-8 is read as Windows-1252, as SA does).
std::string SaHeaderValue(const mime::HeaderField& field);

// While one exists on the calling thread, SaHeaderValue and SaGetHeader remember each field's
// value (the relay, header and message evals ask for the same fields many times per message).
// The fields must stay alive and unchanged while it exists: the scan of one message opens one.
class SaHeaderCacheScope {
 public:
  SaHeaderCacheScope();
  ~SaHeaderCacheScope();
  SaHeaderCacheScope(const SaHeaderCacheScope&) = delete;
  SaHeaderCacheScope& operator=(const SaHeaderCacheScope&) = delete;

 private:
  bool outermost_ = false;
};

// SA's scalar $pms->get('Name'): every instance's SaHeaderValue followed by "\n", joined.
// Returns "" (and *exists = false when given) when there is no such field.
std::string SaGetHeader(const mime::Headers& headers, std::string_view name,
                        bool* exists = nullptr);

enum class ReceivedRange { kAllTrusted, kAllUntrusted, kAllInternal, kAllExternal };
// The text of SA's ALL-TRUSTED / ALL-UNTRUSTED / ALL-INTERNAL / ALL-EXTERNAL pseudo-header:
// the header fields (as "Name: value\n" lines, in message order) that lie in the Received
// index range given by `path` (SA's get_all_hdrs_in_rcvd_index_range, non-raw).
std::string ReceivedRangeText(const mime::Headers& headers, const RelayPath& path,
                              ReceivedRange range);

}  // namespace mailsift::rules
