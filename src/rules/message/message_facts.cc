// rules/message/message_facts.cc — see message_facts.h.
#include "rules/message/message_facts.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <limits>
#include <set>
#include <unordered_map>

#include "base/strings.h"
#include "mime/charset.h"
#include "mime/codec.h"
#include "mime/header.h"
#include "rules/message/message_text.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

constexpr size_t kMaxBodyLineLength = 2048;      // MAX_BODY_LINE_LENGTH
constexpr size_t kMaxHeaderKeyLength = 256;      // MAX_HEADER_KEY_LENGTH
constexpr size_t kMaxHeaderValueLength = 8192;   // MAX_HEADER_VALUE_LENGTH
constexpr size_t kMaxParts = 1000;               // _parse_multipart's part limit
constexpr size_t kRawbodyPartScanSize = 500000;  // rawbody_part_scan_size default
constexpr int kSubparse = 20;

// ---------------------------------------------------------------------------------------------
// Small Perl-alike helpers (byte semantics unless stated).

// split(/^/m, $s, -1): pieces ending after each "\n", plus a non-empty tail.
std::vector<std::string> SplitLines(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      break;
    }
    out.emplace_back(s.substr(start, nl + 1 - start));
    start = nl + 1;
  }
  return out;
}

// /^[\041-\071\073-\176]+[ \t]*:/ (allow_blank) or /^[\041-\071\073-\176]+:/.
bool LooksLikeHeaderField(std::string_view line, bool allow_blank) {
  size_t i = 0;
  while (i < line.size() && line[i] >= 0x21 && line[i] <= 0x7e && line[i] != ':') ++i;
  if (i == 0) return false;
  if (allow_blank) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  }
  return i < line.size() && line[i] == ':';
}

// The eval functions' own patterns: `$` at the very end only (the subjects have no trailing
// newline, so Perl's `$` means the same).
constexpr uint32_t kEvalRegexOptions = PCRE2_DOLLAR_ENDONLY;
constexpr uint32_t kEvalRegexCaseless = PCRE2_DOLLAR_ENDONLY | PCRE2_CASELESS;

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_'; }

// Case-insensitive search for `word` preceded by a \b (start or a non-word byte).
size_t FindWordNoCase(std::string_view s, std::string_view word, size_t from) {
  std::string ls = ToLowerAscii(s);
  std::string lw = ToLowerAscii(word);
  for (size_t pos = ls.find(lw, from); pos != std::string::npos; pos = ls.find(lw, pos + 1)) {
    if (pos == 0 || !IsWordByte(static_cast<unsigned char>(ls[pos - 1]))) return pos;
  }
  return std::string::npos;
}

// /\b<param>\s*=\s*["']?(.*?)["']?(?:;|$)/i — the first occurrence.
std::optional<std::string> PerlLazyParam(std::string_view ct, std::string_view param) {
  for (size_t pos = FindWordNoCase(ct, param, 0); pos != std::string::npos;
       pos = FindWordNoCase(ct, param, pos + 1)) {
    size_t i = pos + param.size();
    while (i < ct.size() && IsPerlSpace(ct[i])) ++i;
    if (i >= ct.size() || ct[i] != '=') continue;
    ++i;
    while (i < ct.size() && IsPerlSpace(ct[i])) ++i;
    if (i < ct.size() && (ct[i] == '"' || ct[i] == '\'')) ++i;
    // The capture ends at the first ';', or at a newline / the end ('.' stops at "\n"; '$'
    // matches only at the end or before a final "\n").
    size_t semi = ct.find(';', i);
    size_t nl = ct.find('\n', i);
    size_t end;
    if (semi != std::string_view::npos && (nl == std::string_view::npos || semi < nl)) {
      end = semi;
    } else if (nl == std::string_view::npos) {
      end = ct.size();
    } else if (nl == ct.size() - 1) {
      end = nl;
    } else {
      continue;  // a newline in the middle: no match from here (values are unfolded anyway)
    }
    std::string v(ct.substr(i, end - i));
    if (!v.empty() && (v.back() == '"' || v.back() == '\'')) v.pop_back();
    return v;
  }
  return std::nullopt;
}

struct SaContentType {
  std::string type;
  std::optional<std::string> boundary, charset, name;
  bool missing = false;
};

// Mail::SpamAssassin::Util::parse_content_type on one header value (nullptr: no header).
SaContentType ParseSaContentType(const std::string* value) {
  SaContentType r;
  std::string ct;
  if (value == nullptr || value->empty() || *value == "0") {
    r.missing = true;
    ct = "text/plain; charset=us-ascii";
  } else {
    ct = *value;
  }
  // boundary: /\bboundary\s*=\s*("[^"]+|[^\s";]+(?=[\s;]|$))/i
  for (size_t pos = FindWordNoCase(ct, "boundary", 0); pos != std::string::npos;
       pos = FindWordNoCase(ct, "boundary", pos + 1)) {
    size_t i = pos + 8;
    while (i < ct.size() && IsPerlSpace(ct[i])) ++i;
    if (i >= ct.size() || ct[i] != '=') continue;
    ++i;
    while (i < ct.size() && IsPerlSpace(ct[i])) ++i;
    if (i < ct.size() && ct[i] == '"') {
      size_t j = i + 1;
      while (j < ct.size() && ct[j] != '"') ++j;
      if (j > i + 1) {
        r.boundary = ct.substr(i + 1, j - i - 1);
        break;
      }
      continue;
    }
    size_t j = i;
    while (j < ct.size() && !IsPerlSpace(ct[j]) && ct[j] != '"' && ct[j] != ';') ++j;
    if (j == i) continue;
    // (?=[\s;]|$): j stops exactly at a blank, ';', '"' or the end; '"' fails.
    if (j < ct.size() && ct[j] == '"') continue;
    std::string b = ct.substr(i, j - i);
    b.erase(std::remove(b.begin(), b.end(), '"'), b.end());
    r.boundary = b;
    break;
  }
  r.charset = PerlLazyParam(ct, "charset");
  r.name = PerlLazyParam(ct, "filename");
  if (!r.name || r.name->empty()) {
    auto n = PerlLazyParam(ct, "name");
    if (n) r.name = n;
  }
  // The MIME type.
  std::string_view t = ct;
  while (!t.empty() && IsPerlSpace(t.front())) t.remove_prefix(1);
  size_t semi = t.find(';');
  if (semi != std::string_view::npos) t = t.substr(0, semi);
  // s@^([^/]+(?:/[^/\s]*)?).*$@$1@s
  size_t slash = t.find('/');
  std::string_view kept = t;
  if (slash != std::string_view::npos && slash > 0) {
    size_t k = slash + 1;
    while (k < t.size() && t[k] != '/' && !IsPerlSpace(t[k])) ++k;
    kept = t.substr(0, k);
  }
  std::string type = ToLowerAscii(kept);
  if (type.empty()) r.missing = true;
  bool text_word = type.size() >= 4 && type.compare(0, 4, "text") == 0 &&
                   (type.size() == 4 || !IsWordByte(static_cast<unsigned char>(type[4])));
  if (type.empty() ||
      (text_word && type != "text/x-vcard" && type != "text/calendar" && type != "text/html")) {
    type = "text/plain";
  }
  std::string clean;
  for (unsigned char c : type) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' ||
        (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x5d)) {
      continue;
    }
    clean.push_back(static_cast<char>(c));
  }
  r.type = clean;
  return r;
}

