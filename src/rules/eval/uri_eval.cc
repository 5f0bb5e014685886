// rules/eval/uri_eval.cc — see uri_eval.h. Written from the behaviour of SpamAssassin 4.0.1's
// Plugin/URIEval.pm, HTML.pm's uri_detail and RegistryBoundaries.pm.
#include "rules/eval/uri_eval.h"

#include <arpa/inet.h>

#include <algorithm>
#include <unordered_map>

#include "base/strings.h"
#include "mime/uri.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

namespace {

bool IsIpv4(std::string_view s) {
  int octets = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
    size_t n = i - start;
    if (n == 0 || (n > 1 && s[start] == '0')) return false;
    if (std::atoi(std::string(s.substr(start, n)).c_str()) > 255) return false;
    if (++octets == 4) return i == s.size();
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
}

}  // namespace

std::string TrimDomain(const EvalConfig& config, std::string_view domain) {
  return config.boundaries.TrimDomain(domain);
}

bool IsDomainValid(const EvalConfig& config, std::string_view domain) {
  return config.boundaries.IsDomainValid(domain);
}

bool IsIpAddress(std::string_view text) {
  if (IsIpv4(text)) return true;
  std::string_view v6 = text;
  if (StartsWithIgnoreCase(v6, "ipv6:")) v6.remove_prefix(5);
  if (v6.empty() || v6.size() > 45) return false;
  for (char c : v6) {
    if (!(IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) {
      return false;
    }
  }
  unsigned char buf[16];
  return inet_pton(AF_INET6, std::string(v6).c_str(), buf) == 1;
}

std::optional<std::pair<std::string, std::string>> UriToDomain(const EvalConfig& config,
                                                               std::string_view uri_in) {
  std::string uri = ToLowerAscii(uri_in);
  for (std::string_view p : {"javascript:", "cid:", "file:"}) {
    if (uri.rfind(p, 0) == 0) return std::nullopt;
  }
  if (uri.rfind("mailto:", 0) == 0) {
    uri.erase(0, 7);
    if (size_t q = uri.find('?'); q != std::string::npos) {
      size_t nl = uri.find('\n', q);  // `.` stops at a newline
      uri.erase(q, nl == std::string::npos ? std::string::npos : nl - q);
    }
    size_t at = uri.find('@');
    if (at != std::string::npos && uri.find('@', at + 1) != std::string::npos) {
      return std::nullopt;
    }
    if (at == std::string::npos) return std::nullopt;
    uri.erase(0, at + 1);
  } else {
    size_t i = 0;
    while (i < uri.size() && uri[i] >= 'a' && uri[i] <= 'z') ++i;
    if (i > 0 && i < uri.size() && uri[i] == ':') {
      ++i;
      for (int k = 0; k < 2 && i < uri.size() && uri[i] == '/'; ++k) ++i;
      uri.erase(0, i);
    }
    if (size_t cut = uri.find_first_of("/?#"); cut != std::string::npos) uri.resize(cut);
    if (size_t at = uri.rfind('@'); at != std::string::npos) uri.erase(0, at + 1);
    if (size_t colon = uri.rfind(':');
        colon != std::string::npos && std::all_of(uri.begin() + colon + 1, uri.end(), IsDigit)) {
      uri.resize(colon);
    }
  }
  // Skip still-encoded URIs (url_encode would have decoded these):
  // /\%(?:2[1-9a-f]|[3-6][0-9a-f]|7[0-9a-e])/
  auto hex = [](char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); };
  for (size_t p = uri.find('%'); p != std::string::npos && p + 2 < uri.size();
       p = uri.find('%', p + 1)) {
    char a = uri[p + 1], b = uri[p + 2];
    if (!hex(b)) continue;
    if ((a == '2' && b != '0') || (a >= '3' && a <= '6') || (a == '7' && b != 'f')) {
      return std::nullopt;
    }
  }
  // idn_to_ascii: ASCII names are only lower-cased; others would need punycode (not done).
  if (std::any_of(uri.begin(), uri.end(), [](char c) { return (c & 0x80) != 0; })) {
    return std::nullopt;
  }
  std::string host = uri;
  std::string domain = host;
  if (!IsIpAddress(host)) {
    if (!mime::IsFqdnValid(host)) return std::nullopt;
    if (!IsDomainValid(config, host)) return std::nullopt;
    domain = TrimDomain(config, host);
  }
  return std::pair{domain, host};
}

std::vector<HtmlAnchor> PairAnchors(const std::vector<std::string>& hrefs,
                                    const std::vector<std::string>& texts) {
  std::vector<HtmlAnchor> out;
  size_t n = std::min(hrefs.size(), texts.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({hrefs[i], texts[i]});
  return out;
}

std::vector<std::pair<std::string_view, std::vector<std::string_view>>> AnchorTextByUri(
    const std::vector<HtmlAnchor>& anchors) {
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> out;
  std::unordered_map<std::string_view, size_t> index;
  for (const HtmlAnchor& a : anchors) {
    auto [it, fresh] = index.emplace(a.href, out.size());
    if (fresh) out.emplace_back(a.href, std::vector<std::string_view>());
    out[it->second].second.push_back(a.text);
  }
  return out;
}

namespace {

bool CheckUriTruncated(EvalInput& in, const std::vector<std::string>&) {
  for (const mime::HtmlResult& html : in.facts().html_all) {
    if (html.uri_truncated) return true;
  }
  if (in.known().cleaned_uri_truncated) return *in.known().cleaned_uri_truncated;
  for (const std::string& u : in.uris()) {
    if (u.size() >= mime::kMaxUriLength) return true;
  }
  return false;
}

// m%^https?:/*(?:[^@/]+@)?\d+\.\d+\.\d+\.\d+%i from `pos` (after the scheme's colon).
bool DottedQuadAfterScheme(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == '/') ++pos;
  if (DottedQuadLength(s, pos) != 0) return true;
  // (?:[^@/]+@)? — the userinfo may end at any '@' before the first '/' (or '@' run).
  for (size_t p = pos; p < s.size() && s[p] != '/'; ++p) {
    if (s[p] == '@') {
      if (p > pos && DottedQuadLength(s, p + 1) != 0) return true;
      break;  // [^@/]+ cannot cross an '@'
    }
  }
  return false;
}

bool StartsWithHttpIp(std::string_view s, bool https_only) {
  size_t pos;
  if (StartsWithIgnoreCase(s, "https:")) {
    pos = 6;
  } else if (!https_only && StartsWithIgnoreCase(s, "http:")) {
    pos = 5;
  } else {
    return false;
  }
  return DottedQuadAfterScheme(s, pos);
}

bool CheckHttpsIpMismatch(EvalInput& in, const std::vector<std::string>&) {
  for (const std::vector<HtmlAnchor>& anchors : in.html_anchors()) {
    for (const auto& [uri, texts] : AnchorTextByUri(anchors)) {
      if (!StartsWithHttpIp(uri, false)) continue;
      for (std::string_view text : texts) {
        if (StartsWithHttpIp(text, true)) continue;
        if (ContainsIgnoreCase(text, "https:")) return true;
      }
    }
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"check_uri_truncated", &CheckUriTruncated},
    {"check_https_ip_mismatch", &CheckHttpsIpMismatch},
};

}  // namespace

EvalTable UriEvals() { return kEvals; }

}  // namespace mailsift::rules
