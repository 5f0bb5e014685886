// ScanPolicy with fake checks on a real pipeline: what it decides, counts and keeps.
#include "policy/scan_policy.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "scan/pipeline.h"
#include "scan/verdict.h"

namespace mailsift::policy {
namespace {

// A check that says what it was given to say, after `delay`.
class FakeCheck : public scan::Check {
 public:
  FakeCheck(scan::CheckResult result, std::chrono::milliseconds delay = {})
      : result_(std::move(result)), delay_(delay) {}
  std::string_view name() const override { return result_.check; }
  scan::CheckResult Run(const scan::MessageInput&) const override {
    std::this_thread::sleep_for(delay_);
    return result_;
  }

 private:
  scan::CheckResult result_;
  std::chrono::milliseconds delay_;
};

scan::CheckResult Virus() {
  scan::CheckResult r;
  r.check = "virus";
  r.kind = scan::CheckKind::kVirus;
  r.scanned = true;
  r.finding = scan::Finding::kVirus;
  r.details = {"Eicar-Test-Signature"};
  return r;
}

scan::CheckResult Spam(double score) {
  scan::CheckResult r;
  r.check = "spam";
  r.kind = scan::CheckKind::kSpam;
  r.scanned = true;
  r.score = score;
  return r;
}

class ScanPolicyTest : public ::testing::Test {
 protected:
  ScanPolicyTest() : spool_(::testing::TempDir(), 1 << 20) {
    config_ = config::DefaultConfig();
    config_.hostname = "filter.test";
    config_.quarantine.directory.clear();
    facts_.envelope = {"a@example.org", {"b@example.net"}};
    facts_.mail_id = "MAILID123456";
    facts_.listener = "test";
    facts_.client_address = "192.0.2.7";
  }
  void Checks(std::vector<scan::CheckResult> results, std::chrono::milliseconds delay = {}) {
    std::vector<std::unique_ptr<scan::Check>> checks;
    for (auto& r : results) checks.push_back(std::make_unique<FakeCheck>(std::move(r), delay));
    pipeline_ = std::make_unique<scan::Pipeline>(std::move(checks), 1);
  }
  Decision Decide(const std::string& message,
                  std::chrono::milliseconds within = std::chrono::seconds(10)) {
    spool_.Clear();
    EXPECT_TRUE(spool_.Append(message));
    ScanPolicy policy(config_, pipeline_.get(), &counters_);
    std::optional<Decision> decision;
    context_.restart();
    asio::co_spawn(context_,
                   policy.Decide(facts_, spool_, std::chrono::steady_clock::now() + within),
                   [&](std::exception_ptr, Decision d) { decision = std::move(d); });
    context_.run();
    return decision.value_or(Decision{});
  }

  config::Config config_;
  MessageFacts facts_;
  spool::Spool spool_;
  // Before the pipeline, which must end (joining its pool) while the context still lives.
  asio::io_context context_;
  std::unique_ptr<scan::Pipeline> pipeline_;
  PolicyCounters counters_;
};

TEST_F(ScanPolicyTest, WithoutChecksEveryMessageIsRelayedUnchanged) {
  Decision d = Decide("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(d.relay);
  EXPECT_EQ(d.log_verdict, "Passed CLEAN {RelayedInbound}");
  EXPECT_EQ(d.hits, "-");
  EXPECT_EQ(d.added_headers, "");
  EXPECT_EQ(d.replaced_size, 0u);
}

TEST_F(ScanPolicyTest, AVirusIsRejectedQuarantinedAndCounted) {
  config_.relay.mode = config::RelayMode::kBeforeQueue;
  config_.actions.virus = config::Action::kReject;
  const std::string directory = ::testing::TempDir() + "/scan_policy_quarantine";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  config_.quarantine.directory = directory;
  Checks({Virus()});
  Decision d = Decide("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(d.relay);
  EXPECT_EQ(d.reply, ReplyId::kRejectContent);
  EXPECT_TRUE(d.reply_detail.starts_with("MAILID123456 - ")) << d.reply_detail;
  EXPECT_EQ(d.log_verdict, "Blocked INFECTED (Eicar-Test-Signature) {RejectedInbound,Quarantined}");
  EXPECT_FALSE(d.quarantine_file.empty());
  EXPECT_EQ(counters_.quarantined.load(), 1u);
  EXPECT_EQ(counters_
                .verdicts[static_cast<size_t>(scan::Category::kVirus)]
                         [static_cast<size_t>(config::Action::kReject)]
                .load(),
            1u);
  uint64_t timed = 0;
  for (const auto& n : counters_.check_time[static_cast<size_t>(scan::CheckKind::kVirus)].counts) {
    timed += n.load();
  }
  EXPECT_EQ(timed, 1u);
}

TEST_F(ScanPolicyTest, AfterQueueARejectWithoutBouncesIsADiscard) {
  config_.actions.virus = config::Action::kReject;
  config_.actions.after_queue_reject_bounces = false;
  Checks({Virus()});
  Decision d = Decide("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(d.relay);
  EXPECT_EQ(d.reply, ReplyId::kDiscardContent);
  EXPECT_EQ(d.log_verdict, "Blocked INFECTED (Eicar-Test-Signature) {DiscardedInbound}");
}

TEST_F(ScanPolicyTest, APassedMessageGetsItsHeaderSectionRewritten) {
  Checks({Spam(1.5)});
  Decision d = Decide("X-Spam-Flag: YES\r\nSubject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(d.relay);
  EXPECT_EQ(d.hits, "1.5");
  EXPECT_EQ(d.log_verdict, "Passed CLEAN {RelayedInbound}");
  // The incoming X-Spam-* field goes; the rest of the header section stays.
  EXPECT_EQ(d.header_section, "Subject: hi\r\n");
  EXPECT_EQ(d.replaced_size, std::string("X-Spam-Flag: YES\r\nSubject: hi\r\n").size());
}

TEST_F(ScanPolicyTest, AScanPastTheDeadlineTempfails) {
  Checks({Spam(0)}, std::chrono::milliseconds(500));
  Decision d = Decide("Subject: hi\r\n\r\nbody\r\n", std::chrono::milliseconds(20));
  EXPECT_FALSE(d.relay);
  EXPECT_EQ(d.reply, ReplyId::kScanTimeout);
  EXPECT_EQ(d.reply_detail, "MAILID123456");
  EXPECT_EQ(d.log_verdict, "Blocked UNCHECKED {TempFailedInbound}");
  EXPECT_EQ(d.log_reason, "scan timed out");
  EXPECT_EQ(counters_.scan_timeouts.load(), 1u);
}

}  // namespace
}  // namespace mailsift::policy
