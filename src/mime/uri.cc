// mime/uri.cc — see uri.h. Behaviour follows SpamAssassin 4.0.1 (PerMsgStatus _tbirdurire and
// _process_text_uri_list, Util uri_list_canonicalize and url_encode); the matching is written
// out by hand, so every loop below is bounded by the limits SpamAssassin's regexes carry.
#include "mime/uri.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <unordered_set>

#include "base/strings.h"

namespace mailsift::mime {
namespace {

bool IsAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsWord(unsigned char c) { return IsAlnum(c) || c == '_'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsHex(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexVal(unsigned char c) {
  if (IsDigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}
// Perl's \s (5.18+, byte semantics).
bool IsSpace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Delimiter sets of the text URI scanner (Thunderbird/Outlook hybrid).
// The characters that end a URI and start one alike.
bool IsDelim(unsigned char c) {
  switch (c) {
    case '>':
    case '<':
    case '"':
    case '`':
    case '{':
    case '[':
    case '|':
    case 0x1b:
    case 0xa0:
      return true;
    default:
      return IsSpace(c);
  }
}
bool IsEndDelim(unsigned char c) { return c == '}' || c == ']' || IsDelim(c); }
bool IsStartDelim(unsigned char c) { return c == '\'' || c == ',' || c == '(' || IsDelim(c); }
bool IsEmailEndDelim(unsigned char c) {
  return IsEndDelim(c) || c == ',' || c == '(' || c == '\'' || c >= 0x80;
}
bool IsSchemelessStartDelim(unsigned char c) {
  static constexpr std::string_view kSet = "!\"#$&'()*+,/:;<=>?@[\\]^`{|}~";
  return kSet.find(static_cast<char>(c)) != std::string_view::npos || IsSpace(c) || c == 0x1b ||
         c == 0xa0;
}
bool IsHostChar(unsigned char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; }
bool IsTldChar(unsigned char c) { return IsAlnum(c) || c == '-'; }

constexpr size_t kMaxRunUri = 2048;
constexpr size_t kMaxRunMail = 251;

class Scanner {
 public:
  Scanner(std::string_view t, const TldSet& tlds) : t_(t), tlds_(tlds) {}

  // Length of the run of bytes from `from` for which `pred` holds, stopping after `limit` + 1.
  template <typename Pred>
  size_t Run(size_t from, size_t limit, Pred pred) const {
    size_t i = from;
    while (i < t_.size() && i - from <= limit && pred(static_cast<unsigned char>(t_[i]))) ++i;
    return i - from;
  }
  unsigned char At(size_t i) const { return static_cast<unsigned char>(t_[i]); }

  bool StartOk(size_t p) const {
    bool prev_word = p > 0 && IsWord(At(p - 1));
    if (prev_word != IsWord(At(p))) return true;
    if (p >= 3 && At(p - 3) == 0x1b && At(p - 2) == '(' && At(p - 1) != '\n') return true;
    return p > 0 && IsStartDelim(At(p - 1));
  }

  // http://, https://, ftp://, www\d{0,2}., ftp. followed by 1..2048 non-delimiters.
  size_t KnownScheme(size_t p) const {
    // Every prefix below starts with h, f or w: most positions are ruled out at once.
    const unsigned char first = At(p) | 0x20;
    if (first != 'h' && first != 'f' && first != 'w') return 0;
    std::string_view s = t_.substr(p);
    size_t prefix = 0;
    if (StartsWithIgnoreCase(s, "https://")) {
      prefix = 8;
    } else if (StartsWithIgnoreCase(s, "http://") || StartsWithIgnoreCase(s, "ftp://")) {
      prefix = 7 - (s[0] == 'f' || s[0] == 'F');
    } else if (StartsWithIgnoreCase(s, "ftp.")) {
      prefix = 4;
    } else if (StartsWithIgnoreCase(s, "www")) {
      size_t d = Run(p + 3, 3, IsDigit);
      if (d <= 2 && p + 3 + d < t_.size() && At(p + 3 + d) == '.') prefix = 4 + d;
    }
    if (prefix == 0) return 0;
    size_t run = Run(p + prefix, kMaxRunUri, [](unsigned char c) { return !IsEndDelim(c); });
    if (run < 1 || run > kMaxRunUri) return 0;
    return prefix + run;
  }

  size_t Mail(size_t p) const {
    if ((At(p) | 0x20) == 'm' && StartsWithIgnoreCase(t_.substr(p), "mailto:")) {
      size_t run = Run(p + 7, kMaxRunUri, [](unsigned char c) { return !IsEmailEndDelim(c); });
      if (run >= 1 && run <= kMaxRunUri) return 7 + run;
    }
    size_t local =
        Run(p, kMaxRunMail, [](unsigned char c) { return !IsEmailEndDelim(c) && c != '@'; });
    if (local < 1 || local > kMaxRunMail || p + local >= t_.size() || At(p + local) != '@') {
      return 0;
    }
    size_t dom =
        Run(p + local + 1, kMaxRunMail, [](unsigned char c) { return !IsEmailEndDelim(c); });
    if (dom < 1 || dom > kMaxRunMail) return 0;
    return local + 1 + dom;
  }

  // After the TLD: optional ".", optional ":port", optional "/path", then a delimiter or the
  // end. Returns the end offset or npos.
  size_t SchemelessTail(size_t q) const {
    for (int dot = 1; dot >= 0; --dot) {
      if (dot == 1 && (q >= t_.size() || At(q) != '.')) continue;
      size_t q1 = q + dot;
      size_t q2 = q1;
      if (q1 < t_.size() && At(q1) == ':') {
        size_t d = Run(q1 + 1, 6, IsDigit);
        if (d >= 1 && d <= 5) q2 = q1 + 1 + d;
      }
      if (q2 < t_.size() && At(q2) == '/') {
        size_t run = Run(q2 + 1, kMaxRunUri, [](unsigned char c) { return !IsEndDelim(c); });
        if (run >= 1 && run <= kMaxRunUri) return q2 + 1 + run;
      }
      if (q2 == t_.size() || IsEndDelim(At(q2))) return q2;
    }
    return std::string_view::npos;
  }

  size_t Schemeless(size_t p, bool* host_invalid) const {
    if (tlds_.empty()) return 0;
    if (p > 0 && !IsSchemelessStartDelim(At(p - 1))) return 0;
    if (!IsAlnum(At(p))) return 0;
    size_t run = 1 + Run(p + 1, 251, IsHostChar);
    size_t max_e = std::min(p + run, p + 252);
    for (size_t e = max_e; e > p; --e) {
      if (e >= t_.size() || At(e) != '.') continue;
      size_t m = Run(e + 1, 64, IsTldChar);
      if (m == 0) continue;
      size_t q = e + 1 + m;
      if (q < t_.size() && IsTldChar(At(q))) continue;  // label longer than any TLD
      if (q + 1 < t_.size() && At(q) == '.' && IsAlnum(At(q + 1))) continue;
      if (!tlds_.Contains(t_.substr(e + 1, m))) continue;
      size_t end = SchemelessTail(q);
      if (end == std::string_view::npos) continue;
      // The regex has matched; a host that is not a valid FQDN drops the match (it is not
      // retried shorter).
      if (!IsFqdnValid(t_.substr(p, q - p))) *host_invalid = true;
      return end - p;
    }
    return 0;
  }

  enum class Kind { kNone, kScheme, kMail, kSchemeless };
  // Finds the next match at or after `pos`: [start, start+len).
  Kind Next(size_t pos, size_t& start, size_t& len, bool& host_invalid) const {
    host_invalid = false;
    for (size_t p = pos; p < t_.size(); ++p) {
      if (!StartOk(p)) continue;
      if ((len = KnownScheme(p)) != 0) {
        start = p;
        return Kind::kScheme;
      }
      if ((len = Mail(p)) != 0) {
        start = p;
        return Kind::kMail;
      }
      if ((len = Schemeless(p, &host_invalid)) != 0) {
        start = p;
        return Kind::kSchemeless;
      }
    }
    return Kind::kNone;
  }

 private:
  std::string_view t_;
  const TldSet& tlds_;
};

void TrimRawUri(std::string& raw) {
  // ")" ends the URI when no "(" precedes it (Thunderbird).
  size_t open = raw.find('(');
  size_t close = raw.rfind(')', open == std::string::npos ? std::string::npos : open);
  if (close != std::string::npos && (open == std::string::npos || close < open)) {
    raw.resize(close);
  }
  static constexpr std::string_view kTrailing = "-~!@#^&*()_+=:;'?,.";
  while (!raw.empty() && kTrailing.find(raw.back()) != std::string_view::npos) raw.pop_back();
}

// ^\w+:/{0,2}$
bool IsEmptySchemeOnly(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsWord(s[i])) ++i;
  if (i == 0 || i >= s.size() || s[i] != ':') return false;
  size_t rest = s.size() - i - 1;
  return rest <= 2 && s.substr(i + 1).find_first_not_of('/') == std::string_view::npos;
}

bool HasPercentHex(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '%' && IsHex(s[i + 1]) && IsHex(s[i + 2])) return true;
  }
  return false;
}

// Turns a raw text match into the URI SpamAssassin adds, or returns false to skip it.
bool CookTextUri(const std::string& raw, bool mail_match, const TldSet& tlds, TextUri& out) {
  if (mail_match && raw.find('@') == std::string::npos) return false;
  if (StartsWithIgnoreCase(raw, "cid:") || StartsWithIgnoreCase(raw, "mid:")) return false;
  if (IsEmptySchemeOnly(raw)) return false;
  std::string uri = raw;
  out.schemeless = false;
  out.unlinked = false;
  if (!StartsWithIgnoreCase(uri, "http:") && !StartsWithIgnoreCase(uri, "https:") &&
      !StartsWithIgnoreCase(uri, "ftp:") && !StartsWithIgnoreCase(uri, "mailto:")) {
    size_t digits = 0;
    while (3 + digits < uri.size() && IsDigit(uri[3 + digits])) ++digits;
    size_t at = uri.find('@');
    size_t slash = uri.find('/');
    if (StartsWithIgnoreCase(uri, "ftp.")) {
      uri = "ftp://" + uri;
    } else if (StartsWithIgnoreCase(uri, "www") && digits <= 2 && 3 + digits < uri.size() &&
               uri[3 + digits] == '.') {
      uri = "http://" + uri;
    } else if (slash != std::string::npos && uri.find('@', slash + 2) != std::string::npos) {
      uri = "http://" + uri;  // a "/" before the "@": not an address
    } else if (at != std::string::npos) {
      // Needs a "." at least two bytes after the "@" (skips "Vi@gra").
      if (at + 2 >= uri.size() || uri.find('.', at + 2) == std::string::npos) return false;
      if (uri.find("&nbsp;") != std::string::npos) return false;
      // Strip common misparses: ^(?:skype|e?-?mail)?:+
      size_t k = 0;
      std::string low = ToLowerAscii(uri.substr(0, 8));
      for (std::string_view w : {"skype", "e-mail", "email", "-mail", "mail"}) {
        if (low.compare(0, w.size(), w) == 0 && w.size() < uri.size() && uri[w.size()] == ':') {
          k = w.size();
          break;
        }
      }
      size_t colons = 0;
      while (k + colons < uri.size() && uri[k + colons] == ':') ++colons;
      if (colons > 0) uri.erase(0, k + colons);
      uri = "mailto:" + uri;
    } else {
      if (uri.find('.') == std::string::npos) return false;
      uri = "http://" + uri;
      out.unlinked = true;
    }
    out.schemeless = true;
  }
  if (StartsWithIgnoreCase(uri, "mailto:")) {
    if (HasPercentHex(uri)) uri = SaUrlDecode(uri);
    size_t at = uri.find('@');
    if (at == std::string::npos) return false;
    size_t end = uri.find_first_of("?&>", at + 1);
    std::string_view host = std::string_view(uri).substr(at + 1, end - (at + 1));
    while (host.size() >= 3 && host.substr(host.size() - 3) == "%20") host.remove_suffix(3);
    if (!tlds.IsDomainValid(host)) return false;
  }
  out.raw = raw;
  out.uri = std::move(uri);
  return true;
}

// --- canonicalisation helpers ---

// One SpamAssassin entity pass: every "&#" at which `decode` recognises an entity (it returns
// the replacement and sets the length consumed after "&#") is replaced; the result is not
// rescanned within the pass.
template <typename Decode>
std::string EntityPass(std::string_view s, Decode decode) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&' && i + 1 < s.size() && s[i + 1] == '#') {
      size_t used = 0;
      int c = decode(s.substr(i + 2), used);
      if (c >= 0) {
        out.push_back(static_cast<char>(c));
        i += 2 + used;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// &#NN; (33..126), then &#xHH; (0x21..0x29, 0x30..0x7e), then the Unicode full stops, in three
// passes as SpamAssassin runs them.
std::string DecodeEntities(std::string_view s) {
  std::string a = EntityPass(s, [](std::string_view r, size_t& used) {
    size_t j = 0;
    while (j < r.size() && r[j] == '0') ++j;
    size_t k = j;
    while (k < r.size() && IsDigit(r[k]) && k - j < 4) ++k;
    if (k == j || k - j > 3 || k >= r.size() || r[k] != ';') return -1;
    int v = 0;
    for (size_t d = j; d < k; ++d) v = v * 10 + (r[d] - '0');
    if (v < 33 || v > 126) return -1;
    used = k + 1;
    return v;
  });
  std::string b = EntityPass(a, [](std::string_view r, size_t& used) {
    if (r.empty() || r[0] != 'x') return -1;
    size_t h = 1;
    while (h < r.size() && r[h] == '0') ++h;
    if (h + 2 >= r.size() || !IsHex(r[h]) || !IsHex(r[h + 1]) || r[h + 2] != ';') return -1;
    int v = HexVal(r[h]) * 16 + HexVal(r[h + 1]);
    if (!((v >= 0x21 && v <= 0x29) || (v >= 0x30 && v <= 0x7e))) return -1;
    used = h + 3;
    return v;
  });
  return EntityPass(b, [](std::string_view r, size_t& used) {
    static constexpr std::string_view kDots[] = {"x2e",   "12290", "x3002", "65294",
                                                 "xff0e", "65377", "xff61"};
    for (std::string_view d : kDots) {
      if (StartsWithIgnoreCase(r, d) && r.size() > d.size() && r[d.size()] == ';') {
        used = d.size() + 1;
        return static_cast<int>('.');
      }
    }
    return -1;
  });
}

uint64_t SaturatingParse(std::string_view digits, int base) {
  uint64_t v = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(HexVal(static_cast<unsigned char>(c)));
    if (v > (UINT64_MAX - d) / static_cast<uint64_t>(base)) return UINT64_MAX;
    v = v * static_cast<uint64_t>(base) + d;
  }
  return v;
}

// decode_ulong_to_ip: the first four bytes of "%08lx".
std::string UlongToIp(uint64_t v) {
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%08llx", static_cast<unsigned long long>(v));
  std::string out;
  for (int b = 0; b < 4; ++b) {
    if (b) out.push_back('.');
    out += std::to_string(HexVal(static_cast<unsigned char>(hex[2 * b])) * 16 +
                          HexVal(static_cast<unsigned char>(hex[2 * b + 1])));
  }
  return out;
}

// One dotted-quad chunk (without its "."): 0x hex → decimal, leading-zero octal → decimal,
// then leading zeros dropped.
std::string NormaliseOctet(std::string chunk) {
  if (chunk.size() > 2 && chunk[0] == '0' && (chunk[1] == 'x' || chunk[1] == 'X')) {
    uint64_t v = SaturatingParse(std::string_view(chunk).substr(2), 16);
    if (v > static_cast<uint64_t>(INT64_MAX)) v = static_cast<uint64_t>(INT64_MAX);
    chunk = std::to_string(v);
  }
  size_t z = 0;
  while (z < chunk.size() && chunk[z] == '0') ++z;
  if (z > 0 && z < chunk.size()) {
    std::string_view r = std::string_view(chunk).substr(z);
    bool octal = r.find_first_not_of("01234567") == std::string_view::npos;
    bool ok = octal && ((r[0] >= '1' && r[0] <= '3' && r.size() <= 3) ||
                        (r[0] >= '4' && r[0] <= '7' && r.size() <= 2));
    if (ok) chunk = std::to_string(SaturatingParse(r, 8));
  }
  z = 0;
  while (z < chunk.size() && chunk[z] == '0') ++z;
  return chunk.substr(z);
}

// Splits "a.b.c.d" where each part is 0x[hex]+ or digits; false otherwise.
bool SplitIpLike(std::string_view host, std::vector<std::string>& parts) {
  parts.clear();
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string_view part = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    bool hex = part.size() > 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X') &&
               std::all_of(part.begin() + 2, part.end(), [](char c) { return IsHex(c); });
    bool dec =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return IsDigit(c); });
    if (!hex && !dec) return false;
    parts.emplace_back(part);
    if (parts.size() > 4) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts.size() == 4;
}