// Node::header() decoding of a stored value.
std::string DecodeHeaderValue(std::string_view name, std::string_view raw) {
  std::string v;
  v.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) {
      v.push_back(' ');
      ++i;
      continue;
    }
    v.push_back(raw[i]);
  }
  std::string t(TrimPerlSpace(v));
  // _decode_header: remove line breaks, RFC 2047 decode most fields.
  std::string u;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') continue;
    if (t[i] == '\n') continue;
    u.push_back(t[i]);
  }
  std::string lname = ToLowerAscii(name);
  bool skip = lname == "received" || lname == "message-id" || lname == "resent-message-id" ||
              lname == "date" || lname == "resent-date" || lname == "mime-version" ||
              lname == "references" || lname == "in-reply-to" || lname.rfind("list-", 0) == 0;
  if (!skip && u.find("=?") != std::string::npos) u = mime::DecodeEncodedWords(u);
  return u;
}

// Util::qp_decode.
std::string SaQpDecode(std::string_view in) {
  std::string s;
  // Trailing blanks before a line end are deleted.
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] == ' ' || in[i] == '\t') {
      size_t j = i;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      bool before_eol = (j < in.size() && in[j] == '\n') ||
                        (j + 1 < in.size() && in[j] == '\r' && in[j + 1] == '\n');
      if (!before_eol) s.append(in.substr(i, j - i));
      i = j;
      continue;
    }
    s.push_back(in[i++]);
  }
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '=') {
      if (k + 1 < s.size() && s[k + 1] == '\n') {
        ++k;
        continue;
      }
      if (k + 2 < s.size() && s[k + 1] == '\r' && s[k + 2] == '\n') {
        k += 2;
        continue;
      }
      if (k + 2 < s.size() && hex(s[k + 1]) >= 0 && hex(s[k + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(s[k + 1]) * 16 + hex(s[k + 2])));
        k += 2;
        continue;
      }
    }
    out.push_back(s[k]);
  }
  return out;
}

