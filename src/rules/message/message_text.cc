// rules/message/message_text.cc — see message_text.h.
#include "rules/message/message_text.h"

#include <algorithm>
#include <unordered_set>

#include "base/strings.h"
#include "mime/header.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

constexpr size_t kBodyPartScanSize = 50'000;
constexpr size_t kRawBodyPartScanSize = 500'000;
constexpr size_t kMaxBodyLineLength = 2048;
constexpr size_t kMaxUriLength = 8192;

// SpamAssassin's Message.pm stores at most this much of a header field's value
// (MAX_HEADER_VALUE_LENGTH; check_msg_parse_flags('truncated_header') says so): what header()
// and so the decoded get() return is made from that much; the raw forms come from the pristine
// header section, whole.
constexpr size_t kMaxHeaderValueLength = 8192;

// CrlfToLf(s) + "\n" in one allocation (a header value may be megabytes long).
std::string StripCrWithNewline(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out.push_back(s[i]);
  }
  out.push_back('\n');
  return out;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Length of a Unicode whitespace character (Perl \s on character strings) at `i`, or 0.
size_t UnicodeSpaceAt(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return IsAsciiSpace(static_cast<char>(c)) ? 1 : 0;
  auto byte = [&](size_t k) -> unsigned char {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  if (c == 0xC2 && (byte(1) == 0x85 || byte(1) == 0xA0)) return 2;
  if (c == 0xE1 && byte(1) == 0x9A && byte(2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && byte(1) == 0x80) {
    unsigned char d = byte(2);
    if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3;
  }
  if (c == 0xE2 && byte(1) == 0x81 && byte(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && byte(1) == 0x80 && byte(2) == 0x80) return 3;  // U+3000
  return 0;
}

// Node::effective_type: a part named *.htm, *.html or *.shtml is text/html; otherwise the type
// as Util::parse_content_type gives it, where every text/* type other than text/html,
// text/calendar and text/x-vcard is text/plain.
std::string EffectiveType(const mime::Part& p) {
  std::string type = p.content_type().type + "/" + p.content_type().subtype;
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z') c += 32;
  }
  if (type.rfind("text/", 0) == 0 && type != "text/html" && type != "text/calendar" &&
      type != "text/x-vcard") {
    type = "text/plain";
  }
  std::string name = p.filename();
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c += 32;
  }
  for (std::string_view ext : {".htm", ".html", ".shtm", ".shtml"}) {
    if (name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return "text/html";
    }
  }
  return type;
}

// Truncates rendered text as get_body_text_array_common does: at a line break or else a space
// within 1 KiB after `limit`, else at `limit`.
void TruncateRendered(std::string& text, size_t limit, bool try_gt) {
  if (text.size() <= limit) return;
  for (char c : std::string_view(try_gt ? "\n> " : "\n ")) {
    size_t idx = text.find(c, limit);
    if (idx != std::string::npos && idx - limit <= 1024) {
      text.resize(idx + 1);
      return;
    }
  }
  text.resize(limit);
}

// Trim, collapse blanks.
std::string CollapseSpaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (IsAsciiSpace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool IsIpv4At(std::string_view s, size_t i, size_t* end) {
  size_t p = i;
  for (int octet = 0; octet < 4; ++octet) {
    size_t digits = 0;
    int value = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9' && digits < 3) {
      value = value * 10 + (s[p] - '0');
      ++p;
      ++digits;
    }
    if (digits == 0 || value > 255) return false;
    if (octet < 3) {
      if (p >= s.size() || s[p] != '.') return false;
      ++p;
    }
  }
  if (p < s.size() && ((s[p] >= '0' && s[p] <= '9') || s[p] == '.')) return false;
  *end = p;
  return true;
}

// RegistryBoundaries::uri_to_domain finds a domain: the host of a scheme://host URI, or the
// domain of a mailto: address, is an IPv4 address or a name under a known TLD.
bool HasValidDomain(std::string_view uri, const mime::TldSet& tlds) {
  std::string_view host;
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos) return false;
  std::string scheme = ToLowerAscii(uri.substr(0, colon));
  std::string_view rest = uri.substr(colon + 1);
  if (scheme == "mailto") {
    size_t at = rest.find('@');
    if (at == std::string_view::npos) return false;
    host = rest.substr(at + 1);
    host = host.substr(0, host.find_first_of("?&>, "));
  } else {
    if (rest.substr(0, 2) != "//") return false;
    rest.remove_prefix(2);
    host = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return false;
  size_t end;
  if (IsIpv4At(host, 0, &end) && end == host.size()) return true;
  return tlds.IsDomainValid(ToLowerAscii(host));
}

}  // namespace

