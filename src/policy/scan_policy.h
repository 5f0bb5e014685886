// policy/scan_policy.h — the generation's MessagePolicy: checks, verdict, quarantine, reply.
//
// ScanPolicy decides as amavisd-new does, in this order: the checks run on the scan pool
// under the message's deadline (scan/pipeline.h); their times and troubles go into the
// metrics; the policy bank that selects the message (config [policy_bank]) gives its policy
// and drops the checks it bypasses; scan::Decide() makes the verdict; a category that is
// quarantined is kept (quarantine/quarantine.h) — and a message that should be and cannot be
// is tempfailed; after-queue, a reject becomes a discard when bounces are configured away or
// the spam is past the DSN cutoff; the action picks the reply; a passed message gets its
// header edits (X-Spam-*, X-Quarantine-ID, the Subject tag).
//
// Without a pipeline (no checks configured) every message is relayed unchanged.
// Thread-safety: Decide() may run on several I/O threads at once; the counters are atomics
// and everything else is read-only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "config/config.h"
#include "policy/message_policy.h"
#include "scan/check.h"

namespace mailsift::scan {
class Pipeline;
}

namespace mailsift::policy {

// Time spent in one check, as a Prometheus histogram (bucket bounds in seconds).
struct CheckTimeHistogram {
  static constexpr std::array<double, 12> kBounds = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                     0.1,   0.2,   0.5,   1,    2,    5};
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts{};  // the last one: +Inf
  std::atomic<uint64_t> sum_us{0};
  void Add(std::chrono::nanoseconds elapsed);
};

// What the policy counts, for the generation's STATUS line (filter/server.h).
struct PolicyCounters {
  std::atomic<uint64_t> messages_spam{0};     // SPAM or SPAMMY by the spam check
  std::atomic<uint64_t> scan_timeouts{0};     // scans that missed the message deadline
  std::atomic<uint64_t> regex_limit_hits{0};  // rule regexes stopped by their match limit
  std::atomic<uint64_t> clamd_errors{0};      // clamd unreachable, timing out or erroring
  std::atomic<uint64_t> quarantined{0};
  std::atomic<uint64_t> quarantine_errors{0};  // could not quarantine: the message tempfailed
  // Scanned messages by content category (scan::Category) and action (config::Action).
  std::array<std::array<std::atomic<uint64_t>, 4>, 7> verdicts{};
  // By scan::CheckKind, the timed ones.
  std::array<CheckTimeHistogram, scan::kTimedCheckKinds> check_time{};
};

class ScanPolicy : public MessagePolicy {
 public:
  // `config` (the generation's), `pipeline` (null: no checks) and `counters` must outlive
  // the policy.
  ScanPolicy(const config::Config& config, scan::Pipeline* pipeline, PolicyCounters* counters)
      : config_(config), pipeline_(pipeline), counters_(*counters) {}

  asio::awaitable<Decision> Decide(const MessageFacts& facts, const spool::Spool& message,
                                   std::chrono::steady_clock::time_point deadline) override;

 private:
  const config::Config& config_;
  scan::Pipeline* pipeline_;
  PolicyCounters& counters_;
};

}  // namespace mailsift::policy
