// policy/scan_policy.cc — see scan_policy.h.
#include "policy/scan_policy.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "log/log.h"
#include "quarantine/quarantine.h"
#include "scan/pipeline.h"
#include "scan/verdict.h"

namespace mailsift::policy {
namespace {

// The message with LF line ends, as SpamAssassin reads it and the checks expect; null when
// the spool cannot be read.
std::shared_ptr<const std::string> ReadForScan(const spool::Spool& message) {
  auto text = std::make_shared<std::string>();
  text->reserve(message.size());
  spool::Spool::Reader reader(message);
  std::string buffer;
  bool pending_cr = false;
  while (true) {
    auto chunk = reader.Next(buffer);
    if (!chunk) return nullptr;
    if (chunk->empty()) break;
    for (char c : *chunk) {
      if (pending_cr && c != '\n') text->push_back('\r');
      pending_cr = c == '\r';
      if (!pending_cr) text->push_back(c);
    }
  }
  if (pending_cr) text->push_back('\r');
  return text;
}

Decision Block(ReplyId reply, std::string detail, std::string log_verdict, std::string log_reason) {
  Decision decision;
  decision.relay = false;
  decision.reply = reply;
  decision.reply_detail = std::move(detail);
  decision.log_verdict = std::move(log_verdict);
  decision.log_reason = std::move(log_reason);
  return decision;
}

// Keeps the message in the quarantine when `policy` quarantines its category: the file's name,
// "" when not kept, or nullopt when it should be and cannot be.
std::optional<std::string> Quarantine(const scan::Verdict& verdict, const config::Config& config,
                                      const config::Config& policy, const MessageFacts& facts,
                                      const spool::Spool& message, PolicyCounters& counters) {
  std::string_view key = scan::CategoryKey(verdict.category);
  const auto& kept = policy.quarantine.categories;
  if (key.empty() || config.quarantine.directory.empty() ||
      std::find(kept.begin(), kept.end(), key) == kept.end()) {
    return std::string();
  }
  quarantine::Entry entry;
  entry.mail_id = facts.mail_id;
  entry.time = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
  entry.category = verdict.log_name;
  entry.action = std::string(config::ToString(verdict.action));
  entry.sender = facts.envelope.mail_from;
  entry.recipients = facts.envelope.rcpt_to;
  entry.size = message.size();
  entry.message_id = FindHeaderValue(message.Head(), "Message-ID");
  entry.subject = FindHeaderValue(message.Head(), "Subject");
  // amavisd's file names: virus-, banned-, spam-, badh-, unchecked-<mail id>.
  std::string_view kind = key == "bad_header" ? std::string_view("badh") : key;
  auto file = quarantine::Store(config.quarantine.directory).Put(entry, kind, message);
  if (!file) {
    counters.quarantine_errors.fetch_add(1, std::memory_order_relaxed);
    log::Error("{}, mail_id: {}", file.error().message, facts.mail_id);
    return std::nullopt;
  }
  counters.quarantined.fetch_add(1, std::memory_order_relaxed);
  return *file;
}

}  // namespace

void CheckTimeHistogram::Add(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  counts[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

asio::awaitable<Decision> ScanPolicy::Decide(const MessageFacts& facts, const spool::Spool& message,
                                             std::chrono::steady_clock::time_point deadline) {
  if (pipeline_ == nullptr) co_return Decision{};
  const std::string& mail_id = facts.mail_id;
  auto raw = ReadForScan(message);
  const bool readable = raw != nullptr;
  std::optional<std::vector<scan::CheckResult>> results;
  if (readable) {
    scan::MessageInput input{std::move(raw), facts.envelope};
    input.smtputf8 = facts.smtputf8;
    results = co_await pipeline_->Scan(std::move(input), deadline);
  }
  if (!results) {
    // Not finished in time (or the spool could not be read): the MTA keeps the message.
    if (readable) counters_.scan_timeouts.fetch_add(1, std::memory_order_relaxed);
    co_return Block(readable ? ReplyId::kScanTimeout : ReplyId::kLocalError,
                    readable ? mail_id : std::string(), "Blocked UNCHECKED {TempFailedInbound}",
                    readable ? "scan timed out" : "spool read error");
  }
  std::string hits = "-";
  for (const scan::CheckResult& r : *results) {
    if (r.kind != scan::CheckKind::kOther) {
      counters_.check_time[static_cast<size_t>(r.kind)].Add(r.elapsed);
    }
    // clamd's own trouble (unreachable, timing out, erroring), not a message over the limits.
    if (r.kind == scan::CheckKind::kVirus && r.finding == scan::Finding::kUnchecked &&
        r.check_failed) {
      counters_.clamd_errors.fetch_add(1, std::memory_order_relaxed);
      log::Warn("virus check: {}, mail_id: {}", r.details.empty() ? "failed" : r.details[0],
                mail_id);
    }
    if (r.kind == scan::CheckKind::kSpam && r.scanned) hits = scan::FormatScore(r.score);
    if (r.regex_limit_hits > 0) {
      // Each counts as no match (SpamAssassin would have been stuck instead).
      counters_.regex_limit_hits.fetch_add(r.regex_limit_hits, std::memory_order_relaxed);
      log::Warn("spam check: {} rule regex(es) stopped at their match limit, mail_id: {}",
                r.regex_limit_hits, mail_id);
    }
  }
  // The policy bank that selects this message, if any: its policy, its bypassed checks.
  const config::PolicyBank* bank =
      config::SelectPolicyBank(config_, facts.listener, facts.client_address);
  const config::Config& policy = bank != nullptr ? *bank->config : config_;
  std::string policy_bank;
  if (bank != nullptr) {
    policy_bank = bank->name;
    std::erase_if(*results, [bank](const scan::CheckResult& r) {
      return std::find(bank->bypass.begin(), bank->bypass.end(), r.check) != bank->bypass.end();
    });
  }
  const scan::Verdict verdict = scan::Decide(*results, policy, facts.envelope);
  if (verdict.category == scan::Category::kSpam || verdict.category == scan::Category::kSpammy) {
    counters_.messages_spam.fetch_add(1, std::memory_order_relaxed);
  }
  counters_.verdicts[static_cast<size_t>(verdict.category)][static_cast<size_t>(verdict.action)]
      .fetch_add(1, std::memory_order_relaxed);

  const auto quarantine_file = Quarantine(verdict, config_, policy, facts, message, counters_);
  if (!quarantine_file) {
    // amavisd's rule: a message that should be quarantined and cannot be stays with the MTA.
    Decision decision = Block(ReplyId::kLocalError, {},
                              fmt::format("Blocked {} {{TempFailedInbound}}", verdict.log_name),
                              "quarantine failed");
    decision.hits = std::move(hits);
    decision.policy_bank = std::move(policy_bank);
    co_return decision;
  }
  const char* quarantined = quarantine_file->empty() ? "" : ",Quarantined";

  scan::Action action = verdict.action;
  // After-queue the MTA turns a reject into a bounce to the sender: configured away, or
  // suppressed for obvious spam (amavisd's $sa_dsn_cutoff_level).
  bool bounce_suppressed = false;
  if (action == scan::Action::kReject && config_.relay.mode == config::RelayMode::kAfterQueue) {
    if (!policy.actions.after_queue_reject_bounces) {
      action = scan::Action::kDiscard;
    } else if (verdict.category == scan::Category::kSpam &&
               verdict.score >= policy.spam.dsn_cutoff_level) {
      action = scan::Action::kDiscard;
      bounce_suppressed = true;
    }
  }
  Decision decision;
  if (action != scan::Action::kPass) {
    // Blocked: the client gets our reply, nothing is relayed.
    const ReplyId id = bounce_suppressed                  ? ReplyId::kBounceSuppressed
                       : action == scan::Action::kReject  ? ReplyId::kRejectContent
                       : action == scan::Action::kDiscard ? ReplyId::kDiscardContent
                                                          : ReplyId::kTempfailContent;
    const char* how = bounce_suppressed                  ? "NoBounceInbound"
                      : action == scan::Action::kReject  ? "RejectedInbound"
                      : action == scan::Action::kDiscard ? "DiscardedInbound"
                                                         : "TempFailedInbound";
    decision =
        Block(id, bounce_suppressed ? mail_id : fmt::format("{} - {}", mail_id, verdict.reason),
              fmt::format("Blocked {} {{{}{}}}", verdict.log_name, how, quarantined), "");
  } else {
    decision.log_verdict = fmt::format(
        "Passed {} {{{}{}}}", verdict.log_name.empty() ? "CLEAN" : verdict.log_name,
        verdict.subject_tag.empty() ? "RelayedInbound" : "RelayedTaggedInbound", quarantined);
    // The X-Spam-* fields and, when the spam check ran and the header section needs edits
    // (incoming X-Spam-* fields removed, Subject tagged) and is held in memory, its rewrite in
    // place of the original. Without a verdict the message goes on unchanged.
    decision.added_headers = verdict.added_headers;
    if (!quarantine_file->empty()) {
      decision.added_headers += fmt::format("X-Quarantine-ID: <{}>\r\n", mail_id);
    }
    std::string_view head = message.Head();
    const size_t end = head.find("\r\n\r\n");
    if (verdict.edit_headers() && end != std::string_view::npos) {
      std::string_view section = head.substr(0, end + 2);
      std::string edited = scan::EditHeaderSection(section, verdict.subject_tag);
      if (edited != section) {
        decision.header_section = std::move(edited);
        decision.replaced_size = section.size();
      }
    }
  }
  decision.hits = std::move(hits);
  decision.quarantine_file = *quarantine_file;
  decision.policy_bank = std::move(policy_bank);
  co_return decision;
}

}  // namespace mailsift::policy