std::string SaDecodeHeaderValue(std::string_view name, std::string_view raw) {
  std::string value;
  value.reserve(raw.size());
  // s/\n[ \t]+/ /g
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) {
      while (i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) ++i;
      value.push_back(' ');
      continue;
    }
    value.push_back(raw[i]);
  }
  size_t b = 0, e = value.size();
  while (b < e && IsAsciiSpace(value[b])) ++b;
  while (e > b && IsAsciiSpace(value[e - 1])) --e;
  value.erase(e);  // in place: no second copy of a long value
  value.erase(0, b);
  // Remaining line ends (bare, not folds) are removed.
  value.erase(std::remove(value.begin(), value.end(), '\n'), value.end());
  const bool undecoded =
      EqualsIgnoreCase(name, "Received") || EqualsIgnoreCase(name, "Message-ID") ||
      EqualsIgnoreCase(name, "Resent-Message-ID") || EqualsIgnoreCase(name, "Date") ||
      EqualsIgnoreCase(name, "Resent-Date") || EqualsIgnoreCase(name, "MIME-Version") ||
      EqualsIgnoreCase(name, "References") || EqualsIgnoreCase(name, "In-Reply-To") ||
      StartsWithIgnoreCase(name, "List-");
  if (undecoded || value.find("=?") == std::string::npos) return value;
  return mime::DecodeEncodedWords(value);
}

std::string SaNormalizeBodyWhitespace(std::string_view text) {
  // s/\n+\s*\n+/\x00/gs, then s/\s+/ /gs, then \x00 -> \n.
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t w = UnicodeSpaceAt(text, i);
    if (w == 0) {
      out.push_back(text[i++]);
      continue;
    }
    // A run of whitespace [i, j).
    size_t j = i;
    size_t newlines = 0, first_nl = std::string::npos, last_nl = 0;
    while (j < text.size()) {
      size_t k = UnicodeSpaceAt(text, j);
      if (k == 0) break;
      if (text[j] == '\n') {
        ++newlines;
        if (first_nl == std::string::npos) first_nl = j;
        last_nl = j;
      }
      j += k;
    }
    // The run holds a paragraph break when it has two newlines; whitespace before the first
    // newline and after the last stays a separate space run (in Perl's leftmost matching the
    // pattern starts at the first newline and ends after the last newline of the run).
    if (newlines >= 2) {
      if (first_nl > i) out.push_back(' ');
      out.push_back('\n');
      if (last_nl + 1 < j) out.push_back(' ');
    } else {
      out.push_back(' ');
    }
    i = j;
  }
  return out;
}

std::vector<std::string> SplitIntoShortLines(std::string_view text) {
  std::vector<std::string> result;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(start, end - start);
    while (line.size() > kMaxBodyLineLength) {
      size_t space = line.rfind(' ', kMaxBodyLineLength);
      size_t length = space == std::string_view::npos ? kMaxBodyLineLength : space + 1;
      result.emplace_back(line.substr(0, length));
      line.remove_prefix(length);
    }
    result.emplace_back(line);
    start = end;
  }
  return result;
}