void CanonicalizeEmail(const std::string& s, std::vector<std::string>& nuris) {
  size_t at = s.find('@');
  if (at == std::string::npos || at == 0) {
    // `[^@]+@` needs at least one byte before the first "@".
  } else {
    size_t qm = s.find('?', at + 1);
    if (qm != std::string::npos && qm > at + 1) nuris.push_back(s.substr(0, qm));
    size_t k = s.find_first_of("?&", at + 1);
    if (k != std::string::npos && s[k] == '&' && k > at + 1) nuris.push_back(s.substr(0, k));
  }
  if (s.find("%20") != std::string::npos && at != std::string::npos) {
    size_t end = s.find_first_of("?&%", at + 1);
    if (end == std::string::npos) end = s.size();
    if (end > at + 1) {
      bool done = false;
      for (int with_mailto = 1; with_mailto >= 0 && !done; --with_mailto) {
        size_t start = 0;
        if (with_mailto) {
          if (s.compare(0, 7, "mailto:") != 0) continue;
          start = 7;
        }
        size_t c = 0;
        while (s.compare(start + 3 * c, 3, "%20") == 0 && start + 3 * c + 3 <= s.size()) ++c;
        for (size_t j = c + 1; j-- > 0;) {
          size_t b = start + 3 * j;
          if (at > b) {
            nuris.push_back("mailto:" + s.substr(b, end - b));
            done = true;
            break;
          }
        }
      }
    }
  }
  // mailto:"Foo%20Bar"%20<foo.bar@example.com>
  size_t limit = s.find_first_of("?&");
  if (limit == std::string::npos) limit = s.size();
  for (size_t lt = std::min(limit, s.size()); lt-- > 0;) {
    if (s[lt] != '<') continue;
    size_t a = s.find_first_of("@>", lt + 1);
    if (a == std::string::npos || s[a] != '@' || a == lt + 1) continue;
    size_t gt = s.find('>', a + 1);
    if (gt == std::string::npos || gt == a + 1) continue;
    nuris.push_back("mailto:" + s.substr(lt + 1, gt - lt - 1));
    break;
  }
}

