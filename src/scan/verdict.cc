// scan/verdict.cc — see verdict.h. Formats follow amavisd-new 2.13 (Amavis.pm 4866-4875 for
// X-Spam-Status; its header wrapping at 78 columns, breaking after ", ").
#include "scan/verdict.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/strings.h"

namespace mailsift::scan {
namespace {

constexpr size_t kWrapColumn = 78;

// The header fields amavisd inserts itself, removed when they arrive from outside.
bool IsOwnedField(std::string_view field) {
  for (std::string_view name :
       {"X-Spam-Status:", "X-Spam-Level:", "X-Spam-Flag:", "X-Spam-Score:", "X-Spam-Report:",
        "X-Spam-Checker-Version:", "X-Spam-Tests:"}) {
    if (StartsWithIgnoreCase(field, name)) return true;
  }
  return false;
}

}  // namespace

std::string_view CategoryName(Category category) {
  switch (category) {
    case Category::kSpam:
      return "SPAM";
    case Category::kSpammy:
      return "SPAMMY";
    case Category::kClean:
      break;
  }
  return "CLEAN";
}

std::string FormatScore(double score) {
  std::string s = fmt::format("{:.3f}", score);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

Verdict Decide(const CheckResult& spam, const config::Config& full_config) {
  const config::Spam& config = full_config.spam;
  Verdict v;
  if (!spam.scanned) return v;
  v.scanned = true;
  v.score = spam.score;
  if (spam.score >= config.kill_level) {
    v.category = Category::kSpam;
    v.action = full_config.actions.spam;
  } else if (spam.score >= config.tag2_level) {
    v.category = Category::kSpammy;
  }
  const bool tagged2 = spam.score >= config.tag2_level;
  if (tagged2) v.subject_tag = config.subject_tag;
  if (spam.score < config.tag_level) return v;

  std::string& h = v.added_headers;
  h += fmt::format("X-Spam-Flag: {}\r\n", tagged2 ? "YES" : "NO");
  h += fmt::format("X-Spam-Score: {}\r\n", FormatScore(spam.score));
  int stars = std::min(64, static_cast<int>(std::floor(std::max(0.0, spam.score))));
  if (stars > 0) h += "X-Spam-Level: " + std::string(static_cast<size_t>(stars), '*') + "\r\n";
  // "Yes, score=9.222 tagged_above=-999 required=6.31\r\n tests=[A=1, B=2.907,\r\n C=1]\r\n
  //  autolearn=disabled"
  std::vector<std::string> tests;
  std::vector<rules::RuleHit> hits = spam.hits;
  std::sort(hits.begin(), hits.end(),
            [](const rules::RuleHit& a, const rules::RuleHit& b) { return a.name < b.name; });
  for (const rules::RuleHit& hit : hits) {
    if (hit.name.rfind("__", 0) == 0) continue;
    tests.push_back(hit.name + "=" + FormatScore(hit.score));
  }
  std::string status = fmt::format("X-Spam-Status: {}, score={} tagged_above={} required={}\r\n",
                                   tagged2 ? "Yes" : "No", FormatScore(spam.score),
                                   FormatScore(config.tag_level), FormatScore(config.tag2_level));
  std::string line = " tests=[";
  for (size_t i = 0; i < tests.size(); ++i) {
    std::string item = tests[i] + (i + 1 < tests.size() ? "," : "");
    if (line.size() > 8 && line.size() + 1 + item.size() > kWrapColumn) {
      status += line + "\r\n";
      line = " " + item;
    } else {
      line += (line.size() > 8 ? " " : "") + item;
    }
  }
  status += line + "]\r\n autolearn=disabled\r\n";
  h += status;
  return v;
}

std::string EditHeaderSection(std::string_view headers, std::string_view subject_tag) {
  std::string out;
  out.reserve(headers.size() + subject_tag.size());
  size_t pos = 0;
  while (pos < headers.size()) {
    // One field: its first line and the continuation lines after it.
    size_t end = pos;
    do {
      size_t eol = headers.find("\r\n", end);
      end = eol == std::string_view::npos ? headers.size() : eol + 2;
    } while (end < headers.size() && (headers[end] == ' ' || headers[end] == '\t'));
    std::string_view field = headers.substr(pos, end - pos);
    pos = end;
    if (IsOwnedField(field)) continue;
    if (!subject_tag.empty() && StartsWithIgnoreCase(field, "Subject:")) {
      size_t value = 8;
      while (value < field.size() && (field[value] == ' ' || field[value] == '\t')) ++value;
      out.append(field.substr(0, 8));
      out.push_back(' ');
      out.append(subject_tag);
      out.append(field.substr(value));
      continue;
    }
    out.append(field);
  }
  return out;
}

}  // namespace mailsift::scan