std::vector<std::string> SplitIntoShortParagraphs(std::string_view text) {
  if (text.size() <= kMaxBodyLineLength) return {std::string(text)};
  std::vector<std::string> result;
  size_t ofs = 0;
  const size_t n = text.size();
  for (; n - ofs > 2 * kMaxBodyLineLength;) {
    size_t j = std::string_view::npos;
    for (char c : std::string_view("\n> ")) {
      j = text.find(c, ofs + kMaxBodyLineLength);
      if (j != std::string_view::npos && j - ofs + 1 <= 2 * kMaxBodyLineLength) break;
      j = std::string_view::npos;
    }
    if (j == std::string_view::npos) j = ofs + kMaxBodyLineLength;
    result.emplace_back(text.substr(ofs, j - ofs + 1));
    ofs = j + 1;
  }
  if (ofs < n) result.emplace_back(text.substr(ofs));
  return result;
}

std::vector<std::pair<std::string, std::string>> SplitAddressList(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  // Split on commas outside quotes, angle brackets and comments.
  std::vector<std::string> items;
  std::string cur;
  bool quoted = false;
  int angle = 0, comment = 0;
  std::string s = CollapseSpaces(value);
  // Group syntax "name: a, b;" — drop the group name and the final ';'.
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      cur.push_back(c);
      cur.push_back(s[++i]);
      continue;
    }
    if (quoted) {
      if (c == '"') quoted = false;
      cur.push_back(c);
      continue;
    }
    if (c == '"' && comment == 0) quoted = true;
    if (c == '(') ++comment;
    if (c == ')' && comment > 0) --comment;
    if (c == '<' && comment == 0) ++angle;
    if (c == '>' && comment == 0 && angle > 0) --angle;
    if ((c == ',' || c == ';') && angle == 0 && comment == 0) {
      items.push_back(cur);
      cur.clear();
      continue;
    }
    if (c == ':' && angle == 0 && comment == 0 && cur.find('@') == std::string::npos) {
      cur.clear();  // group name
      continue;
    }
    cur.push_back(c);
  }
  items.push_back(cur);
  for (std::string& item : items) {
    std::string text = CollapseSpaces(item);
    if (text.empty()) continue;
    std::string address, name;
    size_t lt = text.rfind('<');
    size_t gt = lt == std::string::npos ? std::string::npos : text.find('>', lt);
    if (lt != std::string::npos && gt != std::string::npos) {
      address = CollapseSpaces(text.substr(lt + 1, gt - lt - 1));
      name = CollapseSpaces(text.substr(0, lt));
    } else {
      // addr (Comment)
      std::string comment_text;
      std::string bare;
      int depth = 0;
      for (char c : text) {
        if (c == '(') {
          if (depth++ == 0) continue;
        }
        if (c == ')' && depth > 0) {
          if (--depth == 0) continue;
        }
        (depth > 0 ? comment_text : bare).push_back(c);
      }
      address = CollapseSpaces(bare);
      name = CollapseSpaces(comment_text);
    }
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    if (address.empty() && name.empty()) continue;
    out.emplace_back(address, name);
  }
  return out;
}

MessageText::MessageText(const mime::Message& message, const Envelope& envelope,
                         const TextContext& context)
    : message_(message), envelope_(envelope), context_(context) {
  for (const mime::HeaderField& f : message_.headers().fields()) {
    SaHeader h;
    h.name = f.name;
    h.raw = StripCrWithNewline(f.raw);
    h.decoded =
        SaDecodeHeaderValue(f.name, std::string_view(h.raw).substr(0, kMaxHeaderValueLength));
    headers_.push_back(std::move(h));
  }
}

std::vector<std::string> MessageText::GetHeaderValues(std::string_view name, bool raw,
                                                      bool unfold_raw) const {
  std::vector<std::string> out;
  for (const SaHeader& h : headers_) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (raw && !unfold_raw) {
      out.push_back(h.raw);
    } else if (raw) {
      // s/\015?\012\s+/ /gs
      std::string v;
      const std::string& r = h.raw;
      for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] == '\n' && i + 1 < r.size() && IsAsciiSpace(r[i + 1])) {
          while (i + 1 < r.size() && IsAsciiSpace(r[i + 1])) ++i;
          v.push_back(' ');
          continue;
        }
        v.push_back(r[i]);
      }
      out.push_back(std::move(v));
    } else {
      out.push_back(h.decoded + "\n");
    }
  }
  return out;
}