// The generic redirector check: the first (https?:/{0,2}[^&#]+) in `rest`.
std::string GenericRedirect(std::string_view rest) {
  for (size_t p = 0; p < rest.size(); ++p) {
    std::string_view s = rest.substr(p);
    size_t n = 0;
    if (StartsWithIgnoreCase(s, "https:")) {
      n = 6;
    } else if (StartsWithIgnoreCase(s, "http:")) {
      n = 5;
    } else {
      continue;
    }
    size_t end = s.find_first_of("&#", n);
    if (end == std::string_view::npos) end = s.size();
    if (end > n) return std::string(s.substr(0, end));
  }
  return {};
}

void CanonicalizeHttp(const std::string& nuri, const TldSet& tlds,
                      const RedirectorPatterns* redirectors, std::vector<std::string>& uris,
                      std::vector<std::string>& nuris) {
  size_t plen = StartsWithIgnoreCase(nuri, "https://")  ? 8
                : StartsWithIgnoreCase(nuri, "http://") ? 7
                                                        : 0;
  if (plen == 0) return;
  const std::string proto = nuri.substr(0, plen);
  const bool is_http = proto == "http://";
  std::string auth;
  size_t hpos = plen;
  size_t a = nuri.find_first_of("@/?#", plen);
  if (a != std::string::npos && nuri[a] == '@') {
    size_t hend = nuri.find_first_of("/?#:", a + 1);
    if (hend == std::string::npos) hend = nuri.size();
    if (hend > a + 1) {
      auth = nuri.substr(plen, a + 1 - plen);
      hpos = a + 1;
    }
  }
  size_t hend = nuri.find_first_of("/?#:", hpos);
  if (hend == std::string::npos) hend = nuri.size();
  if (hend == hpos) return;
  std::string host = nuri.substr(hpos, hend - hpos);
  const std::string rest = nuri.substr(hend);
  std::string port;
  if (!rest.empty() && rest[0] == ':') {
    size_t d = 1;
    while (d < rest.size() && IsDigit(rest[d])) ++d;
    port = rest.substr(1, d - 1);
  }
  std::string rest_noport;  // set when an explicit port was given
  if (port.empty()) {
    port = is_http ? "80" : "443";
  } else {
    rest_noport = rest;
    std::string_view p = is_http ? ":80" : ":443";
    if (rest.compare(0, p.size(), p) == 0 && (rest.size() == p.size() || !IsWord(rest[p.size()]))) {
      rest_noport = rest.substr(p.size());
      nuris.push_back(proto + host + rest_noport);
    }
  }
  // idn_to_ascii: a host of [A-Za-z0-9_.:[]-] is lowercased. Other ASCII hosts go through
  // libidn in SpamAssassin, which leaves an ASCII label as it is (case included); non-ASCII
  // (IDN) hosts are left as they are here, where SpamAssassin would convert them to punycode.
  const bool plain = std::all_of(host.begin(), host.end(), [](char c) {
    return IsAlnum(c) || c == '_' || c == '.' || c == ':' || c == '[' || c == ']' || c == '-';
  });
  const bool ascii = std::all_of(host.begin(), host.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  const std::string nhost = plain || !ascii ? ToLowerAscii(host) : host;
  if (nhost != ToLowerAscii(host)) {
    nuris.push_back(proto + nhost + rest);
    if (!rest_noport.empty()) nuris.push_back(proto + nhost + rest_noport);
  }

  size_t before = host.size();
  host.erase(std::remove_if(host.begin(), host.end(),
                            [](char c) { return static_cast<unsigned char>(c) <= 0x20; }),
             host.end());
  if (host.size() != before) nuris.push_back(proto + host + rest);

  std::string target;
  if (redirectors != nullptr) target = redirectors->FindTarget(proto + host + rest);
  if (target.empty()) {
    std::string g = GenericRedirect(rest);
    if (g.find('.') != std::string::npos) target = std::move(g);
  }
  if (!target.empty()) uris.push_back(std::move(target));

  size_t at = host.find('@');
  if (at != std::string::npos && at > 0) {
    host.erase(0, at + 1);
    nuris.push_back(proto + host + rest);
  }
  size_t keep = host.size();
  while (keep > 0 && !IsAlnum(host[keep - 1])) --keep;
  if (keep != host.size()) {
    host.resize(keep);
    nuris.push_back(proto + host + rest);
  }

  std::vector<std::string> parts;
  if (SplitIpLike(host, parts)) {
    std::string ip = proto;
    for (size_t i = 0; i < 4; ++i) {
      // The "." belongs to the chunk in SpamAssassin, so "0." becomes ".".
      ip += NormaliseOctet(parts[i]);
      if (i < 3) ip += '.';
    }
    nuris.push_back(ip + rest);
  } else if (host.size() > 2 && host[0] == '0' && (host[1] == 'x' || host[1] == 'X') &&
             std::all_of(host.begin() + 2, host.end(), [](char c) { return IsHex(c); })) {
    std::string_view digits = std::string_view(host).substr(2);
    if (digits.size() > 8) digits = digits.substr(digits.size() - 8);
    nuris.push_back(proto + UlongToIp(SaturatingParse(digits, 16)) + rest);
  } else if (!host.empty() &&
             std::all_of(host.begin(), host.end(), [](char c) { return IsDigit(c); })) {
    nuris.push_back(proto + UlongToIp(SaturatingParse(host, 10)) + rest);
  } else if (is_http && auth.empty() && nhost != "localhost" && port == "80") {
    // http://foo/ → http://www.foo.com/ as Firefox does.
    std::string_view label = nhost;
    if (label.size() > 4 && label.compare(0, 4, "www.") == 0 &&
        label.substr(4).find('.') == std::string_view::npos) {
      label.remove_prefix(4);
    }
    if (!label.empty() && label.find('.') == std::string_view::npos && !tlds.IsDomainValid(nhost)) {
      nuris.push_back(proto + "www." + std::string(label) + ".com" + rest);
    }
  }
}

}  // namespace

