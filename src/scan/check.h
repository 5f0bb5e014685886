// scan/check.h — one content check behind one interface (DESIGN.md "Check").
//
// A check looks at one message and says what it found. The pipeline (pipeline.h) runs the
// generation's checks on its scan thread pool under the message's deadline; the SMTP session
// only sees the combined result. Today there is the SpamAssassin rule check (spam_check.h);
// clamd, banned files and bad headers come with the verdict.
//
// Thread-safety: a Check is immutable after construction and Run() may be called from several
// scan threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/engine.h"

namespace mailsift::scan {

// What a check is given: the message bytes (LF line ends) and the SMTP envelope.
struct MessageInput {
  std::shared_ptr<const std::string> raw;
  rules::Envelope envelope;
};

struct CheckResult {
  std::string check;  // the check's name
  bool scanned = false;
  std::string skipped_reason;  // why not scanned ("size", …)
  // The spam check's findings.
  double score = 0;
  double required = 0;
  std::vector<rules::RuleHit> hits;
  uint64_t regex_limit_hits = 0;
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual CheckResult Run(const MessageInput& message) const = 0;
};

}  // namespace mailsift::scan
