// scan/verdict.h — from the spam check's score to amavisd-new's category, action and headers.
//
// Decide() applies amavisd's spam levels: at or above kill_level the message is SPAM and gets
// the configured spam action (pass, reject, discard, tempfail); at or above tag2_level it is
// SPAMMY (headers say X-Spam-Flag: YES and the Subject gets the spam tag); otherwise CLEAN.
// X-Spam-* headers are added at or above tag_level, in amavisd-new 2.13's exact format
// (X-Spam-Flag, X-Spam-Score, X-Spam-Level, X-Spam-Status with the tests and their scores,
// wrapped as amavisd wraps them).
//
// EditHeaderSection() rewrites the header section of a message in SMTP form (CRLF lines): the
// X-Spam-* fields that arrived from outside are removed and the Subject is tagged.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "scan/check.h"

namespace mailsift::scan {

enum class Category { kClean, kSpammy, kSpam };
using Action = config::Action;

struct Verdict {
  Category category = Category::kClean;
  Action action = Action::kPass;
  bool scanned = false;
  double score = 0;
  std::string added_headers;  // X-Spam-* fields, CRLF-terminated, to put before the message
  std::string subject_tag;    // prepended to the Subject ("" = none)
};

std::string_view CategoryName(Category category);  // "CLEAN", "SPAMMY", "SPAM"

// The verdict for one message from the spam check's result (a result not scanned: CLEAN, no
// headers).
Verdict Decide(const CheckResult& spam, const config::Config& config);

// amavisd's score format: three decimals, trailing zeros and point removed ("9.222", "1").
std::string FormatScore(double score);

// The header section `headers` (CRLF lines, without the empty line that ends it) with the
// X-Spam-* fields amavisd owns removed and `subject_tag` put in front of the Subject value.
std::string EditHeaderSection(std::string_view headers, std::string_view subject_tag);

}  // namespace mailsift::scan