// --- TldSet ---

TldSet::TldSet(const std::vector<std::string>& tlds) {
  for (const std::string& t : tlds) Add(t);
}

void TldSet::Add(std::string_view tld) {
  if (tld.empty() || tld.find_first_of(". \t\r\n") != std::string_view::npos) return;
  tlds_.insert(ToLowerAscii(tld));
}

bool TldSet::Contains(std::string_view label) const {
  if (tlds_.empty() || label.size() > 64) return false;
  return tlds_.count(ToLowerAscii(label)) != 0;
}

bool TldSet::IsDomainValid(std::string_view domain) const {
  for (char c : domain) {
    if (IsSpace(static_cast<unsigned char>(c))) return false;
  }
  size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string_view last = domain.substr(dot + 1);
  return !last.empty() && Contains(last);
}

// --- RedirectorPatterns ---

struct RedirectorPatterns::Impl {
  std::vector<pcre2_code*> codes;
  pcre2_match_context* mctx = nullptr;
  ~Impl() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
    pcre2_match_context_free(mctx);
  }
};

RedirectorPatterns::RedirectorPatterns() : impl_(std::make_unique<Impl>()) {}
RedirectorPatterns::~RedirectorPatterns() = default;
RedirectorPatterns::RedirectorPatterns(RedirectorPatterns&&) noexcept = default;
RedirectorPatterns& RedirectorPatterns::operator=(RedirectorPatterns&&) noexcept = default;

