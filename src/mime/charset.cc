#include "mime/charset.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ustring.h>

#include <memory>
#include <vector>

#include "base/strings.h"

namespace mailsift::mime {
namespace {

constexpr std::string_view kFallback = "windows-1252";

// Lower-cased label without quotes and blanks; empty when it cannot be a charset name.
std::string NormalizeLabel(std::string_view label) {
  std::string out;
  for (char c : label) {
    if (c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return "";
    out.push_back(ToLowerAscii(c));
  }
  if (out.size() > 64) return "";
  return out;
}

// Decoding labels that must not go to ICU as they are (see the header comment).
std::string_view MapLabel(std::string_view label) {
  if (label.empty() || label == "us-ascii" || label == "ascii" || label == "iso-8859-1" ||
      label == "iso8859-1" || label == "iso_8859-1" || label == "latin1" || label == "latin-1" ||
      label == "l1" || label == "cp819" || label == "iso-ir-100" || label == "x-user-defined" ||
      label == "unknown-8bit" || label == "x-unknown" || label == "unknown" || label == "default" ||
      label == "8bit" || label == "cp1252" || label == "windows-1252" ||
      label == "ansi_x3.4-1968") {
    return kFallback;
  }
  if (label == "gb2312" || label == "gb_2312-80" || label == "euc-cn" || label == "x-gbk" ||
      label == "gbk" || label == "cp936") {
    return "gb18030";  // a superset of GBK, which is a superset of GB 2312
  }
  if (label == "utf8") return "utf-8";
  return label;
}

// To-Unicode error callback: every unassigned or illegal sequence becomes one U+FFFD (ICU's
// own substitution would give U+001A for many single-byte tables).
void ReplaceCallback(const void* /*context*/, UConverterToUnicodeArgs* args, const char* /*bytes*/,
                     int32_t /*length*/, UConverterCallbackReason reason, UErrorCode* err) {
  if (reason > UCNV_IRREGULAR) return;  // reset, close, clone: nothing to write
  static const UChar kReplacement = 0xFFFD;
  *err = U_ZERO_ERROR;
  ucnv_cbToUWriteUChars(args, &kReplacement, 1, 0, err);
}

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using ConverterPtr = std::unique_ptr<UConverter, ConverterCloser>;

ConverterPtr Open(std::string_view name) {
  std::string z(name);
  UErrorCode err = U_ZERO_ERROR;
  ConverterPtr conv(ucnv_open(z.c_str(), &err));
  if (U_FAILURE(err)) return nullptr;
  err = U_ZERO_ERROR;
  ucnv_setToUCallBack(conv.get(), ReplaceCallback, nullptr, nullptr, nullptr, &err);
  if (U_FAILURE(err)) return nullptr;
  return conv;
}

// Converts with an open converter; false when ICU reports an error we cannot absorb.
bool Convert(UConverter* conv, std::string_view bytes, std::string& out) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX / 4)) return false;
  // One byte never yields more than two UTF-16 units, plus some slack for stateful encodings.
  std::vector<UChar> utf16(bytes.size() * 2 + 16);
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = ucnv_toUChars(conv, utf16.data(), static_cast<int32_t>(utf16.size()), bytes.data(),
                            static_cast<int32_t>(bytes.size()), &err);
  if (err == U_BUFFER_OVERFLOW_ERROR) {
    utf16.resize(static_cast<size_t>(n) + 1);
    err = U_ZERO_ERROR;
    ucnv_resetToUnicode(conv);
    n = ucnv_toUChars(conv, utf16.data(), static_cast<int32_t>(utf16.size()), bytes.data(),
                      static_cast<int32_t>(bytes.size()), &err);
  }
  if (U_FAILURE(err) && err != U_STRING_NOT_TERMINATED_WARNING) return false;
  int32_t need = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8WithSub(nullptr, 0, &need, utf16.data(), n, 0xFFFD, nullptr, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return false;
  out.assign(static_cast<size_t>(need), '\0');
  err = U_ZERO_ERROR;
  u_strToUTF8WithSub(out.data(), need, &need, utf16.data(), n, 0xFFFD, nullptr, &err);
  if (U_FAILURE(err) && err != U_STRING_NOT_TERMINATED_WARNING) return false;
  out.resize(static_cast<size_t>(need));
  return true;
}

// Length of the valid UTF-8 sequence at `s[i]`, or 0 when it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    size_t n = Utf8SequenceLength(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t n = Utf8SequenceLength(bytes, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string ToUtf8(std::string_view bytes, std::string_view charset) {
  std::string label = NormalizeLabel(charset);
  std::string_view name = MapLabel(label);
  bool ascii_like = label.empty() || label == "us-ascii" || label == "ascii";
  if (name == "utf-8" || (ascii_like && IsValidUtf8(bytes))) {
    return SanitizeUtf8(bytes);
  }
  bool pure_ascii = true;
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      pure_ascii = false;
      break;
    }
  }
  // ASCII-compatible charsets pass plain ASCII unchanged; stateful ones (ISO-2022, UTF-7,
  // UTF-16) do not, so only the fallback table takes the shortcut.
  if (pure_ascii && name == kFallback) return std::string(bytes);
  std::string out;
  if (ConverterPtr conv = Open(name); conv && Convert(conv.get(), bytes, out)) return out;
  if (ConverterPtr conv = Open(kFallback); conv && Convert(conv.get(), bytes, out)) return out;
  return SanitizeUtf8(bytes);  // ICU unusable: never fail
}

}  // namespace mailsift::mime
