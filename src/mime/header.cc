#include "mime/header.h"

#include "base/strings.h"
#include "mime/charset.h"
#include "mime/codec.h"

namespace mailsift::mime {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Printable US-ASCII except ":" (RFC 5322 §2.2 ftext).
bool IsFieldNameChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != ':';
}

struct EncodedWord {
  std::string_view charset;  // without the RFC 2231 "*lang" suffix
  std::string bytes;         // decoded, still in `charset`
  size_t end = 0;            // index just past "?="
};

// Parses an encoded word that starts at text[p] ("=?"); false when there is none.
bool ParseEncodedWord(std::string_view text, size_t p, EncodedWord& word) {
  size_t cs_begin = p + 2;
  size_t q1 = text.find('?', cs_begin);
  if (q1 == std::string_view::npos || q1 == cs_begin || q1 - cs_begin > 80) return false;
  for (size_t k = cs_begin; k < q1; ++k) {
    unsigned char u = static_cast<unsigned char>(text[k]);
    if (u <= 32 || u >= 127 || text[k] == '=') return false;
  }
  if (q1 + 2 >= text.size() || text[q1 + 2] != '?') return false;
  char enc = text[q1 + 1];
  bool base64 = enc == 'B' || enc == 'b';
  if (!base64 && enc != 'Q' && enc != 'q') return false;
  size_t payload_begin = q1 + 3;
  size_t q2 = text.find('?', payload_begin);
  if (q2 == std::string_view::npos || q2 + 1 >= text.size() || text[q2 + 1] != '=') return false;
  std::string_view payload = text.substr(payload_begin, q2 - payload_begin);
  for (char c : payload) {
    if (c == '\r' || c == '\n') return false;
  }
  std::string_view charset = text.substr(cs_begin, q1 - cs_begin);
  if (size_t star = charset.find('*'); star != std::string_view::npos) {
    charset = charset.substr(0, star);
  }
  word.charset = charset;
  word.bytes.clear();
  if (base64) {
    DecodeBase64(payload, word.bytes);
  } else {
    word.bytes = DecodeQEncoding(payload);
  }
  word.end = q2 + 2;
  return true;
}

bool AllFoldingBlanks(std::string_view s) {
  for (char c : s) {
    if (!IsBlank(c) && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

const std::vector<HeaderField>& Headers::Empty() {
  static const std::vector<HeaderField> empty;
  return empty;
}

std::vector<const HeaderField*> Headers::GetAll(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const HeaderField& f : fields()) {
    if (EqualsIgnoreCase(f.name, name)) out.push_back(&f);
  }
  return out;
}

const HeaderField* Headers::Get(std::string_view name) const {
  for (const HeaderField& f : fields()) {
    if (EqualsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

std::string_view Headers::Value(std::string_view name) const {
  const HeaderField* f = Get(name);
  return f == nullptr ? std::string_view() : std::string_view(f->value);
}

std::string Unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\n') continue;
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    out.push_back(c);
  }
  size_t b = 0, e = out.size();
  auto trim = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (b < e && trim(out[b])) ++b;
  while (e > b && trim(out[e - 1])) --e;
  out.erase(e);  // in place: no second copy of a long value
  out.erase(0, b);
  return out;
}

std::string DecodeEncodedWords(std::string_view text) {
  if (text.find("=?") == std::string_view::npos) return std::string(text);
  std::string out;
  std::string pending;
  std::string pending_charset;
  bool have_pending = false;
  auto flush = [&] {
    if (!have_pending) return;
    out += ToUtf8(pending, pending_charset);
    pending.clear();
    have_pending = false;
  };
  size_t text_start = 0;
  size_t i = 0;
  EncodedWord word;
  while (true) {
    size_t p = text.find("=?", i);
    if (p == std::string_view::npos) break;
    if (!ParseEncodedWord(text, p, word)) {
      i = p + 1;
      continue;
    }
    std::string_view between = text.substr(text_start, p - text_start);
    bool adjacent = have_pending && AllFoldingBlanks(between);
    if (!adjacent) {
      flush();
      out += between;
    } else if (!EqualsIgnoreCase(pending_charset, word.charset)) {
      flush();
    }
    if (!have_pending) {
      pending_charset = std::string(word.charset);
      have_pending = true;
    }
    pending += word.bytes;
    text_start = i = word.end;
  }
  flush();
  out += text.substr(text_start);
  return out;
}

HeaderSection ParseHeaderSection(std::string_view entity) {
  HeaderSection result;
  std::vector<HeaderField> fields;
  size_t value_begin = 0;  // of the current field, in `entity`
  size_t value_end = 0;
  bool in_field = false;
  auto finish_field = [&] {
    if (!in_field) return;
    HeaderField& f = fields.back();
    f.raw = std::string(entity.substr(value_begin, value_end - value_begin));
    f.value = Unfold(f.raw);
    in_field = false;
  };
  size_t pos = 0;
  result.body_offset = entity.size();
  while (pos < entity.size()) {
    size_t nl = entity.find('\n', pos);
    size_t next = nl == std::string_view::npos ? entity.size() : nl + 1;
    size_t content_end = nl == std::string_view::npos ? entity.size() : nl;
    if (content_end > pos && entity[content_end - 1] == '\r') --content_end;
    std::string_view line = entity.substr(pos, content_end - pos);
    if (line.empty()) {
      result.body_offset = next;
      break;
    }
    if (IsBlank(line[0])) {
      if (in_field) {
        value_end = content_end;
      } else {
        ++result.dropped_lines;
      }
      pos = next;
      continue;
    }
    size_t n = 0;
    while (n < line.size() && IsFieldNameChar(line[n])) ++n;
    size_t colon = n;
    while (colon < line.size() && IsBlank(line[colon])) ++colon;
    if (n == 0 || colon >= line.size() || line[colon] != ':') {
      result.body_offset = pos;
      result.missing_separator = true;
      break;
    }
    finish_field();
    fields.push_back(HeaderField{std::string(line.substr(0, n)), {}, {}});
    value_begin = pos + colon + 1;
    value_end = content_end;
    in_field = true;
    pos = next;
  }
  finish_field();
  result.headers = Headers(std::move(fields));
  return result;
}

}  // namespace mailsift::mime
