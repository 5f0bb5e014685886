// rules/eval/misc_eval.cc — see misc_eval.h. Written from the behaviour of SpamAssassin 4.0.1's
// Plugin/ImageInfo.pm, URIEval.pm, HTTPSMismatch.pm, VBounce.pm, WLBLEval.pm,
// WelcomeListSubject.pm, RegistryBoundaries.pm and Util.pm (base64_decode).
#include "rules/eval/misc_eval.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "base/strings.h"
#include "mime/codec.h"
#include "mime/uri.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/header_eval.h"
#include "rules/message/registry_boundaries.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

namespace {

// ---------------------------------------------------------------------------------------------
// Perl helpers

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Perl's numeric value of a string: leading blanks, then the longest decimal number prefix
// (Inf/NaN spelled out are numbers too); anything else is 0.
double PerlNum(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsPerlSpace(s[i])) ++i;
  size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string_view rest = s.substr(i);
  if (StartsWithIgnoreCase(rest, "inf")) {
    return (start < s.size() && s[start] == '-') ? -std::numeric_limits<double>::infinity()
                                                 : std::numeric_limits<double>::infinity();
  }
  if (StartsWithIgnoreCase(rest, "nan")) return std::numeric_limits<double>::quiet_NaN();
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && IsDigit(s[j])) {
      while (j < s.size() && IsDigit(s[j])) ++j;
      i = j;
    }
  }
  std::string number(s.substr(start, i - start));
  return std::strtod(number.c_str(), nullptr);
}

const std::string* Arg(const std::vector<std::string>& args, size_t i) {
  return i < args.size() ? &args[i] : nullptr;
}

// ImageInfo::result_check.
bool ResultCheck(const std::string& min, const std::string* max, std::optional<double> value,
                 bool no_max_equal = false) {
  if (!value) return false;
  if (*value < PerlNum(min)) return false;
  if (max != nullptr && *value > PerlNum(*max)) return false;
  // `$value == $max` with $max undef is a comparison with 0.
  if (no_max_equal && *value == (max != nullptr ? PerlNum(*max) : 0.0)) return false;
  return true;
}

// Perl's unpack for the numeric templates C, n, N, v: an item without enough bytes left
// yields nothing and consumes nothing, so later items read the remaining bytes.
std::vector<uint32_t> Unpack(std::string_view data, std::string_view format) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  for (char f : format) {
    size_t need = f == 'C' ? 1 : (f == 'n' || f == 'v') ? 2 : 4;
    if (data.size() - pos < need) continue;
    uint32_t v = 0;
    switch (f) {
      case 'C':
        v = byte(pos);
        break;
      case 'n':
        v = byte(pos) << 8 | byte(pos + 1);
        break;
      case 'v':
        v = byte(pos) | byte(pos + 1) << 8;
        break;
      default:  // 'N'
        v = byte(pos) << 24 | byte(pos + 1) << 16 | byte(pos + 2) << 8 | byte(pos + 3);
        break;
    }
    pos += need;
    out.push_back(v);
  }
  return out;
}

std::string_view Substr(std::string_view s, size_t pos, size_t len) {
  if (pos >= s.size()) return {};
  return s.substr(pos, len);
}

