#include "mime/codec.h"

namespace mailsift::mime {

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool DecodeBase64(std::string_view in, std::string& out, size_t max_out, DecodeStats* stats) {
  size_t produced = 0;
  uint32_t bits = 0;
  int nbits = 0;
  for (char ch : in) {
    unsigned char c = static_cast<unsigned char>(ch);
    int v = Base64Value(c);
    if (v < 0) {
      if (c == '=') {
        bits = 0;  // padding ends the group; leftover bits are not data
        nbits = 0;
      } else if (stats != nullptr && c != '\r' && c != '\n' && c != ' ' && c != '\t') {
        ++stats->bad_bytes;
      }
      continue;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      if (produced >= max_out) return true;
      out.push_back(static_cast<char>((bits >> nbits) & 0xFF));
      ++produced;
      bits &= (1u << nbits) - 1;
    }
  }
  return false;
}

bool DecodeQuotedPrintable(std::string_view in, std::string& out, size_t max_out,
                           DecodeStats* stats) {
  size_t produced = 0;
  auto emit = [&](char c) {
    if (produced >= max_out) return false;
    out.push_back(c);
    ++produced;
    return true;
  };
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '=') {
      // Soft line break: "=" [blanks] (CRLF | LF | end of input).
      size_t j = i + 1;
      while (j < in.size() && IsBlank(in[j])) ++j;
      if (j == in.size()) {
        i = j;
        continue;
      }
      if (in[j] == '\n') {
        i = j + 1;
        continue;
      }
      if (in[j] == '\r' && (j + 1 == in.size() || in[j + 1] == '\n')) {
        i = j + 1 < in.size() ? j + 2 : j + 1;
        continue;
      }
      if (i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
        if (!emit(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])))) return true;
        i += 3;
        continue;
      }
      if (stats != nullptr) ++stats->bad_bytes;
      if (!emit('=')) return true;
      ++i;
      continue;
    }
    if (IsBlank(c)) {
      // Trailing blanks of an encoded line are padding added in transport (RFC 2045 §6.7 (3)).
      size_t j = i;
      while (j < in.size() && IsBlank(in[j])) ++j;
      bool at_eol = j == in.size() || in[j] == '\n' ||
                    (in[j] == '\r' && (j + 1 == in.size() || in[j + 1] == '\n'));
      if (at_eol) {
        i = j;
        continue;
      }
      for (; i < j; ++i) {
        if (!emit(in[i])) return true;
      }
      continue;
    }
    if (!emit(c)) return true;
    ++i;
  }
  return false;
}

std::string DecodeQEncoding(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace mailsift::mime
