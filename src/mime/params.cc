#include "mime/params.h"

#include <algorithm>
#include <map>
#include <optional>

#include "base/strings.h"
#include "mime/charset.h"

namespace mailsift::mime {
namespace {

constexpr size_t kMaxParameters = 64;
constexpr int kMaxSegment = 999;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// One "attr=value" as written, before RFC 2231 assembly.
struct RawParam {
  std::string name;  // lower-case, with any "*" suffixes
  std::string value;
  bool quoted = false;
};

std::vector<RawParam> SplitParameters(std::string_view text) {
  std::vector<RawParam> out;
  size_t i = 0;
  while (i < text.size() && out.size() < kMaxParameters * 4) {
    while (i < text.size() && (IsBlank(text[i]) || text[i] == ';')) ++i;
    size_t name_begin = i;
    while (i < text.size() && text[i] != '=' && text[i] != ';') ++i;
    if (i >= text.size() || text[i] == ';') continue;  // no "=": not a parameter
    std::string_view name = Trim(text.substr(name_begin, i - name_begin));
    ++i;  // '='
    while (i < text.size() && IsBlank(text[i])) ++i;
    RawParam p;
    p.name = ToLowerAscii(name);
    if (i < text.size() && text[i] == '"') {
      p.quoted = true;
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        p.value.push_back(text[i]);
        ++i;
      }
      if (i < text.size()) ++i;  // closing quote
      while (i < text.size() && text[i] != ';') ++i;
    } else {
      size_t value_begin = i;
      while (i < text.size() && text[i] != ';') ++i;
      p.value = std::string(Trim(text.substr(value_begin, i - value_begin)));
    }
    if (!p.name.empty()) out.push_back(std::move(p));
  }
  return out;
}

struct Assembly {
  std::string plain;
  bool has_plain = false;
  std::string extended;  // RFC 2231 "name*=": raw text "charset'lang'value"
  bool has_extended = false;
  std::map<int, std::pair<bool, std::string>> segments;  // index → (encoded, text)
};

// "charset'lang'rest" → (charset, rest); no quotes → ("", whole).
std::pair<std::string, std::string_view> SplitCharset(std::string_view s) {
  size_t q1 = s.find('\'');
  if (q1 == std::string_view::npos) return {"", s};
  size_t q2 = s.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return {"", s};
  return {std::string(s.substr(0, q1)), s.substr(q2 + 1)};
}

}  // namespace

const std::string* FindParameter(const Parameters& params, std::string_view name) {
  for (const Parameter& p : params) {
    if (EqualsIgnoreCase(p.name, name)) return &p.value;
  }
  return nullptr;
}