const std::string& MessageText::EnvelopeFrom() {
  if (!envelope_from_) {
    std::string from = envelope_.mail_from;
    if (from.empty() && relays_.computed) {
      from = relays_.envelope_from.value_or(std::string());
    } else if (from.empty()) {
      // SpamAssassin's get_envelope_from without envelope_sender_header: X-Envelope-From,
      // then the Return-Path header (when not "<>"), cleaned of "<>" and blanks.
      for (std::string_view name : {"X-Envelope-From", "Return-Path"}) {
        for (const SaHeader& h : headers_) {
          if (!EqualsIgnoreCase(h.name, name)) continue;
          from = h.decoded;
          break;
        }
        if (!from.empty()) break;
      }
      from.erase(std::remove_if(from.begin(), from.end(),
                                [](char c) { return c == '<' || c == '>' || IsAsciiSpace(c); }),
                 from.end());
    }
    envelope_from_ = from;
  }
  return *envelope_from_;
}

const std::string& MessageText::Subject() {
  if (!subject_) {
    std::vector<std::string> values = GetHeaderValues("Subject", false);
    subject_ = values.empty() ? std::string() : values.back();
  }
  return *subject_;
}

std::vector<std::string> MessageText::GetAll(std::string_view request) {
  bool raw = false, addr = false, name = false, first = false, last = false;
  bool ip = false, revip = false, host = false, domain = false;
  std::string_view base = request;
  size_t colon = request.find(':');
  if (colon != std::string_view::npos) {
    base = request.substr(0, colon);
    std::string_view mods = request.substr(colon);
    while (!mods.empty()) {
      mods.remove_prefix(1);
      size_t next = mods.find(':');
      std::string_view m = mods.substr(0, next);
      if (m == "raw") raw = true;
      if (m == "addr") addr = true;
      if (m == "name") name = true;
      if (m == "first") first = true;
      if (m == "last") last = true;
      if (m == "ip") ip = true;
      if (m == "revip") ip = revip = true;
      if (m == "host") host = true;
      if (m == "domain") host = domain = true;
      mods = next == std::string_view::npos ? std::string_view() : mods.substr(next);
    }
  }
  std::vector<std::string> results;
  auto all_headers_in_range = [&](int start, int end) {
    // get_all_hdrs_in_rcvd_index_range: headers from the start-th Received (0-based, counted
    // from the top) to before the end-th; -1 = open end.
    int received = -1;
    for (const SaHeader& h : headers_) {
      if (EqualsIgnoreCase(h.name, "Received")) ++received;
      int index = received;
      if (start >= 0 && index < start) continue;
      if (end >= 0 && index >= end) break;
      if (raw) {
        results.push_back(h.name + ":" + h.raw);
      } else {
        results.push_back(h.name + ": " + h.decoded + "\n");
      }
    }
  };
  if (base == "ALL") {
    for (const SaHeader& h : headers_) {
      results.push_back(raw ? h.name + ":" + h.raw : h.name + ": " + h.decoded + "\n");
    }
    return results;
  }
  if (relays_.computed && !raw &&
      (base == "ALL-TRUSTED" || base == "ALL-UNTRUSTED" || base == "ALL-INTERNAL" ||
       base == "ALL-EXTERNAL")) {
    const std::string& all = base == "ALL-TRUSTED"     ? relays_.all_trusted
                             : base == "ALL-UNTRUSTED" ? relays_.all_untrusted
                             : base == "ALL-INTERNAL"  ? relays_.all_internal
                                                       : relays_.all_external;
    if (!all.empty()) results.push_back(all);
    return results;
  }
  if (base == "ALL-TRUSTED") {
    all_headers_in_range(-1, relays_.last_trusted_relay_index + 1);
    return results;
  }
  if (base == "ALL-INTERNAL") {
    all_headers_in_range(-1, relays_.last_internal_relay_index + 1);
    return results;
  }
  if (base == "ALL-UNTRUSTED") {
    all_headers_in_range(relays_.last_trusted_relay_index + 1, -1);
    return results;
  }
  if (base == "ALL-EXTERNAL") {
    all_headers_in_range(relays_.last_internal_relay_index + 1, -1);
    return results;
  }
  if (EqualsIgnoreCase(base, "EnvelopeFrom")) {
    if (!EnvelopeFrom().empty()) results.push_back(EnvelopeFrom());
  } else if (EqualsIgnoreCase(base, "X-Spam-Relays-Untrusted")) {
    results.push_back(relays_.untrusted);
  } else if (EqualsIgnoreCase(base, "X-Spam-Relays-Trusted")) {
    results.push_back(relays_.trusted);
  } else if (EqualsIgnoreCase(base, "X-Spam-Relays-External")) {
    results.push_back(relays_.external);
  } else if (EqualsIgnoreCase(base, "X-Spam-Relays-Internal")) {
    results.push_back(relays_.internal);
  } else if (EqualsIgnoreCase(base, "ToCc")) {
    for (auto& v : GetHeaderValues("To", raw)) results.push_back(std::move(v));
    for (auto& v : GetHeaderValues("Cc", raw)) results.push_back(std::move(v));
  } else if (base == "MESSAGEID") {
    for (std::string_view h :
         {"X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID", "Message-Id"}) {
      for (auto& v : GetHeaderValues(h, raw)) {
        if (!v.empty()) results.push_back(std::move(v));
      }
    }
  } else {
    results = GetHeaderValues(base, raw || addr || name, /*unfold_raw=*/false);
  }
  if (results.empty()) return results;
  if (first) {
    results.resize(1);
  } else if (last) {
    results = {results.back()};
  }
  if (addr || name) {
    std::vector<std::string> res;
    for (const std::string& line : results) {
      for (auto& [address, phrase] : SplitAddressList(line)) {
        if (addr) {
          if (!address.empty()) res.push_back(address);
        } else if (!phrase.empty()) {
          std::string decoded = raw ? phrase : mime::DecodeEncodedWords(phrase);
          decoded = CollapseSpaces(decoded);
          if (decoded.size() >= 2 && decoded.front() == '\'' && decoded.back() == '\'') {
            decoded = decoded.substr(1, decoded.size() - 2);
          }
          res.push_back(decoded);
        }
      }
    }
    results = std::move(res);
  }
  if (!results.empty() && (host || ip)) {
    std::vector<std::string> res;
    for (const std::string& line : results) {
      if (ip) {
        for (size_t i = 0; i < line.size(); ++i) {
          if (i > 0 && (line[i - 1] == '.' || (line[i - 1] >= '0' && line[i - 1] <= '9'))) {
            continue;
          }
          size_t end;
          if (IsIpv4At(line, i, &end)) {
            std::string found = line.substr(i, end - i);
            if (revip) {
              std::vector<std::string> octets;
              size_t s = 0;
              while (true) {
                size_t d = found.find('.', s);
                octets.push_back(found.substr(s, d - s));
                if (d == std::string::npos) break;
                s = d + 1;
              }
              std::reverse(octets.begin(), octets.end());
              found.clear();
              for (size_t k = 0; k < octets.size(); ++k) found += (k ? "." : "") + octets[k];
            }
            res.push_back(found);
            break;
          }
        }
      } else {
        // :host — the domain of an address as written; :domain — its registrable domain,
        // lower-cased (RegistryBoundaries::trim_domain).
        size_t at = line.rfind('@');
        if (at != std::string::npos) {
          std::string h = CollapseSpaces(line.substr(at + 1));
          while (!h.empty() && (h.back() == '>' || h.back() == '\n')) h.pop_back();
          if (domain) {
            static const RegistryBoundaries kNone;
            h = (context_.boundaries ? *context_.boundaries : kNone).TrimDomain(h);
          }
          if (!h.empty()) res.push_back(h);
        }
      }
    }
    results = std::move(res);
  }
  return results;
}