size_t RedirectorPatterns::size() const { return impl_ ? impl_->codes.size() : 0; }

Result<RedirectorPatterns> RedirectorPatterns::Compile(const std::vector<std::string>& patterns) {
  RedirectorPatterns out;
  out.impl_->mctx = pcre2_match_context_create(nullptr);
  if (out.impl_->mctx == nullptr) return Fail("redirector_pattern: out of memory");
  pcre2_set_match_limit(out.impl_->mctx, 100000);
  pcre2_set_depth_limit(out.impl_->mctx, 5000);
  for (const std::string& pat : patterns) {
    std::string_view s = pat;
    while (!s.empty() && IsSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && IsSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    std::string_view body = s;
    std::string_view flags;
    char open = 0;
    if (!s.empty() && s[0] == '/') {
      open = '/';
      s.remove_prefix(1);
    } else if (s.size() > 1 && s[0] == 'm' && !IsWord(s[1]) && s[1] != '\\' && !IsSpace(s[1])) {
      open = s[1];
      s.remove_prefix(2);
    }
    if (open != 0) {
      char close = open == '{'   ? '}'
                   : open == '(' ? ')'
                   : open == '<' ? '>'
                   : open == '[' ? ']'
                                 : open;
      size_t end = s.rfind(close);
      if (end == std::string_view::npos)
        return Fail("redirector_pattern " + pat + ": no end delimiter");
      body = s.substr(0, end);
      flags = s.substr(end + 1);
    }
    uint32_t options = 0;
    for (char f : flags) {
      switch (f) {
        case 'i':
          options |= PCRE2_CASELESS;
          break;
        case 's':
          options |= PCRE2_DOTALL;
          break;
        case 'm':
          options |= PCRE2_MULTILINE;
          break;
        case 'x':
          options |= PCRE2_EXTENDED;
          break;
        case 'o':
        case 'g':
          break;
        default:
          return Fail("redirector_pattern " + pat + ": unknown modifier");
      }
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(body.data()), body.size(),
                                     options, &err, &off, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Fail("redirector_pattern " + pat + ": " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter if JIT fails
    out.impl_->codes.push_back(code);
  }
  return out;
}

std::string RedirectorPatterns::FindTarget(std::string_view uri) const {
  if (!impl_ || impl_->codes.empty()) return {};
  // One match data block for all patterns: only groups 0 and 1 are read.
  pcre2_match_data* md = pcre2_match_data_create(2, nullptr);
  if (md == nullptr) return {};
  std::string target;
  for (pcre2_code* code : impl_->codes) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(uri.data()), uri.size(), 0, 0, md,
                         impl_->mctx);
    // rc == 0: the ovector was too small for all groups, group 1 is still set.
    if (rc >= 2 || rc == 0) {
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      if (ov[2] != PCRE2_UNSET && ov[3] >= ov[2]) {
        target.assign(uri.substr(ov[2], ov[3] - ov[2]));
        if (target.find('.') != std::string::npos) break;
      }
    }
    target.clear();
  }
  pcre2_match_data_free(md);
  return target;
}

// --- public functions ---

std::string SaUrlDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '%' && i + 2 < in.size() + 0 && IsHex(in[i + 1]) && IsHex(in[i + 2])) {
      char h = ToLowerAscii(in[i + 1]), l = ToLowerAscii(in[i + 2]);
      bool decode = h >= '2' && h <= '7' && !(h == '2' && l == '0') && !(h == '7' && l == 'f');
      if (decode) {
        out.push_back(static_cast<char>(HexVal(h) * 16 + HexVal(l)));
      } else {
        out.append(in.substr(i, 3));
      }
      i += 2;
      continue;
    }
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '<' || c == '>') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool IsFqdnValid(std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > 253) return false;
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    labels.push_back(host.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels.size() < 2) return false;
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string_view l = labels[i];
    if (l.empty() || l.size() > 63) return false;
    auto ok = [](char c) { return IsAlnum(c) || c == '_' || c == '-'; };
    if (!std::all_of(l.begin(), l.end(), ok) || l.front() == '-' || l.back() == '-') return false;
    if (i + 2 >= labels.size() && l.find('_') != std::string_view::npos) return false;
  }
  return true;
}

