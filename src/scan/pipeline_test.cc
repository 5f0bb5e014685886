// Tests of the scan pipeline and the SpamAssassin rule check, with rule files written by the
// test into a temporary directory.
#include "scan/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "scan/spam_check.h"

namespace mailsift::scan {
namespace {

namespace fs = std::filesystem;

// These tests check verdicts, which never depend on the prefilter: it stays off.
rules::PrefilterOptions NoPrefilter() {
  rules::PrefilterOptions o;
  o.mode = rules::PrefilterMode::kOff;
  return o;
}

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/mailsift-scan-XXXXXX";
    path_ = ::mkdtemp(templ);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

config::Spam SpamConfig(const TempDir& rules, const TempDir& site) {
  config::Spam config;
  config.rule_dirs = {(rules.path() / "missing").string(), rules.path().string()};
  config.site_dir = site.path().string();
  return config;
}

MessageInput Message(const std::string& text) {
  return MessageInput{std::make_shared<const std::string>(text), {}};
}

TEST(SpamCheck, LoadsTheFirstExistingRuleDirectoryAndTheSiteDirectory) {
  TempDir rules, site;
  rules.Write("10_rules.cf",
              "body MONEY /free money/i\nscore MONEY 3.5\n"
              "header SUBJ_WIN Subject =~ /\\bwin\\b/i\nscore SUBJ_WIN 2\n"
              "required_score 5\n");
  site.Write("local.cf", "body LOCAL_RULE /local words/\nscore LOCAL_RULE 0.5\n");
  auto check = SpamCheck::Load(SpamConfig(rules, site), NoPrefilter());
  ASSERT_TRUE(check) << check.error().message;
  CheckResult r = (*check)->Run(
      Message("Subject: you WIN\nFrom: a@example.com\n\nGet FREE MONEY and local words.\n"));
  EXPECT_TRUE(r.scanned);
  EXPECT_DOUBLE_EQ(r.score, 6.0);
  EXPECT_DOUBLE_EQ(r.required, 5.0);
  ASSERT_EQ(r.hits.size(), 3u);
  CheckResult clean = (*check)->Run(Message("Subject: hello\n\nnothing here\n"));
  EXPECT_DOUBLE_EQ(clean.score, 0.0);
  EXPECT_TRUE(clean.hits.empty());
}

TEST(SpamCheck, RefusesABrokenRuleFileNamingFileAndLine) {
  TempDir rules, site;
  rules.Write("20_bad.cf", "body GOOD /fine/\nbody BROKEN /unclosed(group/\n");
  auto check = SpamCheck::Load(SpamConfig(rules, site), NoPrefilter());
  ASSERT_FALSE(check);
  EXPECT_NE(check.error().message.find("20_bad.cf:2"), std::string::npos) << check.error().message;
  EXPECT_NE(check.error().message.find("BROKEN"), std::string::npos) << check.error().message;
}

TEST(SpamCheck, RefusesWhenNoRuleDirectoryExists) {
  TempDir site;
  config::Spam config;
  config.rule_dirs = {"/nonexistent/mailsift-rules"};
  config.site_dir = site.path().string();
  auto check = SpamCheck::Load(config, NoPrefilter());
  ASSERT_FALSE(check);
  EXPECT_NE(check.error().message.find("spam.rule_dirs"), std::string::npos);
}

TEST(SpamCheck, SkipsMessagesOverMaxScanSize) {
  TempDir rules, site;
  rules.Write("10_rules.cf", "body ANY /./\nscore ANY 1\n");
  config::Spam config = SpamConfig(rules, site);
  config.max_scan_size = 100;
  auto check = SpamCheck::Load(config, NoPrefilter());
  ASSERT_TRUE(check);
  CheckResult r = (*check)->Run(Message("Subject: x\n\n" + std::string(200, 'a') + "\n"));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.skipped_reason, "size");
}

class SlowCheck : public Check {
 public:
  explicit SlowCheck(std::chrono::milliseconds delay) : delay_(delay) {}
  std::string_view name() const override { return "slow"; }
  CheckResult Run(const MessageInput&) const override {
    std::this_thread::sleep_for(delay_);
    CheckResult r;
    r.check = "slow";
    r.scanned = true;
    return r;
  }

 private:
  std::chrono::milliseconds delay_;
};

// `io` must outlive `pipeline`: a check still running after the deadline posts its result to
// the caller's executor when it ends.
std::optional<std::vector<CheckResult>> ScanOn(asio::io_context& io, Pipeline& pipeline,
                                               MessageInput message,
                                               std::chrono::milliseconds budget,
                                               std::thread::id* resumed_on = nullptr) {
  io.restart();
  std::optional<std::vector<CheckResult>> out;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out = co_await pipeline.Scan(std::move(message), std::chrono::steady_clock::now() + budget);
        if (resumed_on) *resumed_on = std::this_thread::get_id();
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
  return out;
}

TEST(Pipeline, RunsChecksOnThePoolAndResumesOnTheCallersThread) {
  std::vector<std::unique_ptr<Check>> checks;
  checks.push_back(std::make_unique<SlowCheck>(std::chrono::milliseconds(20)));
  asio::io_context io;
  Pipeline pipeline(std::move(checks), 2);
  std::thread::id resumed;
  auto results =
      ScanOn(io, pipeline, Message("Subject: x\n\nbody\n"), std::chrono::seconds(5), &resumed);
  ASSERT_TRUE(results);
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].check, "slow");
  EXPECT_EQ(resumed, std::this_thread::get_id());
}

TEST(Pipeline, ADeadlineThatPassesFirstGivesNoResult) {
  std::vector<std::unique_ptr<Check>> checks;
  checks.push_back(std::make_unique<SlowCheck>(std::chrono::milliseconds(500)));
  asio::io_context io;
  Pipeline pipeline(std::move(checks), 1);
  auto start = std::chrono::steady_clock::now();
  auto results =
      ScanOn(io, pipeline, Message("Subject: x\n\nbody\n"), std::chrono::milliseconds(50));
  EXPECT_FALSE(results);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
}

}  // namespace
}  // namespace mailsift::scan