std::optional<std::string> MessageText::Get(std::string_view request) { return GetRef(request); }

const std::optional<std::string>& MessageText::GetRef(std::string_view request) {
  auto cached = get_cache_.find(std::string(request));
  if (cached != get_cache_.end()) return cached->second;
  std::vector<std::string> values = GetAll(request);
  if (values.empty()) {
    return get_cache_.emplace(std::string(request), std::nullopt).first->second;
  }
  if (values.size() == 1) {
    return get_cache_.emplace(std::string(request), std::move(values[0])).first->second;
  }
  std::string joined;
  const bool has_newline = !values[0].empty() && values[0].back() == '\n';
  size_t size = values.size();
  for (const std::string& v : values) size += v.size();
  joined.reserve(size);  // one allocation, not doublings of a long header section
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0 && !has_newline) joined.push_back('\n');
    joined += values[i];
  }
  return get_cache_.emplace(std::string(request), std::move(joined)).first->second;
}

void MessageText::Render() {
  if (rendered_) return;
  rendered_ = true;
  const auto& parts = message_.parts();
  part_rendered_.assign(parts.size(), std::string());
  part_visible_.assign(parts.size(), std::string());
  part_has_text_.assign(parts.size(), false);
  for (size_t i = 0; i < parts.size(); ++i) {
    const mime::Part& p = parts[i];
    const std::string type = EffectiveType(p);
    if (type != "text/plain" && type != "text/html") continue;
    part_has_text_[i] = true;
    const std::string& text = p.is_text() ? p.text_utf8() : p.decoded();
    if (!text.empty() && type == "text/html") {
      mime::HtmlResult html = mime::RenderHtml(text);
      part_rendered_[i] = html.text;
      part_visible_[i] = html.visible_text;
      html_.emplace_back(i, std::move(html));
    } else {
      part_rendered_[i] = text;
      part_visible_[i] = text;
    }
  }
}

