// rules/eval/html_eval.cc — SpamAssassin 4.0.1's HTMLEval plugin (Plugin/HTMLEval.pm), natively.
//
// html_test, html_tag_exists, html_tag_balance, html_text_match, html_text_not_match,
// html_range, html_image_only, html_image_ratio, html_eval, html_title_subject_ratio,
// html_charset_faraway and check_iframe_src (table HtmlEvals), each over every HTML part's
// results in message order (SA's $pms->{html_all}; SA 4 tests each part separately, nothing is
// merged). With ok_locales "all", html_charset_faraway never hits.
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
#include "mime/charset.h"
#include "mime/html.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/message/message_facts.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// An html result key as a number, if SA's results hash has it defined.
std::optional<double> HtmlNumber(const MessageFacts& f, size_t i, std::string_view key) {
  const mime::HtmlResult& h = f.html_all[i];
  auto flag = [](bool b) { return b ? std::optional<double>(1) : std::nullopt; };
  if (key == "html") return 1;
  if (key == "length") return static_cast<double>(h.length);
  if (key == "html_length") return static_cast<double>(h.html_length);
  if (key == "non_space_len") return static_cast<double>(h.non_space_len);
  if (key == "image_area") return h.image_area;
  if (key == "min_size") return static_cast<double>(h.min_size);
  if (key == "max_size") return static_cast<double>(h.max_size);
  if (key == "backhair_count") return static_cast<double>(h.backhair_count);
  if (key == "closed_extra_ratio") return h.closed_extra_ratio;
  if (key == "bad_tag_ratio") return h.bad_tag_ratio;
  if (key == "non_element_ratio") return h.non_element_ratio;
  if (key == "obfuscation_ratio") return h.obfuscation_ratio;
  if (key == "ratio") {
    double r = i < f.html_ratio.size() ? f.html_ratio[i] : std::nan("");
    return std::isnan(r) ? std::nullopt : std::optional<double>(r);
  }
  if (key == "font_low_contrast") return flag(h.font_low_contrast);
  if (key == "font_invalid_color") return flag(h.font_invalid_color);
  if (key == "font_face_bad") return flag(h.font_face_bad);
  if (key == "form_action_mailto") return flag(h.form_action_mailto);
  if (key == "embeds") return flag(h.embeds);
  if (key == "uri_truncated") return flag(h.uri_truncated);
  return std::nullopt;
}

// Perl truthiness of an html result key ("uri", "anchor", … are references: true).
bool HtmlTruthy(const MessageFacts& f, size_t i, std::string_view key) {
  if (key == "uri" || key == "anchor" || key == "uri_detail" || key == "comment" ||
      key == "script" || key == "title" || key == "inside") {
    return true;
  }
  std::optional<double> v = HtmlNumber(f, i, key);
  return v && *v != 0;
}

// "$val $expr" for expressions of the form "<op> <number>".
std::optional<bool> EvalComparison(double val, std::string_view expr) {
  for (char c : expr) {
    if (!(c == '<' || c == '>' || c == '=' || c == '!' || c == '-' || c == '+' || c == ' ' ||
          (c >= '0' && c <= '9'))) {
      return std::nullopt;
    }
  }
  std::string_view e = TrimPerlSpace(expr);
  std::string op;
  while (!e.empty() && (e[0] == '<' || e[0] == '>' || e[0] == '=' || e[0] == '!')) {
    op.push_back(e[0]);
    e.remove_prefix(1);
  }
  e = TrimPerlSpace(e);
  if (e.empty()) return std::nullopt;
  double rhs = LeadingNumber(e);
  if (op == "==") return val == rhs;
  if (op == "!=") return val != rhs;
  if (op == "<") return val < rhs;
  if (op == "<=") return val <= rhs;
  if (op == ">") return val > rhs;
  if (op == ">=") return val >= rhs;
  return std::nullopt;
}

const std::vector<std::string>* HtmlArray(const mime::HtmlResult& h, std::string_view key) {
  if (key == "comment") return &h.comments;
  if (key == "title") return &h.titles;
  if (key == "anchor") return &h.anchors;
  if (key == "script") return &h.scripts;
  return nullptr;
}

// A Perl regex on characters (the html strings are UTF-8 text): PCRE2 in UTF + UCP mode,
// under match limits. nullptr when the pattern does not compile.
struct Pcre2Code {
  pcre2_code* code = nullptr;
  ~Pcre2Code() { pcre2_code_free(code); }
};

