// rules/eval/mime_eval.cc — SpamAssassin 4.0.1's MIMEEval plugin (Plugin/MIMEEval.pm), natively.
//
// check_for_mime, check_for_mime_html, check_for_mime_html_only, check_for_ascii_text_illegal,
// check_abundant_unicode_ratio, check_for_uppercase, check_base64_length, check_ma_non_text,
// check_mime_multipart_ratio, check_qp_ratio, check_msg_parse_flags and
// check_for_faraway_charset (table MimeEvals), over the MIME facts of message_facts.h
// (_check_attachments' mime_* keys, the parse flags). With ok_locales "all",
// check_for_faraway_charset never hits.
//
// Bad or missing arguments make an eval return false; nothing here throws or asserts on message
// content.
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan); patterns are
// compiled once into immutable function-local statics.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "mime/html.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/message/message_facts.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// The eval functions' own patterns: `$` at the very end only (the subjects have no trailing
// newline, so Perl's `$` means the same).
constexpr uint32_t kEvalRegexOptions = PCRE2_DOLLAR_ENDONLY;
constexpr uint32_t kEvalRegexCaseless = PCRE2_DOLLAR_ENDONLY | PCRE2_CASELESS;

// /\S\s+\S/
bool HasTwoWords(std::string_view line) {
  bool seen_word = false, seen_space_after = false;
  for (char c : line) {
    bool sp = IsPerlSpace(static_cast<unsigned char>(c));
    if (!sp) {
      if (seen_space_after) return true;
      seen_word = true;
    } else if (seen_word) {
      seen_space_after = true;
    }
  }
  return false;
}

// /^(?:[A-Za-z0-9+\/=]{60,76} ){2}/
bool LooksLikeBase64Words(std::string_view line) {
  size_t pos = 0;
  for (int word = 0; word < 2; ++word) {
    size_t n = 0;
    while (pos + n < line.size() && n < 77) {
      char c = line[pos + n];
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) break;
      ++n;
    }
    if (n < 60 || n > 76 || pos + n >= line.size() || line[pos + n] != ' ') return false;
    pos += n + 1;
  }
  return true;
}

bool CheckForMime(EvalInput& in, const std::vector<std::string>& args) {
  auto v = in.facts().mime.Get(ArgOrEmpty(args, 0));
  return v && *v != 0;
}

bool CheckForMimeHtml(EvalInput& in, const std::vector<std::string>&) {
  if (StartsWithIgnoreCase(in.facts().top_content_type, "text/html")) return true;
  return in.facts().mime.body_html_count > 0;
}

bool CheckForMimeHtmlOnly(EvalInput& in, const std::vector<std::string>&) {
  if (StartsWithIgnoreCase(in.facts().top_content_type, "text/html")) return true;
  return in.facts().mime.body_html_count > 0 && in.facts().mime.body_text_count == 0;
}

bool CheckForAsciiTextIllegal(EvalInput& in, const std::vector<std::string>&) {
  return in.facts().mime.ascii_text_illegal > 0;
}

bool CheckAbundantUnicodeRatio(EvalInput& in, const std::vector<std::string>& args) {
  static const PerlRegex kRatio("^\\d{0,3}\\.\\d{1,3}$", kEvalRegexOptions);
  const std::string& r = ArgOrEmpty(args, 0);
  if (!SearchFirstGroup(r, kRatio)) return false;
  return in.facts().mime.text_unicode_ratio >= LeadingNumber(r);
}