const std::vector<std::pair<size_t, mime::HtmlResult>>& MessageText::HtmlParts() {
  Render();
  return html_;
}

const mime::HtmlResult* MessageText::RenderedHtml(std::string_view html) {
  Render();
  const auto& parts = message_.parts();
  for (const auto& [i, result] : html_) {
    const mime::Part& p = parts[i];
    // The input Render() gave RenderHtml for this leaf.
    const std::string& text = p.is_text() ? p.text_utf8() : p.decoded();
    if (text == html) return &result;
  }
  return nullptr;
}

namespace {
std::vector<std::string> BuildBodyLines(const std::string& subject,
                                        const std::vector<std::string>& rendered,
                                        const std::vector<bool>& has_text) {
  std::string text;
  for (size_t i = 0; i < rendered.size(); ++i) {
    if (!text.empty()) text.push_back('\n');
    if (!has_text[i]) continue;
    std::string part = CrlfToLf(rendered[i]);
    TruncateRendered(part, kBodyPartScanSize, false);
    text += part;
  }
  std::string normalized = SaNormalizeBodyWhitespace(text);
  return SplitIntoShortLines((subject.empty() ? std::string("\n") : subject) + normalized);
}
}  // namespace

const std::vector<std::string>& MessageText::BodyLines() {
  if (!body_lines_) {
    Render();
    body_lines_ = BuildBodyLines(Subject(), part_rendered_, part_has_text_);
  }
  return *body_lines_;
}

const std::vector<std::string>& MessageText::VisibleBodyLines() {
  if (!visible_lines_) {
    Render();
    visible_lines_ = BuildBodyLines(Subject(), part_visible_, part_has_text_);
  }
  return *visible_lines_;
}

const std::vector<std::string>& MessageText::RawBodyChunks() {
  if (!rawbody_) {
    rawbody_.emplace();
    for (const mime::Part& p : message_.parts()) {
      const std::string full_type = EffectiveType(p);
      const std::string type = full_type.substr(0, full_type.find('/'));
      if (type != "text" && type != "message") continue;
      if (full_type == "text/calendar") continue;
      std::string body = p.transfer_encoding() == mime::TransferEncoding::k7Bit ||
                                 p.transfer_encoding() == mime::TransferEncoding::k8Bit
                             ? std::string(p.decoded())
                             : CrlfToLf(p.decoded());
      TruncateRendered(body, kRawBodyPartScanSize, true);
      for (std::string& chunk : SplitIntoShortParagraphs(body)) {
        rawbody_->push_back(std::move(chunk));
      }
    }
  }
  return *rawbody_;
}

