// rules/eval/misc_eval.h — the remaining SpamAssassin 4.0.1 eval functions of the Debian rule set:
// ImageInfo, URIEval, HTTPSMismatch, VBounce, the URI-host part of WLBLEval and
// WelcomeListSubject, natively.
//
// Functions (SA's names; the old whitelist/blacklist names of 4.0 are aliases):
//   ImageInfo     image_count, pixel_coverage, image_to_text_ratio, image_size_exact,
//                 image_size_range, image_named (image_name_regex is not implemented)
//   URIEval       check_uri_truncated, check_https_ip_mismatch
//   HTTPSMismatch check_https_http_mismatch
//   VBounce       have_any_bounce_relays, check_welcomelist_bounce_relays
//   WLBLEval      check_uri_host_listed, check_uri_host_in_blocklist,
//                 check_uri_host_in_welcomelist
//   WelcomeListSubject  check_subject_in_welcomelist, check_subject_in_blocklist
//
// Semantics follow the Perl, quirks included: ImageInfo looks only at base64-encoded leaves of
// type image/gif, image/png, image/jpeg or image/jpg, decodes them with SA's base64 decoder
// (Util::base64_decode, both of its paths) and reads the dimensions with SA's unpack() walks
// (a PNG chunk walk that steps 8 bytes at a time, JPEG SOF markers C0-CF but C4/C8/CC, short
// data read the way Perl's unpack reads it). image_to_text_ratio divides the byte length of
// the text SA hands the eval (rendered body for `body` rules, decoded body for `rawbody`) by
// the pixel area. The HTTPS evals read each HTML part's anchors (SA's uri_detail anchor_text,
// keyed by the <a href> as written) and use RegistryBoundaries (util_rb_tld/2tld/3tld) for
// domains. Host lists use uri_to_domain on every canonical URI except mailto:. The lists
// themselves come from EvalConfig (eval_config.h).
//
// Known differences from SpamAssassin: hosts with non-ASCII characters are not converted to
// punycode (SA does, with Net::LibIDN), so uri_to_domain finds no host for them.
//
// Nothing here throws or asserts on message content; missing inputs make an eval return false.
//
// Thread-safety: ImageFacts is immutable after construction and may be
// shared between threads; all functions are reentrant.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mime/message.h"
#include "rules/eval/eval_config.h"
#include "rules/eval/message_eval.h"

namespace mailsift::rules {

// ---------------------------------------------------------------------------------------------
// Per-message facts

// ImageInfo's $pms->{imageinfo}: per type ("all", "gif", "png", "jpeg").
struct ImageFacts {
  struct PerType {
    double pixels = 0;           // pc_<type>: sum of width*height of images with both > 0
    size_t count = 0;            // count_<type>: base64 image leaves, parsed or not
    std::set<std::string> dims;  // dems_<type>: "HEIGHTxWIDTH"
  };
  std::map<std::string, PerType, std::less<>> types;  // always has the four keys
  std::set<std::string> names;  // names_all: file names of images whose size was found
};

// _get_images over SA's MIME tree.
ImageFacts ComputeImageFacts(const MessageFacts& facts);

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

// ---------------------------------------------------------------------------------------------
// Building blocks, exported for tests and reuse

// Util::base64_decode($raw, $limit): SA's two paths (MIME::Base64 for clean input, the
// uudecode fallback otherwise); `limit` 0 means everything.
std::string SaBase64Decode(std::string_view raw, size_t limit = 0);

// Width and height as ImageInfo's get_details reads them from decoded bytes; {0, 0} when the
// data is not such an image or the size is not found.
std::pair<double, double> GifSize(std::string_view first13);
std::pair<double, double> PngSize(std::string_view data);
std::pair<double, double> JpegSize(std::string_view data);

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