std::string FormatCount(double v) {
  // Perl prints integral values below 2^53 without a fraction; image sizes always are.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Util::base64_decode

std::string SaBase64Decode(std::string_view raw, size_t limit) {
  std::string s;
  s.reserve(raw.size());
  for (char c : raw) {
    if (!IsPerlSpace(c)) s.push_back(c);
  }
  auto value = [](char c) { return mime::Base64Value(static_cast<unsigned char>(c)); };
  bool clean = s.size() >= 2 && s.size() % 4 == 0 &&
               std::all_of(s.begin(), s.end(), [&](char c) { return value(c) >= 0 || c == '='; });
  // Both paths reduce to sextets decoded as one bit stream, whole bytes only:
  //   MIME::Base64 path: a run of '=' that is not at the end stands for 'A's (value 0);
  //   uudecode path: other bytes are dropped, trailing '=' removed, and an inner '=' is
  //   translated like '/' (tr maps it past the end of the uuencode range, to 63).
  size_t end = s.size();
  std::vector<int> sextets;
  sextets.reserve(s.size());
  if (clean) {
    while (end > 0 && s[end - 1] == '=') --end;
    for (size_t i = 0; i < end; ++i) sextets.push_back(s[i] == '=' ? 0 : value(s[i]));
  } else {
    std::string kept;
    for (char c : s) {
      if (value(c) >= 0 || c == '=') kept.push_back(c);
    }
    end = kept.size();
    while (end > 0 && kept[end - 1] == '=') --end;
    for (size_t i = 0; i < end; ++i) sextets.push_back(kept[i] == '=' ? 63 : value(kept[i]));
  }
  std::string out;
  out.reserve(sextets.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (int v : sextets) {
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      if (limit != 0 && out.size() >= limit) break;
    }
  }
  if (limit != 0 && out.size() > limit) out.resize(limit);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ImageInfo

std::pair<double, double> GifSize(std::string_view first13) {
  if (first13.size() < 6 || first13.substr(0, 4) != "GIF8" ||
      (first13[4] != '7' && first13[4] != '9') || first13[5] != 'a') {
    return {0, 0};
  }
  std::vector<uint32_t> v = Unpack(first13.substr(6), "vvCCC");
  double width = v.size() > 0 ? v[0] : 0, height = v.size() > 1 ? v[1] : 0;
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

std::pair<double, double> PngSize(std::string_view data) {
  if (data.substr(0, 8) != std::string_view("\x89PNG\x0d\x0a\x1a\x0a", 8)) return {0, 0};
  double width = 0, height = 0;
  size_t pos = 8;
  while (pos < data.size()) {
    std::string_view chunk = Substr(data, pos, 8);
    pos += 8;
    // unpack("Na4"): with fewer than 4 bytes the length fails and "a4" takes what is left, so
    // a type exists only with 8 bytes (IEND/IHDR need all four).
    if (chunk.size() < 8) continue;
    uint32_t len = Unpack(chunk, "N")[0];
    std::string_view type = chunk.substr(4, 4);
    if (type == "IEND") break;
    if (type != "IHDR" || len != 13) continue;
    std::string_view bytes = Substr(data, pos, 17);
    bytes.remove_suffix(std::min<size_t>(4, bytes.size()));  // the CRC
    std::vector<uint32_t> v = Unpack(bytes, "NNCCCCC");
    width = v.size() > 0 ? v[0] : 0;
    height = v.size() > 1 ? v[1] : 0;
    break;
  }
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

std::pair<double, double> JpegSize(std::string_view data) {
  if (data.substr(0, 2) != "\xFF\xD8") return {0, 0};
  double width = 0, height = 0;
  size_t pos = 2;
  for (;;) {
    std::vector<uint32_t> v = Unpack(Substr(data, pos, 4), "CCn");
    if (v.size() < 1 || v[0] != 0xFF) break;
    if (v.size() < 2 || v[1] == 0xDA || v[1] == 0xD9) break;
    if (v.size() < 3 || v[2] < 2) break;
    uint32_t mark = v[1];
    pos += 4;
    std::string_view block = Substr(data, pos, v[2] - 2);
    if ((mark >= 0xC0 && mark <= 0xC3) || (mark >= 0xC5 && mark <= 0xC7) ||
        (mark >= 0xC9 && mark <= 0xCB) || (mark >= 0xCD && mark <= 0xCF)) {
      std::vector<uint32_t> sof =
          Unpack(block.substr(0, std::min<size_t>(6, block.size())), "CnnC");
      height = sof.size() > 1 ? sof[1] : 0;
      width = sof.size() > 2 ? sof[2] : 0;
      break;
    }
    pos += block.size();
  }
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

ImageFacts ComputeImageFacts(const MessageFacts& facts) {
  ImageFacts out;
  for (const char* t : {"all", "gif", "png", "jpeg"}) out.types[t];
  for (const SaMimeNode& node : facts.nodes) {
    if (!node.leaf) continue;
    // find_parts(qr@^image/(?:gif|png|jpe?g)$@, 1)
    std::string_view type = node.type;
    if (type.substr(0, 6) != "image/") continue;
    std::string sub(type.substr(6));
    if (sub == "jpg") sub = "jpeg";
    if (sub != "gif" && sub != "png" && sub != "jpeg") continue;
    const std::string* cte = node.Header("content-transfer-encoding");
    if (cte == nullptr || ToLowerAscii(*cte) != "base64") continue;
    std::string raw;
    for (const std::string& line : node.raw_lines) raw += line;
    std::pair<double, double> size;
    if (sub == "gif") {
      size = GifSize(SaBase64Decode(raw, 13));
    } else if (sub == "png") {
      size = PngSize(SaBase64Decode(raw));
    } else {
      size = JpegSize(SaBase64Decode(raw));
    }
    ImageFacts::PerType& per = out.types[sub];
    per.count++;
    if (size.first > 0 && size.second > 0) {
      per.pixels += size.first * size.second;
      per.dims.insert(FormatCount(size.second) + "x" + FormatCount(size.first));
      if (!node.name.empty() && node.name != "0") out.names.insert(node.name);
    }
  }
  ImageFacts::PerType& all = out.types["all"];
  for (const char* t : {"gif", "png", "jpeg"}) {
    const ImageFacts::PerType& per = out.types[t];
    all.pixels += per.pixels;
    all.count += per.count;
    all.dims.insert(per.dims.begin(), per.dims.end());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RegistryBoundaries

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

// ---------------------------------------------------------------------------------------------
// The evals

namespace {

const EvalConfig* Cfg(EvalInput& in) { return &in.config(); }

// Runs `fn` with the message's ImageFacts (cached by the caller or computed now).
template <typename Fn>
bool WithImages(EvalInput& in, Fn fn) {
  return fn(in.images());
}

const ImageFacts::PerType* ImageType(const ImageFacts& images, const std::string* type) {
  if (type == nullptr) return nullptr;
  auto it = images.types.find(*type);
  return it == images.types.end() ? nullptr : &it->second;
}

bool ImageCount(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = Arg(args, 0);
  const std::string* min = Arg(args, 1);
  if (min == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return ResultCheck(*min, Arg(args, 2),
                       per ? std::optional<double>(static_cast<double>(per->count)) : std::nullopt);
  });
}

bool PixelCoverage(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = Arg(args, 0);
  const std::string* min = Arg(args, 1);
  if (type == nullptr || min == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return ResultCheck(*min, Arg(args, 2), per ? std::optional<double>(per->pixels) : std::nullopt);
  });
}

bool ImageToTextRatio(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = Arg(args, 0);
  const std::string* min = Arg(args, 1);
  const std::string* max = Arg(args, 2);
  if (type == nullptr || min == nullptr || max == nullptr) return false;
  size_t textlen = 0;
  for (const std::string& s : in.eval_text()) textlen += s.size();
  if (textlen == 0) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    if (per == nullptr || !(per->pixels > 0)) return false;
    return ResultCheck(*min, max, static_cast<double>(textlen) / per->pixels, true);
  });
}

bool ImageSizeExact(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = Arg(args, 0);
  const std::string* height = Arg(args, 1);
  const std::string* width = Arg(args, 2);
  if (type == nullptr || height == nullptr || width == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return per != nullptr && per->dims.count(*height + "x" + *width) > 0;
  });
}

bool ImageSizeRange(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = Arg(args, 0);
  const std::string* minh = Arg(args, 1);
  const std::string* minw = Arg(args, 2);
  const std::string* maxh = Arg(args, 3);
  const std::string* maxw = Arg(args, 4);
  if (type == nullptr || minh == nullptr || minw == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    if (per == nullptr) return false;
    for (const std::string& dem : per->dims) {
      size_t x = dem.find('x');
      double h = PerlNum(dem.substr(0, x)), w = PerlNum(dem.substr(x + 1));
      if (h < PerlNum(*minh) || w < PerlNum(*minw)) continue;
      if (maxh != nullptr && h > PerlNum(*maxh)) continue;
      if (maxw != nullptr && w > PerlNum(*maxw)) continue;
      return true;
    }
    return false;
  });
}

bool ImageNamed(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* name = Arg(args, 0);
  if (name == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) { return images.names.count(*name) > 0; });
}

// ---- URIEval / HTTPSMismatch

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

// SA's html->{uri_detail}{KEY}{anchor_text} of one HTML part: href → texts, in first-seen order.
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

// m%^https?:/*(?:[^@/]+@)?\d+\.\d+\.\d+\.\d+%i from `pos` (after the scheme's colon).
bool DottedQuadAfterScheme(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == '/') ++pos;
  auto quad_at = [&](size_t p) {
    for (int k = 0; k < 4; ++k) {
      size_t start = p;
      while (p < s.size() && IsDigit(s[p])) ++p;
      if (p == start) return false;
      if (k < 3) {
        if (p >= s.size() || s[p] != '.') return false;
        ++p;
      }
    }
    return true;
  };
  if (quad_at(pos)) return true;
  // (?:[^@/]+@)? — the userinfo may end at any '@' before the first '/' (or '@' run).
  for (size_t p = pos; p < s.size() && s[p] != '/'; ++p) {
    if (s[p] == '@') {
      if (p > pos && quad_at(p + 1)) return true;
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

bool CheckHttpsHttpMismatch(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig* config = &in.config();
  double min_anchors = args.size() > 0 ? PerlNum(args[0]) : 0;
  // `$minanchors ||= 1`: Perl's false values are "" and "0" (and undef).
  if (args.empty() || args[0].empty() || args[0] == "0") min_anchors = 1;
  const std::string* max_anchors = Arg(args, 1);
  for (const std::vector<HtmlAnchor>& anchors : in.html_anchors()) {
    bool hit = false;
    size_t count = 0;
    for (const auto& [key, texts] : AnchorTextByUri(anchors)) {
      if (texts.empty()) continue;
      // m@^https?://([^/:?#]+)@i
      size_t p;
      if (StartsWithIgnoreCase(key, "https://")) {
        p = 8;
      } else if (StartsWithIgnoreCase(key, "http://")) {
        p = 7;
      } else {
        continue;
      }
      size_t e = key.find_first_of("/:?#", p);
      std::string_view host = key.substr(p, e == std::string_view::npos ? e : e - p);
      if (host.empty() || IsIpAddress(host)) continue;
      std::string uri = TrimDomain(*config, host);
      std::optional<std::pair<std::string, std::string>> dom = UriToDomain(*config, uri);
      if (!dom || !IsDomainValid(*config, dom->first)) continue;
      if (uri.empty() || uri == "0") continue;  // Perl-false
      ++count;
      for (std::string_view text : texts) {
        // m@https://([^\s/:?#]+)@i — the first "https://" followed by a host character.
        std::optional<std::string> https;
        for (size_t i = 0; i + 8 <= text.size(); ++i) {
          if (!EqualsIgnoreCase(text.substr(i, 8), "https://")) continue;
          size_t s = i + 8, t = s;
          while (t < text.size() && !IsPerlSpace(text[t]) && text[t] != '/' && text[t] != ':' &&
                 text[t] != '?' && text[t] != '#') {
            ++t;
          }
          if (t == s) continue;
          https = std::string(text.substr(s, t - s));
          break;
        }
        if (!https) continue;
        if (!IsIpAddress(*https)) {
          std::string trimmed = TrimDomain(*config, *https);
          if (!IsDomainValid(*config, trimmed)) continue;
          https = trimmed;
        }
        if (https->empty() || *https == "0") continue;
        if (uri == *https) continue;
        hit = true;
        break;
      }
    }
    if (hit && static_cast<double>(count) >= min_anchors &&
        (max_anchors == nullptr || static_cast<double>(count) < PerlNum(*max_anchors))) {
      return true;
    }
  }
  return false;
}

// ---- VBounce

bool RelayListed(const EvalConfig& c, std::string_view relay) {
  std::string lc = ToLowerAscii(relay);
  for (const std::string& glob : c.bounce_relays) {
    if (glob == lc || AddressGlobMatches(glob, lc)) return true;
  }
  return false;
}

// while ($s =~ /D(\S+\.\S+)D/g): D is ' ' (space_only) or \s. Calls `fn` with each capture
// until it returns true.
template <typename Fn>
bool ForEachDottedWord(std::string_view s, bool space_only, Fn fn) {
  auto delim = [&](char c) { return space_only ? c == ' ' : IsPerlSpace(c); };
  size_t p = 0;
  while (p < s.size()) {
    if (!delim(s[p])) {
      ++p;
      continue;
    }
    size_t start = p + 1, end = start;
    while (end < s.size() && !IsPerlSpace(s[end])) ++end;
    std::string_view word = s.substr(start, end - start);
    bool ok = end < s.size() && delim(s[end]) && word.size() >= 3 &&
              word.substr(1, word.size() - 2).find('.') != std::string_view::npos;
    if (ok) {
      if (fn(word)) return true;
      p = end + 1;
    } else {
      ++p;
    }
  }
  return false;
}

// /^[> ]*Received:/i
bool IsReceivedLine(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == '>' || line[i] == ' ')) ++i;
  return StartsWithIgnoreCase(line.substr(i), "received:");
}

bool HaveAnyBounceRelays(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* c = Cfg(in);
  return c != nullptr && !c->bounce_relays.empty();
}

bool CheckWelcomelistBounceRelays(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* c = Cfg(in);
  if (c == nullptr || c->bounce_relays.empty()) return false;
  auto listed = [&](std::string_view relay) { return RelayListed(*c, relay); };
  for (const std::string& line : in.body_lines()) {
    if (!IsReceivedLine(line)) continue;
    if (ForEachDottedWord(line, true, listed)) return true;
  }
  std::string_view raw = in.message().raw();
  std::string_view pristine =
      raw.substr(raw.size() - std::min(raw.size(), in.facts().pristine_body_length));
  if (!ContainsIgnoreCase(pristine, "received:")) return false;
  bool found_received = false;
  std::string fullhdr;
  size_t pos = 0;
  while (pos < pristine.size()) {  // /^(.*)$/gm: lines without "\n", none after a final "\n"
    size_t nl = pristine.find('\n', pos);
    std::string_view line =
        pristine.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? pristine.size() : nl + 1;
    if (!found_received) {
      if (!IsReceivedLine(line)) continue;
      found_received = true;
    }
    if (!line.empty() && IsPerlSpace(line[0])) {
      fullhdr += line;
    } else {
      fullhdr = line;
    }
    if (!IsReceivedLine(fullhdr)) continue;
    if (ForEachDottedWord(fullhdr, false, listed)) return true;
  }
  return false;
}

// ---- WLBLEval URI host lists

// /^\d+\.\d+\.\d+\.\d+\z/
bool IsDottedQuad(std::string_view s) {
  size_t i = 0;
  for (int k = 0; k < 4; ++k) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
    if (k < 3) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

// The distinct hosts of the message's URIs (not mailto:), in their order.
std::vector<std::string> UriHosts(EvalInput& in) {
  std::vector<std::string> hosts;
  std::unordered_set<std::string> seen;
  for (const std::string& uri : in.uris()) {
    if (StartsWithIgnoreCase(uri, "mailto:")) continue;
    std::optional<std::pair<std::string, std::string>> dom = UriToDomain(in.config(), uri);
    if (!dom || !seen.insert(dom->second).second) continue;
    hosts.push_back(std::move(dom->second));
  }
  return hosts;
}

bool CheckUriHostListedIn(EvalInput& in, std::string_view list_name) {
  const EvalConfig* c = Cfg(in);
  if (c == nullptr) return false;
  auto list_it = c->uri_host_lists.find(std::string(list_name));
  if (list_it == c->uri_host_lists.end() || list_it->second.empty()) return false;
  const auto& list = list_it->second;
  std::optional<std::vector<std::string>>& hosts = in.memo().uri_hosts;
  if (!hosts) hosts = UriHosts(in);
  for (const std::string& host : *hosts) {
    std::vector<std::string> keys;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      keys.push_back(host.substr(1, host.size() - 2));
    } else if (IsDottedQuad(host)) {
      keys.push_back(host);
    } else if (!host.empty()) {
      std::string h = host;
      for (;;) {
        if (keys.size() > 10) keys.erase(keys.begin());
        keys.push_back(h);
        size_t dot = h.find('.');
        if (dot == std::string::npos) break;
        h.erase(0, dot + 1);
      }
    }
    for (const std::string& q : keys) {
      auto it = list.find(q);
      if (it == list.end()) continue;
      if (it->second) return true;
      break;  // the most specific entry says "not listed" for this host
    }
  }
  return false;
}

bool CheckUriHostListed(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* name = Arg(args, 0);
  return name != nullptr && CheckUriHostListedIn(in, *name);
}
bool CheckUriHostInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return CheckUriHostListedIn(in, "BLOCK");
}
bool CheckUriHostInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  return CheckUriHostListedIn(in, "WELCOME");
}