// Node::decode(): the body of a leaf decoded from its transfer encoding (bytes).
std::string DecodeNode(const SaMimeNode& node) {
  std::string raw;
  for (const auto& l : node.raw_lines) raw += l;
  const std::string* cte = node.Header("content-transfer-encoding");
  std::string enc = cte ? ToLowerAscii(*cte) : "";
  if (enc == "quoted-printable") return CrlfToLf(SaQpDecode(raw));
  if (enc == "base64") {
    std::string out;
    mime::DecodeBase64(raw, out);
    if (node.type.rfind("text/", 0) == 0 || node.type.rfind("message/", 0) == 0) {
      return CrlfToLf(out);
    }
    return out;
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Unicode helpers for character-semantics code (rendered text is UTF-8).

std::u32string ToU32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    char32_t cp = c;
    size_t n = 1;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
    }
    if (n > 1) {
      bool ok = i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k) {
        unsigned char cc = s[i + k];
        if ((cc & 0xC0) != 0x80)
          ok = false;
        else
          cp = (cp << 6) | (cc & 0x3F);
      }
      if (!ok) {
        cp = c;
        n = 1;
      }
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

// Perl's \s on characters.
bool IsUniSpace(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Perl's \w on characters, approximated outside Latin: letters, digits, marks, '_'.
bool IsUniWord(char32_t c) {
  if (c < 0x80) return std::isalnum(static_cast<int>(c)) || c == '_';
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (IsUniSpace(c)) return false;
  if (c >= 0x2000 && c <= 0x2BFF) return c == 0x203F || c == 0x2040 || c == 0x2054;
  if (c >= 0x3000 && c <= 0x3004) return false;
  if (c >= 0x3008 && c <= 0x3020) return false;
  if (c >= 0xFE30 && c <= 0xFE4F)
    return c == 0xFE33 || c == 0xFE34 || c == 0xFE4D || c == 0xFE4E || c == 0xFE4F;
  if (c >= 0xFF00 && c <= 0xFF0F) return false;
  if (c >= 0xFF1A && c <= 0xFF20) return false;
  if (c == 0xFFFD || (c >= 0xE000 && c <= 0xF8FF)) return false;
  return true;
}

std::string FromU32(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// Message::split_into_array_of_short_paragraphs, on any sequence type.
template <typename S>
std::vector<S> SplitShortParagraphs(const S& text) {
  using Ch = typename S::value_type;
  const size_t kMax = kMaxBodyLineLength;
  size_t len = text.size();
  if (len <= kMax) return {text};
  std::vector<S> result;
  size_t ofs = 0;
  // SA's index() searches to the end, but a hit at or beyond ofs + 2 * kMax is rejected anyway;
  // searching only that window keeps this linear.
  size_t window_end = 0;
  auto index = [&](Ch ch, size_t from) -> long long {
    for (size_t p = from; p < window_end && p < len; ++p) {
      if (text[p] == ch) return static_cast<long long>(p);
    }
    return -1;
  };
  for (; len - ofs > 2 * kMax;) {
    window_end = ofs + 2 * kMax;
    long long j = index(Ch('\n'), ofs + kMax);
    auto too_far = [&](long long jj) {
      return jj < 0 || static_cast<size_t>(jj) - ofs + 1 > 2 * kMax;
    };
    if (too_far(j)) {
      j = index(Ch('>'), ofs + kMax);
      if (too_far(j)) {
        j = index(Ch(' '), ofs + kMax);
        if (too_far(j)) j = static_cast<long long>(ofs + kMax);
      }
    }
    result.push_back(text.substr(ofs, static_cast<size_t>(j) - ofs + 1));
    ofs = static_cast<size_t>(j) + 1;
  }
  if (ofs < len) result.push_back(text.substr(ofs));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Building SA's MIME tree (Message.pm).

struct ParseItem {
  size_t node;
  std::optional<std::string> boundary;
  std::vector<std::string> body;
  int subparse;
};

class SaTreeBuilder {
 public:
  explicit SaTreeBuilder(MessageFacts& facts) : f_(facts) {}

  void Run(std::string_view raw) {
    f_.nodes.emplace_back();
    InitMessage(SplitLines(raw), 0, kSubparse, /*root=*/true);
    while (!queue_.empty()) {
      ParseItem item = std::move(queue_.front());
      queue_.pop_front();
      SaMimeNode& n = f_.nodes[item.node];
      if (n.type.rfind("multipart/", 0) == 0 && item.boundary && item.subparse > 0) {
        ParseMultipart(item);
      } else {
        ParseNormal(item);
      }
    }
  }

 private:
  void Flag(const char* name) { f_.parse_flags[name] = true; }

  static void AddHeader(SaMimeNode& node, std::string_view key, std::string_view value) {
    node.headers.emplace_back(ToLowerAscii(key), DecodeHeaderValue(key, value));
  }

  // Mail::SpamAssassin::Message->new: header section, body lines, parse queue entry.
  void InitMessage(std::vector<std::string> lines, size_t node_index, int subparse, bool root) {
    if (lines.empty()) lines.push_back("\n");
    std::deque<std::string> msg(std::make_move_iterator(lines.begin()),
                                std::make_move_iterator(lines.end()));
    // mbox "From " separator (the mbx form is rare and not handled).
    if (msg.front().rfind("From", 0) == 0 && msg.front().size() > 4 &&
        IsPerlSpace(msg.front()[4])) {
      size_t k = 4;
      while (k < msg.front().size() && IsPerlSpace(msg.front()[k])) ++k;
      // /^From\s+(?!:)/: \s+ may backtrack, so only "From" + blanks + ":" everywhere fails.
      bool fails = k < msg.front().size() ? msg.front()[k] == ':' && k == 5 : false;
      if (!fails) msg.pop_front();
      if (msg.empty()) msg.push_back("\n");  // (SA would index past the end; keep one line)
    }
    bool crlf = msg.front().find("\r\n") != std::string::npos ||
                msg.back().find("\r\n") != std::string::npos;
    std::string line_ending = crlf ? "\r\n" : "\n";
    int hdr_errors = 0;
    std::optional<std::string> header;
    for (;;) {
      bool eof = msg.empty();
      std::string current = eof ? line_ending : msg.front();
      if (!eof) msg.pop_front();
      if (crlf) {
        std::string fixed;
        for (size_t i = 0; i < current.size(); ++i) {
          if (current[i] == '\n' && (i == 0 || current[i - 1] != '\r')) fixed.push_back('\r');
          fixed.push_back(current[i]);
        }
        current = std::move(fixed);
      }
      if (!current.empty() && (current[0] == ' ' || current[0] == '\t')) {
        if (!header) header = std::string();
        *header += current;
        continue;
      }
      if (header) {
        size_t colon = header->find(':');
        if (colon != std::string::npos) {
          std::string key = header->substr(0, colon);
          std::string value = header->substr(colon + 1);
          if (crlf) value = CrlfToLf(value);
          while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
          if (key.size() > kMaxHeaderKeyLength) {
            key.resize(kMaxHeaderKeyLength);
            if (root) Flag("truncated_header");
          }
          if (value.size() > kMaxHeaderValueLength) {
            value.resize(kMaxHeaderValueLength);
            if (root) Flag("truncated_header");
          }
          AddHeader(f_.nodes[node_index], key, value);
        }
      }
      if (current == line_ending) {
        if (eof && root) Flag("missing_head_body_separator");
        break;
      }
      if (current.rfind("--", 0) == 0) {
        if (root) Flag("missing_head_body_separator");
        msg.push_front(current);
        break;
      }
      if (!LooksLikeHeaderField(current, true)) {
        if (++hdr_errors > 3) {
          if (root) Flag("missing_head_body_separator");
          msg.push_front(current);
          break;
        }
      }
      header = current;
    }
    std::vector<std::string> body(std::make_move_iterator(msg.begin()),
                                  std::make_move_iterator(msg.end()));
    if (root) {
      size_t len = 0;
      for (const auto& l : body) len += l.size();
      f_.pristine_body_length = len;
    }
    // CRLF → LF, and runs of more than 20 blank lines cut to 20 (walking backwards).
    std::optional<size_t> start;
    for (long long cnt = static_cast<long long>(body.size()) - 1; cnt >= 0; --cnt) {
      std::string& l = body[cnt];
      if (crlf && l.size() >= 2 && l.compare(l.size() - 2, 2, "\r\n") == 0) {
        l.erase(l.size() - 2, 1);
      }
      bool blank = std::all_of(l.begin(), l.end(),
                               [](char c) { return IsPerlSpace(static_cast<unsigned char>(c)); });
      if (blank) {
        if (!start) start = static_cast<size_t>(cnt);
        if (cnt != 0) continue;
      }
      if (start) {
        size_t num = *start - static_cast<size_t>(cnt);
        if (num > 20) {
          body.erase(body.begin() + cnt + 2, body.begin() + cnt + 2 + (num - 20));
        }
        start.reset();
      }
    }
    SaMimeNode& node = f_.nodes[node_index];
    SaContentType ct = ParseSaContentType(node.Header("content-type"));
    node.type = ct.type;
    if (node.type.rfind("multipart/", 0) == 0 && body.size() > 1 &&
        std::any_of(body[0].begin(), body[0].end(),
                    [](char c) { return !IsPerlSpace(static_cast<unsigned char>(c)); })) {
      if (!ct.boundary || body[0].rfind("--" + *ct.boundary, 0) != 0) {
        body.insert(body.begin(), "\n");
      }
    }
    queue_.push_back(ParseItem{node_index, ct.boundary, std::move(body), subparse});
  }

  // /^--\Q$boundary\E(--)?\s*$/ → 0 no, 1 delimiter, 2 close delimiter.
  static int BoundaryLine(std::string_view line, const std::string& b, bool allow_close) {
    if (line.size() < 2 + b.size() || line.compare(0, 2, "--") != 0 ||
        line.compare(2, b.size(), b) != 0) {
      return 0;
    }
    std::string_view rest = line.substr(2 + b.size());
    auto all_space = [](std::string_view s) {
      return std::all_of(s.begin(), s.end(),
                         [](char c) { return IsPerlSpace(static_cast<unsigned char>(c)); });
    };
    if (allow_close && rest.size() >= 2 && rest.compare(0, 2, "--") == 0 &&
        all_space(rest.substr(2))) {
      return 2;
    }
    return all_space(rest) ? 1 : 0;
  }

  static void PushCut(std::vector<std::string>& arr, const std::string& line) {
    size_t pos = 0;
    while (line.size() - pos > kMaxBodyLineLength) {
      arr.push_back(line.substr(pos, kMaxBodyLineLength) + "\n");
      pos += kMaxBodyLineLength;
    }
    arr.push_back(line.substr(pos));
  }

  void ParseMultipart(ParseItem& item) {
    size_t parent = item.node;
    f_.nodes[parent].leaf = false;
    const std::optional<std::string>& boundary = item.boundary;
    std::vector<std::string>& body = item.body;
    int subparse = item.subparse - 1;
    bool nested_boundary = false;
    if (boundary) {
      size_t line = 0;
      for (; line < body.size(); ++line) {
        if (BoundaryLine(body[line], *boundary, false) == 1) {
          f_.boundary_state[*boundary] = 1;
          if (line + 1 < body.size() && !LooksLikeHeaderField(body[line + 1], false)) {
            Flag("missing_mime_headers");
          }
          break;
        }
      }
      if (line < body.size()) body.erase(body.begin(), body.begin() + line + 1);
    }
    SaMimeNode part;
    bool in_body = false;
    std::optional<std::string> header;
    std::optional<std::vector<std::string>> part_array;
    size_t partcnt = 0;
    size_t line_count = body.size();
    const std::string parent_type = f_.nodes[parent].type;
    for (size_t idx = 0; idx < body.size(); ++idx) {
      std::string cur = body[idx];
      int b = boundary ? BoundaryLine(cur, *boundary, true) : 0;
      bool found_end = b != 0;
      bool found_last_end = b == 2;
      if (found_end && nested_boundary) {
        found_end = false;
        if (found_last_end) nested_boundary = false;
      }
      if (--line_count == 0 || found_end) {
        if (!found_end) {
          if (!part_array) part_array.emplace();
          PushCut(*part_array, cur);
        } else if (part_array) {
          if (!part_array->empty()) {
            std::string& last = part_array->back();
            if (!last.empty() && last.back() == '\n') last.pop_back();
            if (last.empty()) part_array->pop_back();
          }
        } else {
          part_array.emplace();
        }
        SaContentType ct = ParseSaContentType(part.Header("content-type"));
        part.type = ct.type;
        if (ct.missing && parent_type == "multipart/digest") part.type = "message/rfc822";
        std::optional<std::string> p_boundary = ct.boundary;
        if (!p_boundary || p_boundary->empty()) p_boundary = boundary;
        size_t index = f_.nodes.size();
        f_.nodes.push_back(std::move(part));
        f_.nodes[parent].children.push_back(index);
        queue_.push_back(ParseItem{index, p_boundary, std::move(*part_array), subparse});
        if (boundary) {
          if (found_last_end) {
            f_.boundary_state[*boundary]--;
            break;
          }
          if (line_count > 0 && !LooksLikeHeaderField(body[body.size() - line_count], false)) {
            Flag("missing_mime_headers");
          }
        }
        if (++partcnt == kMaxParts) {
          Flag("mimepart_limit_exceeded");
          return;
        }
        in_body = false;
        part = SaMimeNode();
        part_array.reset();
        header.reset();
        continue;
      }
      if (!in_body) {
        if (LooksLikeHeaderField(cur, true)) {
          if (header) StoreSplitHeader(part, *header);
          header = cur;
          continue;
        }
        if (!cur.empty() && (cur[0] == ' ' || cur[0] == '\t') && header) {
          *header += cur;
          continue;
        }
        if (header) {
          std::string key = StoreSplitHeader(part, *header);
          if (boundary && ToLowerAscii(key) == "content-type") {
            SaContentType nct = ParseSaContentType(part.Header("content-type"));
            if (nct.boundary && *nct.boundary == *boundary) nested_boundary = true;
          }
        }
        in_body = true;
        if (cur == "\n" || cur == "\r\n" || cur.empty() || cur == "\r") continue;
        Flag("missing_mime_head_body_separator");
      }
      if (!part_array) part_array.emplace();
      PushCut(*part_array, cur);
    }
    if (line_count > 0) {
      for (; line_count > 0; --line_count) {
        const std::string& l = body[body.size() - line_count];
        if (std::any_of(l.begin(), l.end(), [](char c) {
              return !IsPerlSpace(static_cast<unsigned char>(c)) && c != '.';
            })) {
          Flag("mime_epilogue_exists");
          break;
        }
      }
    }
  }

  // split(/:\s*/, $header, 2) then header($key, $value); returns the key.
  static std::string StoreSplitHeader(SaMimeNode& node, const std::string& header) {
    size_t colon = header.find(':');
    if (colon == std::string::npos) return header;
    std::string key = header.substr(0, colon);
    size_t v = colon + 1;
    while (v < header.size() && IsPerlSpace(header[v])) ++v;
    AddHeader(node, key, std::string_view(header).substr(v));
    return key;
  }

  void ParseNormal(ParseItem& item) {
    size_t index = item.node;
    {
      SaMimeNode& n = f_.nodes[index];
      SaContentType ct = ParseSaContentType(n.Header("content-type"));
      if (!ct.missing) {
        n.type = (ct.type.rfind("multipart/", 0) != 0 || item.boundary) ? ct.type : "text/plain";
      }
      n.charset = ct.charset;
      const std::string* disp = n.Header("content-disposition");
      bool named = false;
      if (disp != nullptr) {
        // /name=\s*"?([^";]+)"?/i
        std::string ld = ToLowerAscii(*disp);
        for (size_t p = ld.find("name="); p != std::string::npos; p = ld.find("name=", p + 1)) {
          size_t i = p + 5;
          while (i < ld.size() && IsPerlSpace(ld[i])) ++i;
          if (i < ld.size() && ld[i] == '"') ++i;
          size_t j = i;
          while (j < ld.size() && ld[j] != '"' && ld[j] != ';') ++j;
          if (j > i) {
            n.name = disp->substr(i, j - i);
            named = true;
            break;
          }
        }
      }
      if (!named && ct.name && !ct.name->empty()) n.name = *ct.name;
      n.raw_lines = std::move(item.body);
      n.leaf = true;
    }
    const SaMimeNode& n = f_.nodes[index];
    if (n.type.rfind("message/", 0) == 0 && n.type != "message/partial" && item.subparse > 0 &&
        (n.type == "message/rfc822" || n.type == "message/global")) {
      std::string decoded = DecodeNode(n);
      if (!decoded.empty()) {
        size_t child = f_.nodes.size();
        f_.nodes.emplace_back();
        f_.nodes[index].children.push_back(child);
        f_.nodes[index].leaf = false;
        f_.nodes[index].raw_lines.clear();
        InitMessage(SplitLines(decoded), child, item.subparse - 1, /*root=*/false);
      }
    }
  }

  MessageFacts& f_;
  std::deque<ParseItem> queue_;
};

void Dfs(const MessageFacts& f, size_t i, std::vector<size_t>& out, size_t depth) {
  out.push_back(i);
  if (depth > 200) return;
  for (size_t c : f.nodes[i].children) Dfs(f, c, out, depth + 1);
}

std::string EffectiveType(const SaMimeNode& n) {
  std::string ln = ToLowerAscii(n.name);
  // /\.s?html?$/i
  for (const char* suf : {".html", ".htm", ".shtml", ".shtm"}) {
    size_t sl = std::char_traits<char>::length(suf);
    if (ln.size() >= sl && ln.compare(ln.size() - sl, sl, suf) == 0) return "text/html";
  }
  return n.type;
}

// Node::rendered() for every leaf, and $pms->{html_all}.
void RenderLeaves(MessageFacts& f, const RenderedHtmlLookup& rendered) {
  for (size_t i : f.dfs) {
    SaMimeNode& n = f.nodes[i];
    if (!n.leaf) continue;
    std::string type = EffectiveType(n);
    if (type != "text/plain" && type != "text/html") continue;
    std::string decoded = DecodeNode(n);
    std::string charset = n.charset.value_or("us-ascii");
    std::string text = mime::ToUtf8(decoded, charset);
    n.rendered = true;
    n.rendered_type = type;
    if (!decoded.empty() && type == "text/html") {
      const mime::HtmlResult* known = rendered ? rendered(text) : nullptr;
      mime::HtmlResult html = known != nullptr ? *known : mime::RenderHtml(text);
      n.rendered_text = html.text;
      // non_space_len with Perl's Unicode \s (the rendered text is in characters).
      std::u32string u = ToU32(html.text);
      size_t spaces = static_cast<size_t>(std::count_if(u.begin(), u.end(), IsUniSpace));
      html.html_length = u.size();
      html.non_space_len = u.size() - spaces;
      f.html_ratio.push_back(
          (static_cast<double>(decoded.size()) - static_cast<double>(html.html_length)) /
          static_cast<double>(decoded.size()));
      n.html_index = static_cast<int>(f.html_all.size());
      f.html_all.push_back(std::move(html));
    } else {
      n.rendered_text = std::move(text);
    }
  }
}

// MIMEEval::_check_mime_header + _check_attachments.
void CheckAttachments(MessageFacts& f) {
  MimeFlags& m = f.mime;
  double qp_bytes = 0, qp_count = 0, normal_chars = 0, unicode_chars = 0;
  std::vector<std::optional<double>> part_bytes;
  std::vector<std::string> part_type;
  for (size_t i : f.dfs) {
    const SaMimeNode& p = f.nodes[i];
    SaContentType ct = ParseSaContentType(p.Header("content-type"));
    const std::string& ctype = ct.type;
    if (ctype == "multipart/alternative") m.multipart_alternative = 1;
    const std::string* cte_h = p.Header("content-transfer-encoding");
    std::string cte = cte_h ? ToLowerAscii(*cte_h) : "";
    const std::string* cd_h = p.Header("content-disposition");
    std::string cd = cd_h ? ToLowerAscii(*cd_h) : "";
    std::optional<std::string> charset = ct.charset;
    if (charset && !charset->empty() && *charset != "0") charset = ToLowerAscii(*charset);
    std::string cs = charset.value_or("");
    if (cs == "0") cs.clear();
    // _check_mime_header
    if (ctype == "text/html") {
      m.body_html_count++;
    } else if (StartsWithIgnoreCase(ctype, "text")) {
      m.body_text_count++;
    }
    if (cte.find("base64") != std::string::npos) {
      m.base64_count++;
    } else if (cte.find("quoted-printable") != std::string::npos) {
      m.qp_count++;
    }
    if (!cd.empty() && cd.find("attachment") != std::string::npos) {
      m.attachment = m.attachment.value_or(0) + 1;
    }
    if (ctype.rfind("text", 0) == 0 && cte.find("base64") != std::string::npos) {
      static const PerlRegex kAscii(
          "us-ascii|ansi_x3\\.4-1968|iso-ir-6|ansi_x3\\.4-1986|iso_646\\.irv:1991|ascii|"
          "iso646-us|us|ibm367|cp367|csascii",
          kEvalRegexOptions);
      bool ascii = cs.empty() || SearchFirstGroup(cs, kAscii);
      bool disp = cd.rfind("attachment", 0) == 0 || cd.rfind("inline", 0) == 0;
      if (ascii && !disp) m.base64_encoded_text = 1;
    }
    {
      static const PerlRegex kIso("iso-\\S+-\\S+\\b", kEvalRegexCaseless);
      static const PerlRegex kGoodIso("iso-(?:8859-\\d{1,2}|2022-(?:jp|kr))\\b", kEvalRegexOptions);
      if (SearchFirstGroup(cs, kIso) && !SearchFirstGroup(cs, kGoodIso)) {
        m.bad_iso_charset = 1;
      }
    }
    if (std::any_of(cs.begin(), cs.end(), [](char c) { return std::isalpha(c) != 0; })) {
      if (!m.html_charsets.empty()) m.html_charsets += " ";
      m.html_charsets += cs;
      // ok_locales "all": mime_faraway_charset stays 0.
    }
    if (!p.leaf) continue;
    part_type.push_back(ctype);
    bool attachment = cd.find("attachment") != std::string::npos;
    part_bytes.push_back(attachment ? std::nullopt : std::optional<double>(0));
    for (const std::string& line : p.raw_lines) {
      if (m.multipart_alternative != 0 && !attachment &&
          (ctype == "text/plain" || ctype == "text/html")) {
        part_bytes.back() = part_bytes.back().value_or(0) + static_cast<double>(line.size());
      }
      if (cte == "quoted-printable" && line.rfind("SPAM: ", 0) != 0) {
        if (line.size() > 79) m.qp_long_line = 1;
        qp_bytes += static_cast<double>(line.size());
        if (line.find('=') != std::string::npos) {
          int qp = 0;
          for (size_t k = 0; k + 2 < line.size(); ++k) {
            if (line[k] != '=') continue;
            char a = line[k + 1], b = line[k + 2];
            bool hexu = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');
            bool ok = (a == '0' && b == '9') ||
                      (a == '3' && ((b >= '0' && b <= '9') || b == 'A' || b == 'B' || b == 'C' ||
                                    b == 'E' || b == 'F')) ||
                      ((a == '2' || a == '4' || a == '5' || a == '6') && hexu) ||
                      (a == '7' && ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'E')));
            if (ok) {
              ++qp;
              k += 2;
            }
          }
          if (qp) {
            qp_count += qp;
            size_t e = line.size();
            while (e > 0 && IsPerlSpace(line[e - 1])) --e;
            size_t s = e;
            while (s >= 3 &&
                   (line.compare(s - 3, 3, "=09") == 0 || line.compare(s - 3, 3, "=20") == 0)) {
              s -= 3;
            }
            qp_count -= static_cast<double>(e - s) / 3;
          }
        }
      }
      if (ctype == "text/plain" && (!charset || cs == "us-ascii")) {
        if (std::any_of(line.begin(), line.end(), [](char c) {
              unsigned char u = c;
              return u == 0 || u == 0x0d || u >= 0x80;
            })) {
          m.ascii_text_illegal++;
        }
      }
      if (ctype == "text/plain" && (cte.empty() || cte == "7bit" || cte == "8bit")) {
        // s/&#x[0-9A-F]{4};//g
        size_t subs = 0, removed = 0;
        for (size_t k = 0; k + 8 <= line.size(); ++k) {
          if (line.compare(k, 3, "&#x") != 0 || line[k + 7] != ';') continue;
          bool ok = true;
          for (size_t h = 3; h < 7; ++h) {
            char c = line[k + h];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) ok = false;
          }
          if (ok) {
            ++subs;
            removed += 8;
            k += 7;
          }
        }
        normal_chars += static_cast<double>(line.size() - removed);
        unicode_chars += static_cast<double>(subs);
      }
    }
  }
  if (qp_bytes != 0) {
    m.qp_ratio = qp_count / qp_bytes;
    m.qp_count = qp_count;
    m.qp_bytes = qp_bytes;
  }
  if (normal_chars != 0) m.text_unicode_ratio = unicode_chars / normal_chars;
  if (m.multipart_alternative != 0) {
    std::optional<double> text, html;
    for (size_t i = part_bytes.size(); i-- > 0;) {
      if (!part_bytes[i]) continue;
      if (!html && part_type[i] == "text/html") {
        html = part_bytes[i];
      } else if (!text && part_type[i] == "text/plain") {
        text = part_bytes[i];
      }
      if (html && text) break;
    }
    if (text && html && *html > 0) m.multipart_ratio = *text / *html;
  }
  for (const auto& [b, v] : f.boundary_state) {
    if (v != 0) {
      m.missing_boundary = 1;
      break;
    }
  }
}

void ComputeBase64Length(MessageFacts& f) {
  for (size_t i : f.dfs) {
    const SaMimeNode& p = f.nodes[i];
    if (!p.leaf) continue;
    if (ParseSaContentType(p.Header("content-type")).type == "application/ics") continue;
    const std::string* cte = p.Header("content-transfer-encoding");
    if (cte == nullptr || ToLowerAscii(*cte) != "base64") continue;
    for (const auto& l : p.raw_lines) f.base64_length = std::max(f.base64_length, l.size());
  }
}

// Node::content_summary.
std::vector<std::string> ContentSummary(const MessageFacts& f) {
  std::vector<std::string> ret{f.nodes[0].type};
  const SaMimeNode& root = f.nodes[0];
  if (root.leaf) return ret;
  for (size_t c : root.children) {
    std::vector<size_t> sub;
    Dfs(f, c, sub, 0);
    std::string s;
    for (size_t k = 0; k < sub.size(); ++k) {
      if (k) s += ",";
      s += f.nodes[sub[k]].type;
    }
    ret.push_back(s);
  }
  return ret;
}

std::vector<std::u32string> PerlWords(std::string_view text) {
  std::vector<std::u32string> out;
  std::u32string u = ToU32(text);
  size_t i = 0;
  while (i < u.size()) {
    while (i < u.size() && IsUniSpace(u[i])) ++i;
    size_t j = i;
    while (j < u.size() && !IsUniSpace(u[j])) ++j;
    if (j > i) {
      std::u32string w = u.substr(i, j - i);
      if (std::any_of(w.begin(), w.end(), IsUniWord)) out.push_back(std::move(w));
    }
    i = j;
  }
  return out;
}

// BodyEval::_multipart_alternative_difference.
void ComputeMadiff(MessageFacts& f) {
  std::vector<size_t> ma;
  for (size_t i : f.dfs) {
    const std::string& t = f.nodes[i].type;
    if (t.rfind("multipart/alternative", 0) == 0 &&
        (t.size() == 21 || !IsWordByte(static_cast<unsigned char>(t[21])))) {
      ma.push_back(i);
    }
  }
  if (ma.empty()) return;
  std::vector<std::string> content = ContentSummary(f);
  if (content.size() == 3 && content[2] == "text/calendar" && content[1] == "text/html" &&
      content[0] == "multipart/alternative") {
    return;
  }
  for (size_t m : ma) {
    std::map<std::u32string, int> html, text;
    std::vector<size_t> sub;
    Dfs(f, m, sub, 0);
    for (size_t i : sub) {
      const SaMimeNode& n = f.nodes[i];
      if (!(n.type.rfind("text", 0) == 0 &&
            (n.type.size() == 4 || !IsWordByte(static_cast<unsigned char>(n.type[4]))))) {
        continue;
      }
      if (!n.rendered) continue;
      if (n.rendered_type == "text/html") {
        for (auto& w : PerlWords(n.rendered_text)) html[w]++;
        if (html.empty() && n.html_index >= 0 &&
            f.html_all[n.html_index].inside.count("img") != 0) {
          html[U"\n"] = 1;
        }
      } else {
        for (auto& w : PerlWords(n.rendered_text)) text[w]++;
      }
    }
    size_t orig = html.size();
    if (orig == 0) continue;
    f.madiff_html = orig;
    f.madiff_text = text.size();
    for (const auto& [k, v] : text) {
      auto it = html.find(k);
      if (it != html.end() && it->second - v < 1) html.erase(it);
    }
    double diff = static_cast<double>(html.size()) / static_cast<double>(orig) * 100;
    if (diff > f.madiff) f.madiff = diff;
  }
}

// BodyEval::check_blank_line_ratio over get_decoded_body_text_array (minlines 1).
void ComputeBlankLines(MessageFacts& f) {
  size_t blank = 0, nlines = 0;
  for (size_t i : f.dfs) {
    const SaMimeNode& n = f.nodes[i];
    if (!n.leaf) continue;
    std::string et = EffectiveType(n);
    auto word_prefix = [&](std::string_view p) {
      return et.rfind(p, 0) == 0 &&
             (et.size() == p.size() || !IsWordByte(static_cast<unsigned char>(et[p.size()])));
    };
    if (!word_prefix("text") && !word_prefix("message")) continue;
    if (n.type == "text/calendar") continue;
    std::string raw = DecodeNode(n);
    if (raw.size() > kRawbodyPartScanSize) {
      const size_t s = kRawbodyPartScanSize;
      size_t idx = raw.find('\n', s);
      if (idx != std::string::npos && idx - s <= 1024) {
        raw.resize(idx + 1);
      } else if ((idx = raw.find('>', s)) != std::string::npos && idx - s <= 1024) {
        raw.resize(idx + 1);
      } else if ((idx = raw.find(' ', s)) != std::string::npos && idx - s <= 1024) {
        raw.resize(idx + 1);
      } else {
        raw.resize(s);
      }
    }
    for (const std::string& chunk : SplitShortParagraphs(raw)) {
      // split(/^/m, $chunk, -1): an empty chunk still yields no line.
      for (const std::string& l : SplitLines(chunk)) {
        ++nlines;
        if (std::all_of(l.begin(), l.end(),
                        [](char c) { return IsPerlSpace(static_cast<unsigned char>(c)); })) {
          ++blank;
        }
      }
    }
  }
  f.decoded_body_lines = nlines;
  f.blank_line_ratio_1 = nlines < 1 ? -1 : 100.0 * static_cast<double>(blank) / nlines;
}

std::string StockMatch(const std::string& s) {
  static const PerlRegex kStock(
      "(^trad(?:e|ing)date|company(?:name)?|s\\w?(?:t\\w?o\\w?c\\w?k|y\\w?m(?:\\w?b\\w?o\\w?l)?)|"
      "t(?:arget|icker)|(?:opening|current)p(?:rice)?|p(?:rojected|osition)|expectations|"
      "weeks?high|marketperformance|(?:year|week|month|day|price)(?:target|estimates?)|sector|"
      "r(?:ecommendation|ating))$",
      kEvalRegexOptions);
  std::string key;
  if (SearchFirstGroup(s, kStock, &key)) return key;
  return "";
}

// BodyEval::_check_stock_info: /^\s*([^:\s][^:\n]{2,29})\s*:\s*\S/mg on the first text/plain.
void ComputeStockInfo(MessageFacts& f) {
  const SaMimeNode* part = nullptr;
  for (size_t i : f.dfs) {
    if (f.nodes[i].type == "text/plain") {
      part = &f.nodes[i];
      break;
    }
  }
  if (part == nullptr || !part->rendered) return;
  std::set<std::string> hits;
  std::u32string all = ToU32(part->rendered_text);
  for (const std::u32string& s : SplitShortParagraphs(all)) {
    size_t pos = 0;
    while (pos < s.size()) {
      size_t p = pos;
      if (p != 0 && s[p - 1] != U'\n') {
        size_t nl = s.find(U'\n', p);
        if (nl == std::u32string::npos) break;
        p = nl + 1;
      }
      if (p >= s.size()) break;
      size_t q = p;
      while (q < s.size() && IsUniSpace(s[q])) ++q;
      bool matched = false;
      if (q < s.size() && s[q] != U':') {
        size_t r = 0;
        while (r < 29 && q + 1 + r < s.size() && s[q + 1 + r] != U':' && s[q + 1 + r] != U'\n') {
          ++r;
        }
        for (size_t count = r; count >= 2 && !matched; --count) {
          size_t e = q + 1 + count;
          size_t k = e;
          while (k < s.size() && IsUniSpace(s[k])) ++k;
          if (k >= s.size() || s[k] != U':') continue;
          ++k;
          while (k < s.size() && IsUniSpace(s[k])) ++k;
          if (k >= s.size()) continue;
          std::string cap;
          for (size_t c = q; c < e; ++c) {
            char32_t ch = s[c];
            if (ch >= 'A' && ch <= 'Z') ch = ch - 'A' + 'a';
            if (ch >= 'a' && ch <= 'z') cap.push_back(static_cast<char>(ch));
          }
          std::string key = StockMatch(cap);
          if (!key.empty()) hits.insert(key);
          matched = true;
          pos = k + 1;
        }
      }
      if (!matched) pos = p + 1;
    }
  }
  f.stock_info = hits.size();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const std::string* SaMimeNode::Header(std::string_view lname) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == lname) return &it->second;
  }
  return nullptr;
}