std::vector<TextUri> ExtractTextUris(const std::vector<std::string_view>& texts,
                                     const TldSet& tlds) {
  std::vector<TextUri> out;
  std::unordered_set<std::string> seen;
  for (std::string_view text : texts) {
    Scanner scanner(text, tlds);
    size_t pos = 0;
    size_t start = 0;
    size_t len = 0;
    while (pos < text.size()) {
      bool host_invalid = false;
      Scanner::Kind kind = scanner.Next(pos, start, len, host_invalid);
      if (kind == Scanner::Kind::kNone) break;
      pos = start + len;
      std::string raw(text.substr(start, len));
      TrimRawUri(raw);
      if (!seen.insert(raw).second) continue;
      if (host_invalid) continue;
      TextUri uri;
      if (CookTextUri(raw, kind == Scanner::Kind::kMail, tlds, uri)) out.push_back(std::move(uri));
    }
  }
  return out;
}

std::vector<TextUri> ExtractTextUris(std::string_view text, const TldSet& tlds) {
  return ExtractTextUris(std::vector<std::string_view>{text}, tlds);
}

std::vector<std::string> CanonicalizeUri(std::string_view uri, const TldSet& tlds,
                                         const RedirectorPatterns* redirectors) {
  std::vector<std::string> uris{std::string(uri.substr(0, kMaxUriBytes))};
  std::vector<std::string> nuris;
  for (size_t i = 0; i < uris.size() && uris.size() + nuris.size() < kMaxCanonicalUris; ++i) {
    std::string& u = uris[i];
    u.erase(std::remove(u.begin(), u.end(), '\n'), u.end());
    size_t b = 0;
    while (b < u.size() && IsSpace(static_cast<unsigned char>(u[b]))) ++b;
    size_t e = u.size();
    while (e > b && IsSpace(static_cast<unsigned char>(u[e - 1]))) --e;
    u = u.substr(b, e - b);
    u.erase(std::remove(u.begin(), u.end(), '\r'), u.end());
    if (u.size() <= 1 || u[0] == '#' || u[0] == '?' || u[0] == '&' ||
        (u[0] == '/' && u[1] != '/')) {
      continue;
    }
    const std::string cur = u;  // `uris` may grow below
    size_t first_at = cur.find('@');
    if (StartsWithIgnoreCase(cur, "mailto:") ||
        (first_at != std::string::npos && cur.find(':') > first_at)) {
      CanonicalizeEmail(cur, nuris);
      continue;
    }
    std::string nuri = cur;
    std::replace(nuri.begin(), nuri.end(), '\\', '/');
    size_t scheme = StartsWithIgnoreCase(nuri, "https:")  ? 6
                    : StartsWithIgnoreCase(nuri, "http:") ? 5
                                                          : 0;
    if (scheme != 0) {
      size_t slashes = 0;
      while (slashes < 2 && scheme + slashes < nuri.size() && nuri[scheme + slashes] == '/') {
        ++slashes;
      }
      nuri.replace(scheme, slashes, "//");
    }
    if (HasPercentHex(nuri)) nuri = SaUrlDecode(nuri);
    size_t s = 0;
    while (s < nuri.size() && (IsAlnum(nuri[s]) || nuri[s] == '-' || nuri[s] == '_')) ++s;
    if (s == 0 || s >= nuri.size() || nuri[s] != ':') {
      nuri = (nuri.compare(0, 4, "ftp.") == 0 ? "ftp://" : "http://") + nuri;
    }
    size_t plen = StartsWithIgnoreCase(nuri, "https://")  ? 8
                  : StartsWithIgnoreCase(nuri, "http://") ? 7
                                                          : 0;
    if (plen != 0) {
      size_t h = nuri.find_first_of("/?#", plen);
      if (h != std::string::npos && h > plen && nuri[h] != '/') nuri.insert(h, "/");
    }
    nuri = DecodeEntities(nuri);
    if (nuri != cur) nuris.push_back(nuri);
    CanonicalizeHttp(nuri, tlds, redirectors, uris, nuris);
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (auto* list : {&uris, &nuris}) {
    for (std::string& u : *list) {
      if (out.size() >= kMaxCanonicalUris) break;
      if (seen.insert(u).second) out.push_back(std::move(u));
    }
  }
  return out;
}

}  // namespace mailsift::mime