Parameters ParseParameters(std::string_view text) {
  std::vector<std::string> order;
  std::map<std::string, Assembly> by_name;
  for (RawParam& raw : SplitParameters(text)) {
    std::string base = raw.name;
    bool encoded = false;
    int segment = -1;
    size_t star = raw.name.find('*');
    if (star != std::string::npos) {
      base = raw.name.substr(0, star);
      std::string_view rest = std::string_view(raw.name).substr(star + 1);
      if (!rest.empty() && rest.back() == '*') {
        encoded = true;
        rest.remove_suffix(1);
      }
      if (rest.empty()) {
        encoded = true;  // "name*="
      } else if (rest.front() == '*' || rest.back() == '*') {
        continue;  // garbage like "name**"
      } else {
        std::optional<uint64_t> n = ParseUnsigned(rest);
        if (!n || *n > kMaxSegment) continue;
        segment = static_cast<int>(*n);
      }
      if (rest.empty() && raw.quoted) encoded = true;
    }
    base = std::string(Trim(base));
    if (base.empty()) continue;
    auto [it, inserted] = by_name.try_emplace(base);
    if (inserted) {
      if (order.size() >= kMaxParameters) {
        by_name.erase(it);
        continue;
      }
      order.push_back(base);
    }
    Assembly& a = it->second;
    if (star == std::string::npos) {
      if (!a.has_plain) a.plain = std::move(raw.value);
      a.has_plain = true;
    } else if (segment < 0) {
      if (!a.has_extended) a.extended = std::move(raw.value);
      a.has_extended = true;
    } else {
      a.segments.try_emplace(segment, encoded, std::move(raw.value));
    }
  }
  Parameters out;
  for (const std::string& name : order) {
    Assembly& a = by_name[name];
    Parameter p;
    p.name = name;
    if (a.has_extended) {
      auto [charset, rest] = SplitCharset(a.extended);
      p.value = ToUtf8(PercentDecode(rest), charset);
      p.extended = true;
    } else if (!a.segments.empty()) {
      std::string charset;
      std::string bytes;
      bool first = true;
      for (auto& entry : a.segments) {
        auto& [encoded, segment_text] = entry.second;
        if (!encoded) {
          bytes += segment_text;
        } else if (first) {  // RFC 2231 puts it in segment 0; take the lowest present
          auto [cs, rest] = SplitCharset(segment_text);
          charset = cs;
          bytes += PercentDecode(rest);
        } else {
          bytes += PercentDecode(segment_text);
        }
        first = false;
      }
      p.value = ToUtf8(bytes, charset);  // no charset: UTF-8 if valid, else windows-1252
      p.extended = true;
    } else {
      p.value = std::move(a.plain);
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string_view ContentType::Param(std::string_view name) const {
  const std::string* v = FindParameter(params, name);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

ContentType ParseContentType(std::string_view value) {
  ContentType ct;
  ct.present = true;
  size_t i = 0;
  while (i < value.size() && IsBlank(value[i])) ++i;
  size_t type_begin = i;
  while (i < value.size() && !IsBlank(value[i]) && value[i] != '/' && value[i] != ';') ++i;
  std::string type = ToLowerAscii(value.substr(type_begin, i - type_begin));
  while (i < value.size() && IsBlank(value[i])) ++i;
  std::string subtype;
  if (i < value.size() && value[i] == '/') {
    ++i;
    while (i < value.size() && IsBlank(value[i])) ++i;
    size_t sub_begin = i;
    while (i < value.size() && !IsBlank(value[i]) && value[i] != ';' && value[i] != '(') ++i;
    subtype = ToLowerAscii(value.substr(sub_begin, i - sub_begin));
  }
  if (type.empty() || subtype.empty()) {
    ct.malformed = true;
  } else {
    ct.type = std::move(type);
    ct.subtype = std::move(subtype);
  }
  ct.params = ParseParameters(value.substr(i));
  return ct;
}

ContentDisposition ParseContentDisposition(std::string_view value) {
  ContentDisposition cd;
  size_t semi = value.find(';');
  cd.type = ToLowerAscii(Trim(value.substr(0, semi)));
  if (semi != std::string_view::npos) cd.params = ParseParameters(value.substr(semi + 1));
  return cd;
}

TransferEncoding ParseTransferEncoding(std::string_view value) {
  value = Trim(value);
  size_t end = 0;
  while (end < value.size() && !IsBlank(value[end]) && value[end] != '(' && value[end] != ';') {
    ++end;
  }
  std::string token = ToLowerAscii(value.substr(0, end));
  if (!token.empty() && token.front() == '"' && token.back() == '"' && token.size() >= 2) {
    token = token.substr(1, token.size() - 2);
  }
  if (token.empty() || token == "7bit") return TransferEncoding::k7Bit;
  if (token == "8bit") return TransferEncoding::k8Bit;
  if (token == "binary") return TransferEncoding::kBinary;
  if (token == "quoted-printable") return TransferEncoding::kQuotedPrintable;
  if (token == "base64") return TransferEncoding::kBase64;
  return TransferEncoding::kOther;
}

}  // namespace mailsift::mime
