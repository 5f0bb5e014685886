// scan/verdict.h — from the checks' results to amavisd-new's content category, action and
// headers.
//
// Decide() combines every check's result. The category is the most serious thing found, in
// amavisd's precedence (Amavis/Conf.pm CC_*): VIRUS, BANNED, UNCHECKED, SPAM, SPAMMY,
// BAD-HEADER, CLEAN. Spam levels are amavisd's: at or above kill_level SPAM, at or above
// tag2_level SPAMMY (X-Spam-Flag: YES, Subject tag), X-Spam-* headers from tag_level, in
// amavisd-new 2.13's exact format (X-Spam-Flag, X-Spam-Score, X-Spam-Level, X-Spam-Status
// with the tests and their scores, wrapped as amavisd wraps them). The action is the
// category's ([actions]); SPAMMY, BAD-HEADER and CLEAN pass unless configured otherwise.
// X-Virus-Scanned is added when clamd gave an answer. (OVERSIZED never arises: a message over
// the size limit is refused during the SMTP dialogue.)
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

// In amavisd's order of precedence: a later one wins.
enum class Category { kClean, kBadHeader, kSpammy, kSpam, kUnchecked, kBanned, kVirus };
using Action = config::Action;

struct Verdict {
  Category category = Category::kClean;
  int subcategory = 0;  // BAD-HEADER-n, UNCHECKED-n (check.h)
  Action action = Action::kPass;
  bool spam_scanned = false;  // the spam check gave a score
  double score = 0;
  bool virus_scanned = false;  // clamd answered
  // What goes before the message when it is relayed: X-Virus-Scanned and the X-Spam-*
  // fields, CRLF-terminated.
  std::string added_headers;
  std::string subject_tag;  // prepended to the Subject ("" = none)
  // For the main log line: "CLEAN", "SPAM", "BAD-HEADER-2", "UNCHECKED",
  // "INFECTED (Eicar-Test-Signature)", "BANNED (application/x-msdownload,.exe,.exe-ms,evil.exe)".
  std::string log_name;
  // For the client's reply, after "id=<mail_id> - ": "spam", "INFECTED: Eicar-Test-Signature",
  // "BANNED: …", "UNCHECKED: over limits", "BAD HEADER: duplicate header field" (amavisd's
  // %smtp_reason_by_ccat).
  std::string reason;
  std::vector<std::string> details;  // what the deciding check said (virus names, …)
  // The header section must be rewritten (incoming X-Spam-* removed, Subject tagged).
  bool edit_headers() const { return spam_scanned || !subject_tag.empty(); }
};

// "CLEAN", "BAD-HEADER", "SPAMMY", "SPAM", "UNCHECKED", "BANNED", "VIRUS".
std::string_view CategoryName(Category category);
// The [actions] and [quarantine] key of a category: "virus", "banned", "unchecked", "spam",
// "bad_header"; "" for CLEAN and SPAMMY (always passed, never quarantined).
std::string_view CategoryKey(Category category);

// The verdict for one message from every check's result (results not scanned add nothing),
// for its envelope (sender lists, local recipients).
Verdict Decide(const std::vector<CheckResult>& results, const config::Config& config,
               const Envelope& envelope);

// amavisd's lookup tables: `address` matches "user@example.com", "@example.com",
// "@.example.com" (subdomains too), "user@" (any domain); `domain` matches "example.com" and
// ".example.com" (subdomains too). Case-insensitive.
bool AddressListed(std::string_view address, const std::vector<std::string>& table);
bool DomainListed(std::string_view domain, const std::vector<std::string>& table);

// amavisd's score format: three decimals, trailing zeros and point removed ("9.222", "1").
std::string FormatScore(double score);

// The header section `headers` (CRLF lines, without the empty line that ends it) with the
// X-Spam-* fields amavisd owns removed and `subject_tag` put in front of the Subject value.
std::string EditHeaderSection(std::string_view headers, std::string_view subject_tag);

}  // namespace mailsift::scan