// ---- WelcomeListSubject

// The glob as an unanchored Perl regex: `?` is `.` and `*` is `.*`, neither crossing a newline.
// True when it matches somewhere in `line` (which has no newline).
bool GlobFoundIn(std::string_view glob, std::string_view line) {
  // Equivalent to a full match of "*" glob "*".
  return WildcardMatches("*" + std::string(glob) + "*", line);
}

bool SubjectListed(EvalInput& in, const std::vector<std::string>& globs) {
  if (in.subject().empty()) return false;
  std::string subject = ToLowerAscii(in.subject());
  for (const std::string& glob : globs) {
    if (glob == subject) return true;
    size_t pos = 0;
    for (;;) {
      size_t nl = subject.find('\n', pos);
      std::string_view line = std::string_view(subject).substr(
          pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (GlobFoundIn(glob, line)) return true;
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
  return false;
}

bool CheckSubjectInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* c = Cfg(in);
  return c != nullptr && SubjectListed(in, c->welcomelist_subject);
}
bool CheckSubjectInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* c = Cfg(in);
  return c != nullptr && SubjectListed(in, c->blocklist_subject);
}

constexpr EvalEntry kEvals[] = {
    {"image_count", &ImageCount},
    {"pixel_coverage", &PixelCoverage},
    {"image_to_text_ratio", &ImageToTextRatio},
    {"image_size_exact", &ImageSizeExact},
    {"image_size_range", &ImageSizeRange},
    {"image_named", &ImageNamed},
    {"check_uri_truncated", &CheckUriTruncated},
    {"check_https_ip_mismatch", &CheckHttpsIpMismatch},
    {"check_https_http_mismatch", &CheckHttpsHttpMismatch},
    {"have_any_bounce_relays", &HaveAnyBounceRelays},
    {"check_welcomelist_bounce_relays", &CheckWelcomelistBounceRelays},
    {"check_whitelist_bounce_relays", &CheckWelcomelistBounceRelays},
    {"check_uri_host_listed", &CheckUriHostListed},
    {"check_uri_host_in_blocklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_blacklist", &CheckUriHostInBlocklist},
    {"check_uri_host_in_welcomelist", &CheckUriHostInWelcomelist},
    {"check_uri_host_in_whitelist", &CheckUriHostInWelcomelist},
    {"check_subject_in_welcomelist", &CheckSubjectInWelcomelist},
    {"check_subject_in_whitelist", &CheckSubjectInWelcomelist},
    {"check_subject_in_blocklist", &CheckSubjectInBlocklist},
    {"check_subject_in_blacklist", &CheckSubjectInBlocklist},
};

}  // namespace

std::vector<HtmlAnchor> PairAnchors(const std::vector<std::string>& hrefs,
                                    const std::vector<std::string>& texts) {
  std::vector<HtmlAnchor> out;
  size_t n = std::min(hrefs.size(), texts.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({hrefs[i], texts[i]});
  return out;
}

EvalTable MiscEvals() { return kEvals; }

}  // namespace mailsift::rules
