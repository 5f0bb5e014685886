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
// domains. Host lists use uri_to_domain on every canonical URI except mailto:.
//
// Known differences from SpamAssassin: hosts with non-ASCII characters are not converted to
// punycode (SA does, with Net::LibIDN), so uri_to_domain finds no host for them; the relative
// order of enlist_uri_host / blocklist_uri_host / welcomelist_uri_host and delist_uri_host
// lines is not known from Ruleset::settings(), so all delist_uri_host lines are applied after
// all enlisting lines.
//
// Nothing here throws or asserts on message content; missing inputs make an eval return false.
//
// Thread-safety: MiscEvalConfig and ImageFacts are immutable after construction and may be
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
#include "rules/cf/ruleset.h"
#include "rules/eval/message_eval.h"

namespace mailsift::rules {

// ---------------------------------------------------------------------------------------------
// Configuration (from .cf directives)

// One enlist_uri_host / blocklist_uri_host / welcomelist_uri_host line (list "BLOCK" /
// "WELCOME" for the short forms), or a delist_uri_host line (`delist`, list empty when none is
// named). Hosts as written; a leading '!' excludes.
struct UriHostDirective {
  bool delist = false;
  std::string list;
  std::vector<std::string> hosts;
};

struct MiscEvalSettings {
  // One entry per welcomelist_subject / whitelist_subject (blocklist_subject /
  // blacklist_subject) line: the whole line is one glob, blanks included.
  std::vector<std::string> welcomelist_subject;
  std::vector<std::string> blocklist_subject;
  // welcomelist_bounce_relays / whitelist_bounce_relays words (globs).
  std::vector<std::string> welcomelist_bounce_relays;
  // URI host list directives, in the order they are to be applied.
  std::vector<UriHostDirective> uri_host_directives;
  // RegistryBoundaries: util_rb_tld, util_rb_2tld, util_rb_3tld words.
  std::vector<std::string> valid_tlds;
  std::vector<std::string> two_level_domains;
  std::vector<std::string> three_level_domains;
};

// Reads the directives above from a rule set (only the inline Ruleset::settings() is used, so
// this library need not link the rule parser). Malformed enlist_uri_host lines (no "(NAME)")
// are skipped, as SA rejects them.
MiscEvalSettings MiscEvalSettingsFromRuleset(const Ruleset& ruleset);

// The compiled, immutable form of MiscEvalSettings.
class MiscEvalConfig {
 public:
  static std::shared_ptr<const MiscEvalConfig> Build(const MiscEvalSettings& settings);
  ~MiscEvalConfig();
  MiscEvalConfig(const MiscEvalConfig&) = delete;
  MiscEvalConfig& operator=(const MiscEvalConfig&) = delete;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  MiscEvalConfig();
  std::unique_ptr<Impl> impl_;
};

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

struct MiscEvalInput {
  // SA's MIME tree and html_all (ComputeMessageFacts), cached by the caller. Needed by
  // ImageInfo (unless `images` is set), check_uri_truncated, the HTTPS evals and VBounce's
  // pristine-body scan (with `message`).
  const MessageFacts* facts = nullptr;
  const mime::Message* message = nullptr;
  const MiscEvalConfig* config = nullptr;  // required for VBounce, WLBL and subject lists
  // ComputeImageFacts(*facts) when the caller caches it; computed per call when null.
  const ImageFacts* images = nullptr;
  // PerMsgStatus::get('Subject'): every Subject value + "\n", joined; "" or null when absent.
  const std::string* subject = nullptr;
  // get_uri_list: the canonical URIs (cleaned, cut at 8192 bytes) of text and HTML parts.
  const std::vector<std::string>* uris = nullptr;
  // Where the distinct hosts of `uris` are kept for the message once an eval has looked them
  // up (the WLBL host-list evals, three rules); computed per call when null.
  std::optional<std::vector<std::string>>* uri_hosts = nullptr;
  // Whether a cleaned URI was longer than 8192 bytes before it was cut (add_uri_detail_list's
  // uri_truncated). When unset, a URI in `uris` of 8192 bytes or more counts as cut.
  std::optional<bool> cleaned_uri_truncated;
  // Per entry of facts->html_all, that part's anchors in document order.
  const std::vector<std::vector<HtmlAnchor>>* html_anchors = nullptr;
  // get_decoded_stripped_body_text_array (rendered body lines, Subject first), for VBounce.
  const std::vector<std::string>* body_lines = nullptr;
  // The text array SA passes to this call as $body: the rendered body lines when the calling
  // rule is a `body` rule, the decoded body text array (get_decoded_body_text_array) for
  // `rawbody`. Only image_to_text_ratio reads it (its byte length).
  const std::vector<std::string>* eval_text = nullptr;
};

using MiscEvalFunction = bool (*)(const MiscEvalInput& input, const std::vector<std::string>& args);

// SA's eval function name → implementation, or nullptr when it is not one of this module's.
const MiscEvalFunction* FindMiscEval(std::string_view name);
std::vector<std::string_view> MiscEvalNames();

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
std::optional<std::pair<std::string, std::string>> UriToDomain(const MiscEvalConfig& config,
                                                               std::string_view uri);
// RegistryBoundaries::trim_domain and is_domain_valid (lower-casing stands in for
// idn_to_ascii).
std::string TrimDomain(const MiscEvalConfig& config, std::string_view domain);
bool IsDomainValid(const MiscEvalConfig& config, std::string_view domain);
// Constants::IS_IP_ADDRESS (IPv4 without leading zeros, IPv6 with an optional "IPv6:").
bool IsIpAddress(std::string_view text);

}  // namespace mailsift::rules