std::optional<double> MimeFlags::Get(std::string_view name) const {
  if (name == "mime_base64_count") return base64_count;
  if (name == "mime_base64_encoded_text") return base64_encoded_text;
  if (name == "mime_body_html_count") return body_html_count;
  if (name == "mime_body_text_count") return body_text_count;
  if (name == "mime_faraway_charset") return faraway_charset;
  if (name == "mime_missing_boundary") return missing_boundary;
  if (name == "mime_multipart_alternative") return multipart_alternative;
  if (name == "mime_multipart_ratio") return multipart_ratio;
  if (name == "mime_qp_count") return qp_count;
  if (name == "mime_qp_long_line") return qp_long_line;
  if (name == "mime_qp_ratio") return qp_ratio;
  if (name == "mime_ascii_text_illegal") return ascii_text_illegal;
  if (name == "mime_text_unicode_ratio") return text_unicode_ratio;
  if (name == "mime_attachment") return attachment;
  if (name == "mime_bad_iso_charset") return bad_iso_charset;
  if (name == "mime_qp_bytes") return qp_bytes;
  if (name == "mime_checked_attachments") return 1;
  return std::nullopt;
}

MessageFacts ComputeMessageFacts(const mime::Message& message, const RenderedHtmlLookup& rendered) {
  MessageFacts f;
  SaTreeBuilder(f).Run(message.raw());
  Dfs(f, 0, f.dfs, 0);
  for (const auto& [name, value] : f.nodes[0].headers) {
    if (name == "content-type") f.top_content_type += value + "\n";
    if (name == "subject") f.subject += value + "\n";
  }
  RenderLeaves(f, rendered);
  CheckAttachments(f);
  ComputeBase64Length(f);
  ComputeMadiff(f);
  ComputeBlankLines(f);
  ComputeStockInfo(f);
  return f;
}