std::string_view MessageText::Full() {
  std::string_view raw = message_.raw();
  if (raw.substr(0, 5) == "From ") {
    size_t nl = raw.find('\n');
    raw.remove_prefix(nl == std::string_view::npos ? raw.size() : nl + 1);
  }
  return raw;
}

const std::vector<std::string>& MessageText::Uris() {
  if (!uris_) {
    uris_.emplace();
    std::unordered_set<std::string> seen;
    auto add = [&](std::string_view uri, bool need_valid_domain) {
      if (context_.tlds == nullptr) return;
      std::vector<std::string> cleaned =
          mime::CanonicalizeUri(uri, *context_.tlds, context_.redirectors);
      // Text URIs count only when one of their variants has a valid domain
      // (add_uri_detail_list with valid_domain set).
      if (need_valid_domain &&
          std::none_of(cleaned.begin(), cleaned.end(),
                       [&](const std::string& u) { return HasValidDomain(u, *context_.tlds); })) {
        return;
      }
      for (std::string& clean : cleaned) {
        if (clean.size() > kMaxUriLength) clean.resize(kMaxUriLength);
        if (seen.insert(clean).second) uris_->push_back(std::move(clean));
      }
    };
    for (const auto& [index, html] : HtmlParts()) {
      for (const mime::HtmlUri& u : html.uris) add(u.uri, false);
    }
    if (context_.tlds != nullptr) {
      const auto& lines = BodyLines();
      std::vector<std::string_view> views(lines.begin(), lines.end());
      for (const mime::TextUri& u : mime::ExtractTextUris(views, *context_.tlds)) {
        add(u.uri, true);
      }
    }
  }
  return *uris_;
}

const std::vector<SaEntity>& MessageText::MimeParts() {
  if (!mime_parts_) {
    mime_parts_.emplace();
    // find_parts order: pre-order over the tree. Containers and leaves are merged by path.
    struct Node {
      std::string path;
      const mime::Headers* headers;
    };
    std::vector<Node> nodes;
    for (const mime::Container& c : message_.containers()) nodes.push_back({c.path, &c.headers});
    for (const mime::Part& p : message_.parts()) nodes.push_back({p.path(), &p.headers()});
    auto key = [](const std::string& path) {
      std::vector<int> k;
      size_t s = 0;
      while (s < path.size()) {
        size_t d = path.find('.', s);
        k.push_back(std::atoi(path.substr(s, d - s).c_str()));
        if (d == std::string::npos) break;
        s = d + 1;
      }
      return k;
    };
    std::stable_sort(nodes.begin(), nodes.end(),
                     [&](const Node& a, const Node& b) { return key(a.path) < key(b.path); });
    for (size_t index = 0; index < nodes.size(); ++index) {
      const Node& n = nodes[index];
      SaEntity e;
      for (const mime::HeaderField& f : n.headers->fields()) {
        SaHeader h;
        h.name = f.name;
        h.raw = StripCrWithNewline(f.raw);
        // SpamAssassin keeps the blanks after the colon only in the message's own header
        // (the root); MIME part headers are split at /:\s*/.
        if (index > 0) h.raw.erase(0, h.raw.find_first_not_of(" \t"));
        // An entity's header() and raw_header() hold the value cut as Message.pm cuts it.
        if (h.raw.size() > kMaxHeaderValueLength) {
          h.raw.resize(kMaxHeaderValueLength);
          h.raw.shrink_to_fit();
        }
        h.decoded = SaDecodeHeaderValue(f.name, h.raw);
        e.headers.push_back(std::move(h));
      }
      mime_parts_->push_back(std::move(e));
    }
  }
  return *mime_parts_;
}

}  // namespace mailsift::rules
