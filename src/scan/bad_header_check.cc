// scan/bad_header_check.cc — see bad_header_check.h.
#include "scan/bad_header_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "base/strings.h"
#include "mime/message.h"

namespace mailsift::scan {
namespace {

constexpr size_t kMaxFieldProblems = 100;  // amavisd's sanity limit

// RFC 5322 §3.6 (and RFC 2045, 2183, 3834) fields amavisd counts, in its order.
// clang-format off
constexpr std::array<std::string_view, 18> kCountedFields = {
    "Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Message-ID",
    "References", "In-Reply-To", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Content-ID", "Content-Description", "Content-Disposition", "Auto-Submitted"};
// clang-format on

unsigned char Byte(char c) { return static_cast<unsigned char>(c); }

// amavisd's field name: /^([!-9;-\x7E\x80-\xFF]+)[ \t]*:/ (RFC 822 allowed blanks before the
// colon).
std::optional<std::string_view> FieldName(std::string_view field) {
  size_t i = 0;
  while (i < field.size()) {
    unsigned char c = Byte(field[i]);
    if ((c >= 0x21 && c <= 0x39) || (c >= 0x3B && c <= 0x7E) || c >= 0x80) {
      ++i;
    } else {
      break;
    }
  }
  if (i == 0) return std::nullopt;
  size_t j = i;
  while (j < field.size() && (field[j] == ' ' || field[j] == '\t')) ++j;
  if (j < field.size() && field[j] == ':') return field.substr(0, i);
  return std::nullopt;
}

// Amavis::Util::is_valid_utf_8 (RFC 3629 §4, no surrogates, no overlongs).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = Byte(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    auto tail = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
      return i + k < s.size() && Byte(s[i + k]) >= lo && Byte(s[i + k]) <= hi;
    };
    if (c >= 0xC2 && c <= 0xDF && tail(1)) {
      i += 2;
    } else if (c == 0xE0 && tail(1, 0xA0, 0xBF) && tail(2)) {
      i += 3;
    } else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && tail(1) && tail(2)) {
      i += 3;
    } else if (c == 0xED && tail(1, 0x80, 0x9F) && tail(2)) {
      i += 3;
    } else if (c == 0xF0 && tail(1, 0x90, 0xBF) && tail(2) && tail(3)) {
      i += 4;
    } else if (c >= 0xF1 && c <= 0xF3 && tail(1) && tail(2) && tail(3)) {
      i += 4;
    } else if (c == 0xF4 && tail(1, 0x80, 0x8F) && tail(2) && tail(3)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

// Amavis::Util::truncate_utf_8: at most `max` bytes, without a partial last character.
std::string TruncateUtf8(std::string_view s, size_t max) {
  std::string out(s.substr(0, max));
  bool ascii = std::all_of(out.begin(), out.end(), [](char c) { return Byte(c) < 0x80; });
  if (ascii) return out;
  // A lead byte in [lo, hi] followed by at most `tails` continuation bytes at the end.
  auto strip = [&out](unsigned char lo, unsigned char hi, size_t tails) {
    for (size_t k = 0; k <= tails && k < out.size(); ++k) {
      size_t lead = out.size() - 1 - k;
      bool rest = true;
      for (size_t t = lead + 1; t < out.size(); ++t) {
        rest = rest && Byte(out[t]) >= 0x80 && Byte(out[t]) <= 0xBF;
      }
      if (rest && Byte(out[lead]) >= lo && Byte(out[lead]) <= hi) {
        out.resize(lead);
        return true;
      }
    }
    return false;
  };
  strip(0xC0, 0xDF, 0) || strip(0xE0, 0xEF, 1) || strip(0xF0, 0xF7, 2) || strip(0xF8, 0xFB, 3) ||
      strip(0xFC, 0xFD, 4) || strip(0xFE, 0xFE, 5);
  return out;
}

// amavisd's final sanitizing of each problem text: when it holds a non-ASCII byte, every
// byte outside printable ASCII (and a backslash before "x{") becomes \x{XX}. Control
// characters are escaped also in all-ASCII texts, so none reaches a log line.
std::string Sanitize(std::string_view text) {
  bool non_ascii = std::any_of(text.begin(), text.end(), [](char c) { return Byte(c) >= 0x80; });
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = Byte(text[i]);
    bool escape = c < 0x20 || c == 0x7F ||
                  (non_ascii && (c >= 0x80 || (c == '\\' && text.substr(i + 1, 2) == "x{")));
    if (escape) {
      out += fmt::format("\\x{{{:02X}}}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// The text of one field problem: msg1, then check_header_validity's $pre . $mid . $post,
// shortened as there.
std::string Format(std::string msg1, std::string_view name, std::string pre, std::string mid,
                   std::string post) {
  if (!post.empty() && post.back() == '\n') post.pop_back();  // chomp
  if (mid.size() > 20) mid = TruncateUtf8(mid, 15) + "[...]";
  if (post.size() > 20) post = TruncateUtf8(post, 15) + "[...]";
  long room = 50 - static_cast<long>(post.size());
  if (static_cast<long>(pre.size()) - static_cast<long>(name.size()) - 2 > room) {
    size_t keep = std::min(pre.size(), 45 - post.size());
    pre = std::string(name) + ": ..." + pre.substr(pre.size() - keep);
  }
  if (!mid.empty() && mid.size() <= 4) {
    std::vector<std::string> hex;
    for (char c : mid) hex.push_back(fmt::format("{:02X}", Byte(c)));
    msg1 += " (char " + fmt::to_string(fmt::join(hex, " ")) + " hex)";
  }
  return msg1 + ": " + pre + mid + post;
}

// The usual excerpt: the offending bytes are [pos - mid_len, pos) of the field.
std::string Excerpt(std::string msg1, std::string_view field, std::string_view name, size_t pos,
                    size_t mid_len) {
  return Format(std::move(msg1), name, std::string(field.substr(0, pos - mid_len)),
                std::string(field.substr(pos - mid_len, mid_len)), std::string(field.substr(pos)));
}

struct Problem {
  int category;
  std::string text;
};

// The first problem of one header field, in check_header_validity's order.
std::optional<Problem> CheckField(std::string_view field, std::optional<std::string_view> name,
                                  bool smtputf8, bool utf8_test) {
  if (!name || name->substr(0, 2) == "--") {
    std::string_view whole = field;
    if (!whole.empty() && whole.back() == '\n') whole.remove_suffix(1);
    return Problem{6, "Invalid header field syntax: " + std::string(whole)};
  }
  for (size_t i = 0; i < name->size(); ++i) {
    if (Byte((*name)[i]) >= 0x80) {
      // amavisd matched this on the name, so the field's match position is unset: its $pre is
      // the field without its last byte and its $post the whole field.
      return Problem{6, Format("Invalid header field name, contains non-ASCII char", *name,
                               std::string(field.substr(0, field.size() - 1)),
                               std::string(1, (*name)[i]), std::string(field))};
    }
  }
  // Lines of the field (each without its "\n").
  size_t start = 0;
  std::optional<std::pair<size_t, size_t>> blank_line, long_line;
  while (start < field.size()) {
    size_t nl = field.find('\n', start);
    size_t end = nl == std::string_view::npos ? field.size() : nl;
    std::string_view line = field.substr(start, end - start);
    if (!blank_line && !line.empty() && line.find_first_not_of(" \t") == std::string_view::npos) {
      blank_line = {start, line.size()};
    }
    if (!long_line && line.size() >= 999) long_line = {start, line.size()};
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (blank_line) {
    auto [at, len] = *blank_line;
    return Problem{4, Excerpt("Improper folded header field made up entirely of whitespace", field,
                              *name, at + len, len)};
  }
  if (long_line) {
    std::string line(field.substr(long_line->first, long_line->second));
    if (line.size() > 55) line = line.substr(0, 50) + "[...]";
    return Problem{5, "Header line longer than 998 characters: " + line};
  }
  size_t control = field.find_first_of(std::string_view("\0\r", 2));
  if (control != std::string_view::npos) {
    return Problem{3, Excerpt("Improper use of control character", field, *name, control + 1, 1)};
  }
  size_t high = 0;
  while (high < field.size() && Byte(field[high]) < 0x80) ++high;
  if (high == field.size()) return std::nullopt;
  if (!IsValidUtf8(field)) {
    return Problem{
        2, Excerpt("Non-encoded non-ASCII data (and not UTF-8)", field, *name, high + 1, 1)};
  }
  // amavisd's C0 test is anchored at the start but continues after the first non-ASCII byte,
  // so it never matches (and, failing, resets the match position: the C1 test starts over).
  for (size_t i = 0; i < field.size(); ++i) {
    size_t len = 0;
    if (Byte(field[i]) == 0xC2) {
      len = 2;
    } else if (field.substr(i, 2) == "\xE0\x82") {
      len = 3;
    } else if (field.substr(i, 3) == "\xF0\x80\x82") {
      len = 4;
    }
    if (len > 0 && i + len <= field.size() && Byte(field[i + len - 1]) >= 0x80 &&
        Byte(field[i + len - 1]) <= 0x9F) {
      return Problem{2, Excerpt("UTF-8 string contains C1 Controls", field, *name, i + len, len)};
    }
  }
  if (smtputf8 || !utf8_test) return std::nullopt;  // UTF-8 values are valid with SMTPUTF8
  // The first whole UTF-8 character.
  size_t at = high, len = 1;
  unsigned char c = Byte(field[high]);
  if (c >= 0xC0 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4;
  return Problem{2,
                 Excerpt("Non-encoded UTF-8 string in non-EAI mail", field, *name, at + len, len)};
}

// Whether leaf `leaf` lies inside a message/rfc822 (or message/global) part.
bool InsideMessage(const mime::Message& message, size_t leaf) {
  for (const mime::Container& c : message.containers()) {
    if (c.content_type.IsMessage() && c.first_part <= leaf && leaf < c.first_part + c.part_count) {
      return true;
    }
  }
  return false;
}

// The first line of `body` that MIME::Parser takes for a delimiter of `boundary` ("--b", or
// "--b--" to close; trailing blanks and line ends ignored).
enum class BoundaryLine { kNone, kDelimiter, kClose };
BoundaryLine FirstBoundaryLine(std::string_view body, std::string_view boundary) {
  for (size_t start = 0; start < body.size();) {
    size_t nl = body.find('\n', start);
    size_t end = nl == std::string_view::npos ? body.size() : nl;
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    if (line.substr(0, 2) != "--") continue;
    size_t last = line.find_last_not_of(" \t\r");
    line = line.substr(0, last + 1);
    if (line.substr(2) == boundary) return BoundaryLine::kDelimiter;
    if (line.size() == boundary.size() + 4 && line.substr(2, boundary.size()) == boundary &&
        line.substr(2 + boundary.size()) == "--") {
      return BoundaryLine::kClose;
    }
  }
  return BoundaryLine::kNone;
}

}  // namespace

std::unique_ptr<BadHeaderCheck> BadHeaderCheck::Create(const config::BadHeader& config,
                                                       Options options) {
  return std::unique_ptr<BadHeaderCheck>(new BadHeaderCheck(config, options));
}

CheckResult BadHeaderCheck::Run(const MessageInput& message) const {
  if (!config_.enabled) {
    CheckResult result;
    result.check = "bad_header";
    result.kind = CheckKind::kBadHeader;
    result.skipped_reason = "disabled";
    return result;
  }
  // MAIL FROM … SMTPUTF8 allows UTF-8 in headers (RFC 6532).
  return Inspect(*message.raw, message.Parsed(), message.smtputf8);
}

CheckResult BadHeaderCheck::Inspect(std::string_view raw, const mime::Message& parsed,
                                    bool smtputf8) const {
  CheckResult result;
  result.check = "bad_header";
  result.kind = CheckKind::kBadHeader;
  result.scanned = true;
  int category = 0;
  auto add = [&](int minor, std::string text) {
    category = std::max(category, minor);
    result.details.push_back(Sanitize(text));
  };

  // The header section as amavisd reads it: up to the first empty line.
  std::string_view header;
  bool terminated = true;
  if (!raw.empty() && raw[0] != '\n') {
    size_t end = raw.find("\n\n");
    terminated = end != std::string_view::npos;
    header = terminated ? raw.substr(0, end + 1) : raw;
  }
  // Fields: a line starting with a blank continues the field before it.
  std::vector<std::string_view> fields;
  size_t field_start = 0;
  for (size_t start = 0; start < header.size();) {
    size_t nl = header.find('\n', start);
    size_t end = nl == std::string_view::npos ? header.size() : nl + 1;
    bool continuation = header[start] == ' ' || header[start] == '\t';
    if (continuation && !fields.empty()) {
      fields.back() = header.substr(field_start, end - field_start);
    } else {
      field_start = start;
      fields.push_back(header.substr(start, end - start));
    }
    start = end;
  }

  std::map<std::string, int> counts;
  size_t field_problems = 0;
  for (std::string_view field : fields) {
    std::optional<std::string_view> name = FieldName(field);
    if (name) ++counts[ToLowerAscii(*name)];
    std::optional<Problem> problem = CheckField(field, name, smtputf8, options_.utf8);
    if (!problem) continue;
    add(problem->category, std::move(problem->text));
    if (++field_problems >= kMaxFieldProblems) break;
  }
  for (std::string_view field : kCountedFields) {
    auto it = counts.find(ToLowerAscii(field));
    int n = it == counts.end() ? 0 : it->second;
    if (n == 0 && (field == "Date" || field == "From")) {
      add(7, fmt::format("Missing required header field: \"{}\"", field));
    } else if (n == 2) {
      add(8, fmt::format("Duplicate header field: \"{}\"", field));
    } else if (n > 2) {
      add(8, fmt::format("Header field occurs more than once: \"{}\" occurs {} times", field, n));
    }
  }

  // MIME::Parser's errors (amavisd: "MIME error: " and the parser's "error: " messages).
  auto mime_error = [&](std::string_view text, size_t count) {
    for (size_t i = 0; i < count; ++i) add(1, fmt::format("MIME error: error: {}", text));
  };
  if (!raw.empty() && !terminated) mime_error("unexpected end of header", 1);
  // A multipart the parser kept whole: no boundary, or no delimiter line. amavisd's parser
  // leaves attached messages unparsed, so those inside one are not its errors.
  const auto& parts = parsed.parts();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].content_type().IsMultipart() || InsideMessage(parsed, i)) continue;
    std::string_view boundary = parts[i].content_type().Param("boundary");
    if (boundary.empty()) {
      mime_error("multipart boundary is missing, or contains CR or LF", 1);
    } else if (FirstBoundaryLine(parts[i].raw_body(), boundary) == BoundaryLine::kNone) {
      mime_error("unexpected end of preamble", 1);  // "--b--" alone is only a warning
    }
  }
  // (Counted in attached messages too: the parser does not say where.)
  for (size_t i = 0; i < parsed.stats().missing_close_delimiter; ++i) {
    mime_error("part did not end with expected boundary", 1);
    mime_error("unexpected end of parts before epilogue", 1);
  }

  if (category > 0) {
    result.finding = Finding::kBadHeader;
    result.subcategory = category;
  }
  return result;
}

}  // namespace mailsift::scan
