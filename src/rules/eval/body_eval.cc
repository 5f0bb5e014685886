// rules/eval/body_eval.cc — SpamAssassin 4.0.1's BodyEval plugin (Plugin/BodyEval.pm), natively.
//
// check_body_length, multipart_alternative_difference(_count), check_blank_line_ratio,
// tvd_vertical_words and check_stock_info (table BodyEvals), over the facts message_facts.h
// computes once (pristine body length, MPART_ALT_DIFF's word comparison, the blank-line ratio,
// the stock-info count) and the rendered body lines.
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

bool CheckBodyLength(EvalInput& in, const std::vector<std::string>& args) {
  return static_cast<double>(in.facts().pristine_body_length) <= LeadingNumber(ArgOrEmpty(args, 0));
}

bool MultipartAlternativeDifference(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0));
  double d = in.facts().madiff;
  return (min == 0 || d > min) &&
         (ArgOrEmpty(args, 1) == "undef" || d <= LeadingNumber(ArgOrEmpty(args, 1)));
}

bool MultipartAlternativeDifferenceCount(EvalInput& in, const std::vector<std::string>& args) {
  const MessageFacts& f = in.facts();
  if (!(static_cast<double>(f.madiff_html) > LeadingNumber(ArgOrEmpty(args, 1)))) return false;
  return static_cast<double>(f.madiff_text) / static_cast<double>(f.madiff_html) >
         LeadingNumber(ArgOrEmpty(args, 0));
}

bool CheckBlankLineRatio(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0)), max = LeadingNumber(ArgOrEmpty(args, 1));
  double minlines = args.size() >= 3 ? LeadingNumber(args[2]) : 1;
  if (minlines < 1) minlines = 1;
  double ratio = static_cast<double>(in.facts().decoded_body_lines) < minlines
                     ? -1
                     : (in.facts().decoded_body_lines == 0 ? -1 : in.facts().blank_line_ratio_1);
  return (min == 0 && ratio <= max) || (ratio > min && ratio <= max);
}

bool TvdVerticalWords(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0)), max = LeadingNumber(ArgOrEmpty(args, 1));
  if (max >= 100) max = 101;
  long long value = -1;
  for (const std::string& line : in.body_lines()) {
    size_t l = line.size();
    if (l <= 5) continue;
    size_t spaces = static_cast<size_t>(std::count(line.begin(), line.end(), ' '));
    size_t nonspaces = l - spaces;
    long long pct = (spaces > nonspaces || nonspaces == 0)
                        ? 100
                        : static_cast<long long>(100.0 * spaces / nonspaces);
    value = std::max(value, pct);
  }
  return static_cast<double>(value) >= min && static_cast<double>(value) < max;
}

bool CheckStockInfo(EvalInput& in, const std::vector<std::string>& args) {
  double min = LeadingNumber(ArgOrEmpty(args, 0));
  return min == 0 || static_cast<double>(in.facts().stock_info) >= min;
}

constexpr EvalEntry kEvals[] = {
    {"check_body_length", &CheckBodyLength},
    {"multipart_alternative_difference", &MultipartAlternativeDifference},
    {"multipart_alternative_difference_count", &MultipartAlternativeDifferenceCount},
    {"check_blank_line_ratio", &CheckBlankLineRatio},
    {"tvd_vertical_words", &TvdVerticalWords},
    {"check_stock_info", &CheckStockInfo},
};

}  // namespace

EvalTable BodyEvals() { return kEvals; }

}  // namespace mailsift::rules