std::vector<std::string> SaRenderedBodyLines(const MessageFacts& facts) {
  constexpr size_t kScan = 50000;  // body_part_scan_size (bytes here; SA counts characters)
  std::string text;
  for (size_t i : facts.dfs) {
    const SaMimeNode& n = facts.nodes[i];
    if (!n.leaf) continue;
    if (!text.empty()) text += "\n";
    if (!n.rendered) continue;
    std::string rnd = n.rendered_text;
    if (rnd.size() > kScan) {
      size_t idx = rnd.find('\n', kScan);
      if (idx != std::string::npos && idx - kScan <= 1024) {
        rnd.resize(idx + 1);
      } else if ((idx = rnd.find(' ', kScan)) != std::string::npos && idx - kScan <= 1024) {
        rnd.resize(idx + 1);
      } else {
        rnd.resize(kScan);
      }
    }
    text += rnd;
  }
  // s/\n+\s*\n+/\x00/gs; s/\s+/ /gs; tr/\x00/\n/ — with Perl's Unicode \s.
  std::u32string u = ToU32(text);
  std::u32string a;
  a.reserve(u.size());
  for (size_t i = 0; i < u.size();) {
    if (u[i] == U'\n') {
      size_t j = i, last_nl = i, nls = 0;
      while (j < u.size() && IsUniSpace(u[j])) {
        if (u[j] == U'\n') {
          last_nl = j;
          ++nls;
        }
        ++j;
      }
      if (nls >= 2) {
        a.push_back(U'\0');
        i = last_nl + 1;
        continue;
      }
    }
    a.push_back(u[i++]);
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < a.size();) {
    if (IsUniSpace(a[i])) {
      while (i < a.size() && IsUniSpace(a[i])) ++i;
      out.push_back(' ');
      continue;
    }
    size_t j = i;
    while (j < a.size() && !IsUniSpace(a[j])) ++j;
    std::u32string_view chunk(a.data() + i, j - i);
    std::string piece = FromU32(chunk);
    std::replace(piece.begin(), piece.end(), '\0', '\n');
    out += piece;
    i = j;
  }
  const SaMimeNode& root = facts.nodes[0];
  const std::string* subject = root.Header("subject");
  std::string all = (subject != nullptr && !subject->empty() && *subject != "0")
                        ? *subject + "\n"
                        : std::string("\n");
  all += out;
  return SplitIntoShortLines(all);
}

// --- HTMLEval ---------------------------------------------------------------------------------

std::u32string Utf8ToU32(std::string_view s) { return ToU32(s); }

}  // namespace mailsift::rules
