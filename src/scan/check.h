// scan/check.h — one content check behind one interface (DESIGN.md "Check").
//
// A check looks at one message and says what it found. The pipeline (pipeline.h) runs the
// generation's checks on its scan thread pool under the message's deadline; the SMTP session
// only sees the combined result. The checks: SpamAssassin's rules (spam_check.h), clamd
// (virus_check.h), banned file names and types (banned_check.h), header syntax
// (bad_header_check.h). verdict.h combines their results into amavisd's content category.
//
// Thread-safety: a Check is immutable after construction and Run() may be called from several
// scan threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/envelope.h"
#include "mime/message.h"
#include "rules/engine.h"

namespace mailsift::scan {

// What a check is given: the message bytes (LF line ends) and the SMTP envelope.
struct MessageInput {
  std::shared_ptr<const std::string> raw;
  Envelope envelope;
  bool smtputf8 = false;  // MAIL FROM said SMTPUTF8: UTF-8 in headers is allowed (RFC 6532)

  // The message parsed (mime/message.h), once for all the checks that read its structure: the
  // first call parses. A MessageInput is used by one thread at a time (the pipeline runs a
  // message's checks one after the other).
  const mime::Message& Parsed() const {
    if (!parsed) parsed = std::make_shared<const mime::Message>(mime::ParseMessage(raw));
    return *parsed;
  }
  // Parsed()'s result once made (public only so that MessageInput stays an aggregate).
  mutable std::shared_ptr<const mime::Message> parsed = nullptr;
};

// What a check found, in amavisd-new's content categories (verdict.h orders them).
enum class Finding {
  kNothing,
  kVirus,      // clamd named a virus (details: the virus names)
  kBanned,     // a banned name or type (details: amavisd's part descriptions)
  kUnchecked,  // the check could not finish: clamd down or erroring, archive over the limits
               // (details: why) — tempfailed by default, never passed silently
  kBadHeader,  // header syntax (details: what is wrong, one item per problem)
};

// Which check a result comes from, for code that treats one check's result specially (the
// verdict, the per-check metrics), so that nothing matches check names as strings.
enum class CheckKind { kSpam, kVirus, kBanned, kBadHeader, kOther };
// The checks whose run time is measured: the kinds before kOther.
inline constexpr size_t kTimedCheckKinds = static_cast<size_t>(CheckKind::kOther);
// "spam", "virus", "banned", "bad_header" (the names in config and metrics); "other".
std::string_view CheckKindName(CheckKind kind);

struct CheckResult {
  std::string check;  // the check's name
  CheckKind kind = CheckKind::kOther;
  bool scanned = false;
  std::string skipped_reason;  // why not scanned ("size", …)
  Finding finding = Finding::kNothing;
  std::vector<std::string> details;
  // kUnchecked because the check's own service failed (clamd unreachable, timing out or
  // erroring), not because the message is over a limit.
  bool check_failed = false;
  // Sub-category, numbered as amavisd-new's (Amavis/Conf.pm): BAD-HEADER-n (1 MIME error,
  // 2 non-encoded 8-bit character, 3 invalid control character, 4 line of only whitespace,
  // 5 line longer than 998, 6 syntax error, 7 missing required field, 8 duplicate field),
  // UNCHECKED-n (1 encrypted, 2 over limits). 0 = none.
  int subcategory = 0;
  // The spam check's findings.
  double score = 0;
  double required = 0;
  std::vector<rules::RuleHit> hits;
  uint64_t regex_limit_hits = 0;
  // How long the check ran (set by the pipeline), for the scan-time metrics.
  std::chrono::nanoseconds elapsed{0};
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual CheckResult Run(const MessageInput& message) const = 0;
};

}  // namespace mailsift::scan