bool Pcre2Search(const pcre2_code* code, std::string_view text) {
  std::string subject = mime::SanitizeUtf8(text);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(mctx, 1'000'000);
  pcre2_set_depth_limit(mctx, 10'000);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                       PCRE2_NO_UTF_CHECK, md, mctx);
  pcre2_match_data_free(md);
  pcre2_match_context_free(mctx);
  return rc >= 0;
}

bool HtmlTextMatchImpl(EvalInput& in, const std::vector<std::string>& args, bool negate) {
  if (args.size() < 2) return false;
  Pcre2Code re;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  re.code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(args[1].data()), args[1].size(),
                          PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (re.code == nullptr) return false;
  for (const auto& h : in.facts().html_all) {
    const std::vector<std::string>* arr = HtmlArray(h, args[0]);
    if (arr == nullptr) continue;
    for (const auto& s : *arr) {
      if (Pcre2Search(re.code, s) != negate) return true;
    }
  }
  return false;
}

bool HtmlTest(EvalInput& in, const std::vector<std::string>& args) {
  for (size_t i = 0; i < in.facts().html_all.size(); ++i) {
    if (HtmlTruthy(in.facts(), i, ArgOrEmpty(args, 0))) return true;
  }
  return false;
}

bool HtmlTagExists(EvalInput& in, const std::vector<std::string>& args) {
  for (const auto& h : in.facts().html_all) {
    if (h.inside.count(ArgOrEmpty(args, 0)) != 0) return true;
  }
  return false;
}

bool HtmlTagBalance(EvalInput& in, const std::vector<std::string>& args) {
  const std::string& tag = ArgOrEmpty(args, 0);
  if (tag.empty() || !std::all_of(tag.begin(), tag.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0;
      })) {
    return false;
  }
  for (const auto& h : in.facts().html_all) {
    auto it = h.inside.find(tag);
    if (it == h.inside.end()) continue;
    auto r = EvalComparison(it->second, ArgOrEmpty(args, 1));
    if (r && *r) return true;
  }
  return false;
}

bool HtmlTextMatch(EvalInput& in, const std::vector<std::string>& args) {
  return HtmlTextMatchImpl(in, args, false);
}

bool HtmlTextNotMatch(EvalInput& in, const std::vector<std::string>& args) {
  return HtmlTextMatchImpl(in, args, true);
}

bool HtmlRange(EvalInput& in, const std::vector<std::string>& args) {
  if (args.size() < 2) return false;
  double min = LeadingNumber(args[1]);
  bool no_max = args.size() < 3 || args[2] == "inf";
  double max = no_max ? 0 : LeadingNumber(args[2]);
  for (size_t i = 0; i < in.facts().html_all.size(); ++i) {
    auto v = HtmlNumber(in.facts(), i, args[0]);
    if (!v) continue;
    if (no_max) {
      if (*v > min) return true;
    } else if (*v > min && *v <= max) {
      return true;
    }
  }
  return false;
}

bool HtmlImageOnly(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0)), max = LeadingNumber(ArgOrEmpty(args, 1));
  for (const auto& h : in.facts().html_all) {
    double len = static_cast<double>(h.length);
    if (h.inside.count("img") != 0 && len > min && len <= max) return true;
  }
  return false;
}

bool HtmlImageRatio(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0)), max = LeadingNumber(ArgOrEmpty(args, 1));
  for (const auto& h : in.facts().html_all) {
    if (!(h.image_area > 0)) continue;
    double ratio = static_cast<double>(h.non_space_len) / h.image_area;
    if (ratio > min && ratio <= max) return true;
  }
  return false;
}

bool HtmlEval(EvalInput& in, const std::vector<std::string>& args) {
  for (size_t i = 0; i < in.facts().html_all.size(); ++i) {
    auto v = HtmlNumber(in.facts(), i, ArgOrEmpty(args, 0));
    if (!v) continue;
    auto r = EvalComparison(*v, ArgOrEmpty(args, 1));
    if (!r) return false;
    if (*r) return true;
  }
  return false;
}

bool HtmlTitleSubjectRatio(EvalInput& in, const std::vector<std::string>& args) {
  if (in.facts().subject.empty()) return false;
  double ratio = LeadingNumber(ArgOrEmpty(args, 0));
  // The subject (UTF-8 octets, with its "\n") against titles in characters.
  double subject_len = static_cast<double>(in.facts().subject.size());
  for (const auto& h : in.facts().html_all) {
    double max = 0;
    for (const auto& t : h.titles) {
      if (t.empty() || t == "0") continue;
      double r = static_cast<double>(Utf8ToU32(t).size()) / subject_len;
      max = std::max(max, r);
    }
    if (max > ratio) return true;
  }
  return false;
}

bool HtmlCharsetFaraway(EvalInput&, const std::vector<std::string>&) {
  return false;  // ok_locales "all"; SA's HTML results never carry `charsets` anyway
}

bool CheckIframeSrc(EvalInput& in, const std::vector<std::string>&) {
  for (const auto& h : in.facts().html_all) {
    for (const auto& u : h.uris) {
      if (u.tag == "iframe" && !u.uri.empty()) return true;
    }
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"html_test", &HtmlTest},
    {"html_tag_exists", &HtmlTagExists},
    {"html_tag_balance", &HtmlTagBalance},
    {"html_text_match", &HtmlTextMatch},
    {"html_text_not_match", &HtmlTextNotMatch},
    {"html_range", &HtmlRange},
    {"html_image_only", &HtmlImageOnly},
    {"html_image_ratio", &HtmlImageRatio},
    {"html_eval", &HtmlEval},
    {"html_title_subject_ratio", &HtmlTitleSubjectRatio},
    {"html_charset_faraway", &HtmlCharsetFaraway},
    {"check_iframe_src", &CheckIframeSrc},
};

}  // namespace

EvalTable HtmlEvals() { return kEvals; }

}  // namespace mailsift::rules
