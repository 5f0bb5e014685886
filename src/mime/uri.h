// mime/uri.h — URI extraction from rendered text and URI canonicalisation, as SpamAssassin 4.0.1
// feeds its `uri` rules (PerMsgStatus get_uri_detail_list for text, Util uri_list_canonicalize).
//
// ExtractTextUris finds, in decoded and HTML-stripped text, what Thunderbird/Outlook would
// linkify: schemed URIs (http, https, ftp, mailto), schemeless "www." / "ftp." hosts, bare host
// names that end in a known TLD and form a valid FQDN (the caller supplies the TLD list, from
// util_rb_tld lines) and e-mail addresses, which become mailto: URIs. Trailing punctuation is
// dropped, ")" ends a URI that has no "(" before it, and the start/end delimiters (<>, quotes,
// brackets, blanks) bound it.
//
// CanonicalizeUri returns the list SpamAssassin matches `uri` rules against for one URI: the URI
// itself plus the variants it adds — %-decoded, scheme added, "http:foo" → "http://foo", "\" →
// "/", &#NN; entities decoded, default port dropped, userinfo and trailing junk removed from the
// host, dotted/decimal/hex/octal IPv4 hosts normalised, "http://foo/" → "http://www.foo.com/",
// mailto: addresses without ?query or %20, and redirector targets (redirector_pattern regexes
// compiled with PCRE2, then SpamAssassin's generic "…http://…" fallback), each canonicalised in
// turn. IDN hosts are left as they are: SpamAssassin (with Net::LibIDN) would also add their
// punycode ("xn--") variants, which this module does not; everything else was checked against
// SpamAssassin 4.0.1's own functions on some 20,000 generated inputs with identical results.
//
// Nothing here fails on malformed input: bad bytes are carried along or skipped, and the work
// per call is bounded (at most kMaxCanonicalUris results, input URIs capped at kMaxUriBytes).
// Cutting cleaned URIs to SpamAssassin's MAX_URI_LENGTH (8192) is left to the caller, as in
// SpamAssassin (add_uri_detail_list), which also dedups across the message.
//
// Thread-safety: a TldSet (once filled) and a RedirectorPatterns are read-only and may be
// shared by threads (RedirectorPatterns allocates its PCRE2 match data per call); the functions
// are pure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/error.h"

namespace mailsift::mime {

inline constexpr size_t kMaxCanonicalUris = 256;
inline constexpr size_t kMaxUriBytes = 64 * 1024;

// The valid top-level domains (SpamAssassin's valid_tlds: the util_rb_tld entries). Names are
// stored in ASCII lower case; a name with a "." or blank is ignored (util_rb_2tld/3tld entries
// are not TLDs for this purpose, as in SpamAssassin).
class TldSet {
 public:
  TldSet() = default;
  explicit TldSet(const std::vector<std::string>& tlds);
  void Add(std::string_view tld);
  // True when `label` (any case) is a known TLD.
  bool Contains(std::string_view label) const;
  // SpamAssassin's is_domain_valid: no blanks, at least one dot, last label a known TLD.
  bool IsDomainValid(std::string_view domain) const;
  bool empty() const { return tlds_.empty(); }

 private:
  std::unordered_set<std::string> tlds_;
};

// redirector_pattern regexes. Each pattern is written as in a .cf file: "/re/flags",
// "m{re}flags", "m!re!flags" (flags i, s, m, x); a pattern without delimiters is the bare regex.
class RedirectorPatterns {
 public:
  RedirectorPatterns();
  ~RedirectorPatterns();
  RedirectorPatterns(RedirectorPatterns&&) noexcept;
  RedirectorPatterns& operator=(RedirectorPatterns&&) noexcept;

  // Compiles all patterns; an invalid one is an error naming it (SpamAssassin refuses it too).
  static Result<RedirectorPatterns> Compile(const std::vector<std::string>& patterns);

  // The first pattern that matches `uri` with a capture group 1 that contains a ".": that
  // capture. Empty when none does (a pattern over its match limit counts as no match).
  std::string FindTarget(std::string_view uri) const;
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TextUri {
  std::string raw;          // as found, after trailing-punctuation trimming
  std::string uri;          // with scheme added ("http://", "ftp://", "mailto:")
  bool schemeless = false;  // found without a scheme (SpamAssassin type "schemeless")
  bool unlinked = false;    // bare host name an MUA would not linkify (type "unlinked")
};

// URIs in the rendered text lines of a message, in order of appearance; a raw URI seen before
// (in any of `texts`) is not repeated.
std::vector<TextUri> ExtractTextUris(const std::vector<std::string_view>& texts,
                                     const TldSet& tlds);
std::vector<TextUri> ExtractTextUris(std::string_view text, const TldSet& tlds);

// uri_list_canonicalize for one URI: the cleaned URI followed by its variants, without
// duplicates. `redirectors` may be null (no redirector_pattern).
std::vector<std::string> CanonicalizeUri(std::string_view uri, const TldSet& tlds,
                                         const RedirectorPatterns* redirectors = nullptr);

// SpamAssassin's url_encode (which, despite its name, decodes): "%XX" for 0x21–0x7E is decoded,
// other escapes are kept; controls, blanks, bytes ≥ 0x7F, '"', '%', '<' and '>' are escaped.
std::string SaUrlDecode(std::string_view in);

// Util::is_fqdn_valid: 2+ labels of 1–63 [a-z0-9_-], no leading/trailing "-", "_" only from the
// third level down, 253 bytes at most (trailing dots ignored). Compared in lower case.
bool IsFqdnValid(std::string_view host);

}  // namespace mailsift::mime
