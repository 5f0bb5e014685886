// rules/eval/uri_eval.h — SpamAssassin 4.0.1's URIEval plugin (Plugin/URIEval.pm) and the URI
// pieces other plugins share: the anchors of an HTML part as URIDetail keeps them, and
// RegistryBoundaries' uri_to_domain / trim_domain / is_domain_valid over the rule set's
// util_rb_tld / util_rb_2tld / util_rb_3tld (EvalConfig::boundaries).
//
// Evals (table UriEvals, eval_registry.h): check_uri_truncated, check_https_ip_mismatch.
// Known difference from SpamAssassin: hosts with non-ASCII characters are not converted to
// punycode (SA does, with Net::LibIDN), so uri_to_domain finds no host for them. Nothing here
// throws or asserts on message content.
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/eval/eval_config.h"

namespace mailsift::rules {

// One <a> start tag of an HTML part: SA's anchor_last (canon_uri of the href — after the
// `\w{1,8}/href` alias and U+FEFF removal, blanks trimmed, cut at 8192 bytes — or "" when the
// tag has no href) and the anchor's text (HtmlResult::anchors entry, "<img>\n" for images).
struct HtmlAnchor {
  std::string href;
  std::string text;
};
// Pairs HtmlResult::anchors with the matching hrefs (shorter list wins).
std::vector<HtmlAnchor> PairAnchors(const std::vector<std::string>& hrefs,
                                    const std::vector<std::string>& texts);

// SA's html->{uri_detail}{KEY}{anchor_text} of one HTML part: href → texts, in first-seen order.
std::vector<std::pair<std::string_view, std::vector<std::string_view>>> AnchorTextByUri(
    const std::vector<HtmlAnchor>& anchors);

// RegistryBoundaries::uri_to_domain for an ASCII URI: (domain, host), or nullopt.
std::optional<std::pair<std::string, std::string>> UriToDomain(const EvalConfig& config,
                                                               std::string_view uri);
// RegistryBoundaries::trim_domain and is_domain_valid (lower-casing stands in for
// idn_to_ascii).
std::string TrimDomain(const EvalConfig& config, std::string_view domain);
bool IsDomainValid(const EvalConfig& config, std::string_view domain);
// Constants::IS_IP_ADDRESS (IPv4 without leading zeros, IPv6 with an optional "IPv6:").
bool IsIpAddress(std::string_view text);

}  // namespace mailsift::rules
