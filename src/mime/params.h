// mime/params.h — Content-Type, Content-Disposition and Content-Transfer-Encoding fields
// (RFC 2045 §5, §6; RFC 2183; RFC 2231 parameter value continuations and charsets).
//
// Parsing is lenient and never fails. Type and subtype are lower-cased; a missing or
// unusable Content-Type gives text/plain (RFC 2045 §5.2) and says so. Parameter names are
// lower-cased; values may be tokens, quoted strings (backslash escapes removed, a missing
// closing quote runs to the end) or unquoted text with blanks up to the next ";".
// RFC 2231: "name*=charset'lang'%XX…" is percent-decoded and converted to UTF-8;
// "name*0", "name*1*", … are joined in index order (the charset comes from segment 0); an
// RFC 2231 value wins over a plain one with the same name. Values are not RFC 2047-decoded
// here (see Part::filename()).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsift::mime {

struct Parameter {
  std::string name;       // lower-case, without RFC 2231 "*" / "*N" suffixes
  std::string value;      // unquoted; UTF-8 when it came from an RFC 2231 charset
  bool extended = false;  // came from RFC 2231 syntax
};

using Parameters = std::vector<Parameter>;

// The value of parameter `name` (lower-case), or nullptr.
const std::string* FindParameter(const Parameters& params, std::string_view name);

// Parses "; a=b; c*=utf-8''%41" (anything before the first parameter is skipped).
Parameters ParseParameters(std::string_view text);

struct ContentType {
  std::string type = "text";
  std::string subtype = "plain";
  Parameters params;
  bool present = false;    // a Content-Type field was there
  bool malformed = false;  // it was, but its type/subtype was unusable: text/plain applies

  std::string MimeType() const { return type + "/" + subtype; }
  bool IsMultipart() const { return type == "multipart"; }
  bool IsText() const { return type == "text"; }
  bool IsMessage() const { return type == "message"; }
  // charset / boundary / name parameters, "" when absent.
  std::string_view Param(std::string_view name) const;
};

// Parses an unfolded Content-Type value.
ContentType ParseContentType(std::string_view value);

struct ContentDisposition {
  std::string type;  // lower-case: "inline", "attachment", …; "" when absent or empty
  Parameters params;
};

ContentDisposition ParseContentDisposition(std::string_view value);

enum class TransferEncoding { k7Bit, k8Bit, kBinary, kQuotedPrintable, kBase64, kOther };

// Parses an unfolded Content-Transfer-Encoding value (case-insensitive, blanks and comments
// after the token ignored). Empty gives k7Bit (RFC 2045 §6.1); unknown tokens give kOther,
// whose body is taken as it is.
TransferEncoding ParseTransferEncoding(std::string_view value);

}  // namespace mailsift::mime