// check_for_uppercase's percentage, or NaN when it cannot hit whatever the range.
double UppercasePercent(EvalInput& in) {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  // body_charset_is_likely_to_fp
  std::vector<std::string> charsets;
  {
    const std::string& ct = in.facts().top_content_type;
    if (!ct.empty()) {
      static const PerlRegex kDq("charset=\"([^\"]+)\"", kEvalRegexCaseless);
      static const PerlRegex kSq("charset='([^']+)'", kEvalRegexCaseless);
      static const PerlRegex kBare("charset=(\\S+)", kEvalRegexCaseless);
      std::string charset;
      if (SearchFirstGroup(ct, kDq, &charset) || SearchFirstGroup(ct, kSq, &charset) ||
          SearchFirstGroup(ct, kBare, &charset)) {
        charsets.push_back(std::move(charset));
      }
    }
    std::string_view hc = in.facts().mime.html_charsets;
    size_t i = 0;
    while (i < hc.size()) {
      while (i < hc.size() && hc[i] == ' ') ++i;
      size_t j = hc.find(' ', i);
      if (j == std::string_view::npos) j = hc.size();
      if (j > i) charsets.emplace_back(hc.substr(i, j - i));
      i = j;
    }
  }
  static const PerlRegex kFp(
      "^[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|"
      "georgianps|pt154|tis)[-_a-z0-9]*$",
      kEvalRegexCaseless);
  for (const auto& c : charsets) {
    if (SearchFirstGroup(c, kFp)) return kNone;
  }
  double len = 0, lower = 0, upper = 0;
  for (const std::string& line : in.body_lines()) {
    if (!HasTwoWords(line)) continue;
    if (LooksLikeBase64Words(line)) continue;
    std::string l = line;
    // s/\x1b\$B.*\x1b\(B//gs
    for (size_t s = l.find("\x1b$B"); s != std::string::npos; s = l.find("\x1b$B", s)) {
      size_t e = l.rfind("\x1b(B");
      if (e == std::string::npos || e < s + 3) break;
      l.erase(s, e + 3 - s);
    }
    len += static_cast<double>(l.size());
    for (char c : l) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) lower++;
      if (c >= 'A' && c <= 'Z') upper++;
    }
  }
  if (len < 200) return kNone;
  return upper + lower == 0 ? 0 : upper / (upper + lower) * 100;
}

bool CheckForUppercase(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0)), max = LeadingNumber(ArgOrEmpty(args, 1));
  if (!in.facts().uppercase_percent) in.facts().uppercase_percent = UppercasePercent(in);
  const double pct = *in.facts().uppercase_percent;
  return !std::isnan(pct) && pct > min && pct <= max;
}

bool CheckBase64Length(EvalInput& in, const std::vector<std::string>& args) {
  double len = static_cast<double>(in.facts().base64_length);
  if (args.size() >= 2 && len > LeadingNumber(args[1])) return false;
  return len >= LeadingNumber(ArgOrEmpty(args, 0));
}

bool CheckMaNonText(EvalInput& in, const std::vector<std::string>&) {
  const MessageFacts& f = in.facts();
  for (size_t i : f.dfs) {
    const SaMimeNode& map = f.nodes[i];
    if (map.type != "multipart/alternative" || map.leaf) continue;
    for (size_t c : map.children) {
      const SaMimeNode& p = f.nodes[c];
      if (!p.leaf) continue;
      if (p.type == "multipart/related" || p.type == "application/rtf") continue;
      if (StartsWithIgnoreCase(p.type, "text/")) continue;
      return true;
    }
  }
  return false;
}

bool CheckMimeMultipartRatio(EvalInput& in, const std::vector<std::string>& args) {
  double r = in.facts().mime.multipart_ratio;
  return r >= LeadingNumber(ArgOrEmpty(args, 0)) && r < LeadingNumber(ArgOrEmpty(args, 1));
}

bool CheckQpRatio(EvalInput& in, const std::vector<std::string>& args) {
  return in.facts().mime.qp_ratio >= LeadingNumber(ArgOrEmpty(args, 0));
}

bool CheckMsgParseFlags(EvalInput& in, const std::vector<std::string>& args) {
  return in.facts().parse_flags.count(ArgOrEmpty(args, 0)) != 0;
}

bool CheckForFarawayCharset(EvalInput&, const std::vector<std::string>&) {
  return false;  // ok_locales "all": SA returns 0 before looking at the message
}

constexpr EvalEntry kEvals[] = {
    {"check_for_mime", &CheckForMime},
    {"check_for_mime_html", &CheckForMimeHtml},
    {"check_for_mime_html_only", &CheckForMimeHtmlOnly},
    {"check_for_ascii_text_illegal", &CheckForAsciiTextIllegal},
    {"check_for_uppercase", &CheckForUppercase},
    {"check_abundant_unicode_ratio", &CheckAbundantUnicodeRatio},
    {"check_base64_length", &CheckBase64Length},
    {"check_ma_non_text", &CheckMaNonText},
    {"check_mime_multipart_ratio", &CheckMimeMultipartRatio},
    {"check_qp_ratio", &CheckQpRatio},
    {"check_msg_parse_flags", &CheckMsgParseFlags},
    {"check_for_faraway_charset", &CheckForFarawayCharset},
};

}  // namespace

EvalTable MimeEvals() { return kEvals; }

}  // namespace mailsift::rules
