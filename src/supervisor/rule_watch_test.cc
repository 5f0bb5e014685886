// supervisor/rule_watch_test.cc — the rule-directory watch: debounce (clock injected) and what
// is watched.
#include "supervisor/rule_watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace mailsift::supervisor {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/mailsift-rule-watch-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Reads what the kernel has queued (events are queued by the system call that causes them).
bool Read(RuleWatch& watch, WatchClock::time_point now) {
  pollfd p{watch.fd(), POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return false;
  watch.OnReadable(now);
  return true;
}

config::Spam Watching(std::vector<std::string> rule_dirs, std::string site_dir) {
  config::Spam spam;
  spam.watch_rule_dirs = true;
  spam.watch_quiet_period = config::Seconds(10);
  spam.rule_dirs = std::move(rule_dirs);
  spam.site_dir = std::move(site_dir);
  return spam;
}

// --- Debounce ---------------------------------------------------------------------------------

TEST(Debounce, OneReloadOnceQuietAfterTheLastChange) {
  Debounce d(seconds(10));
  WatchClock::time_point t0{seconds(1000)};
  EXPECT_FALSE(d.pending());
  EXPECT_EQ(d.Due(), WatchClock::time_point::max());
  EXPECT_EQ(d.TakeDue(t0), std::nullopt);

  d.Change(t0, "/rules/a");
  d.Change(t0 + seconds(3), "/rules/b");
  d.Change(t0 + seconds(7), "/rules/c");
  EXPECT_EQ(d.Due(), t0 + seconds(17));
  EXPECT_EQ(d.TakeDue(t0 + seconds(10)), std::nullopt);  // 10 s after the first: not quiet yet
  EXPECT_EQ(d.TakeDue(t0 + seconds(17) - milliseconds(1)), std::nullopt);
  EXPECT_EQ(d.TakeDue(t0 + seconds(17)), "/rules/a");  // where the burst began
  EXPECT_FALSE(d.pending());
  EXPECT_EQ(d.TakeDue(t0 + seconds(60)), std::nullopt);  // once per burst

  d.Change(t0 + seconds(100), "/site");  // the next burst
  EXPECT_EQ(d.TakeDue(t0 + seconds(110)), "/site");
}

TEST(Debounce, ClearForgetsAPendingChange) {
  Debounce d(seconds(1));
  WatchClock::time_point t0{seconds(5)};
  d.Change(t0, "/rules");
  d.Clear();
  EXPECT_EQ(d.TakeDue(t0 + seconds(5)), std::nullopt);
}

// --- WatchTargets -----------------------------------------------------------------------------

TEST(WatchTargets, DirsTheirParentsSubdirsAndTheNearestAncestorOfMissingOnes) {
  TempDir tmp;
  const std::string& t = tmp.path();
  fs::create_directories(tmp / "usr/rules/updates_spamassassin_org/deeper");
  fs::create_directories(tmp / "var/lib");
  fs::create_directories(tmp / "etc/spamassassin");
  Write(tmp / "usr/rules/10_default.cf", "body X /x/\n");

  auto targets = WatchTargets(
      {tmp / "var/lib/spamassassin/4.000001", tmp / "usr/rules/", tmp / "etc/spamassassin", ""});
  std::vector<WatchTarget> expected = {
      {t + "/etc", {"spamassassin"}},
      {t + "/etc/spamassassin", {}},
      {t + "/usr", {"rules"}},
      {t + "/usr/rules", {}},
      {t + "/usr/rules/updates_spamassassin_org", {}},
      {t + "/usr/rules/updates_spamassassin_org/deeper", {}},
      {t + "/var/lib", {"spamassassin"}},  // nearest existing ancestor, for the name below it
  };
  EXPECT_EQ(targets, expected);
}

TEST(WatchTargets, AParentThatIsAlsoWatchedWhollyKeepsEveryName) {
  TempDir tmp;
  fs::create_directories(tmp / "site/rules");
  auto targets = WatchTargets({tmp / "site/rules", tmp / "site"});
  ASSERT_GE(targets.size(), 2u);
  EXPECT_EQ(targets[1].path, tmp / "site");
  EXPECT_THAT(targets[1].names, IsEmpty());
  EXPECT_EQ(targets[2].path, tmp / "site/rules");
}

// --- RuleWatch on a real directory ------------------------------------------------------------

TEST(RuleWatch, OffUnlessAskedAndSpamEnabled) {
  TempDir tmp;
  RuleWatch watch;
  config::Spam spam = Watching({tmp.path()}, "");
  spam.watch_rule_dirs = false;
  ASSERT_TRUE(watch.Configure(spam));
  EXPECT_EQ(watch.fd(), -1);
  spam.watch_rule_dirs = true;
  spam.enabled = false;
  ASSERT_TRUE(watch.Configure(spam));
  EXPECT_EQ(watch.fd(), -1);
  spam.enabled = true;
  ASSERT_TRUE(watch.Configure(spam));
  EXPECT_GE(watch.fd(), 0);
  spam.watch_rule_dirs = false;
  ASSERT_TRUE(watch.Configure(spam));
  EXPECT_EQ(watch.fd(), -1);
  EXPECT_THAT(watch.Watched(), IsEmpty());
}

TEST(RuleWatch, AWrittenRuleFileIsOneReloadAfterTheQuietPeriod) {
  TempDir tmp;
  fs::create_directories(tmp / "rules");
  fs::create_directories(tmp / "site");
  RuleWatch watch;
  ASSERT_TRUE(watch.Configure(Watching({tmp / "rules"}, tmp / "site")));
  EXPECT_THAT(watch.Watched(), ElementsAre(tmp.path(), tmp / "rules", tmp / "site"));

  WatchClock::time_point t0{seconds(1000)};
  Write(tmp / "rules/10_a.cf", "body A /a/\n");
  ASSERT_TRUE(Read(watch, t0));
  Write(tmp / "site/local.cf", "score A 1\n");
  ASSERT_TRUE(Read(watch, t0 + seconds(4)));
  EXPECT_EQ(watch.Due(), t0 + seconds(14));
  EXPECT_EQ(watch.TakeDue(t0 + seconds(13)), std::nullopt);
  EXPECT_EQ(watch.TakeDue(t0 + seconds(14)), tmp / "rules");
  EXPECT_EQ(watch.TakeDue(t0 + seconds(30)), std::nullopt);

  // Deleting, renaming and chmod count too.
  fs::rename(tmp / "rules/10_a.cf", tmp / "rules/10_a.cf.old");
  ASSERT_TRUE(Read(watch, t0 + seconds(40)));
  fs::permissions(tmp / "rules/10_a.cf.old", fs::perms::owner_read);
  fs::remove(tmp / "rules/10_a.cf.old");
  ASSERT_TRUE(Read(watch, t0 + seconds(41)));
  EXPECT_EQ(watch.TakeDue(t0 + seconds(51)), tmp / "rules");
}

TEST(RuleWatch, OtherEntriesOfTheParentDoNotCount) {
  TempDir tmp;
  fs::create_directories(tmp / "rules");
  RuleWatch watch;
  ASSERT_TRUE(watch.Configure(Watching({tmp / "rules"}, "")));
  Write(tmp / "unrelated.txt", "x");
  fs::create_directories(tmp / "other");
  WatchClock::time_point t0{seconds(1000)};
  ASSERT_TRUE(Read(watch, t0));
  EXPECT_EQ(watch.Due(), WatchClock::time_point::max());
}

TEST(RuleWatch, ARuleDirectoryCreatedLaterIsPickedUp) {
  // sa-update creates /var/lib/spamassassin/<version>/updates_spamassassin_org/ and writes
  // its files there.
  TempDir tmp;
  fs::create_directories(tmp / "var");
  RuleWatch watch;
  ASSERT_TRUE(watch.Configure(Watching({tmp / "var/spamassassin/4.000001"}, "")));
  EXPECT_THAT(watch.Watched(), ElementsAre(tmp / "var"));

  WatchClock::time_point t0{seconds(1000)};
  fs::create_directories(tmp / "var/spamassassin/4.000001/updates_spamassassin_org");
  ASSERT_TRUE(Read(watch, t0));
  EXPECT_THAT(watch.Watched(),
              ElementsAre(tmp / "var/spamassassin", tmp / "var/spamassassin/4.000001",
                          tmp / "var/spamassassin/4.000001/updates_spamassassin_org"));
  EXPECT_EQ(watch.TakeDue(t0 + seconds(10)), tmp / "var/spamassassin");
  Write(tmp / "var/spamassassin/4.000001/updates_spamassassin_org/20_body.cf", "body B /b/\n");
  ASSERT_TRUE(Read(watch, t0 + seconds(20)));
  EXPECT_EQ(watch.TakeDue(t0 + seconds(30)),
            tmp / "var/spamassassin/4.000001/updates_spamassassin_org");

  // A subdirectory made afterwards is watched as soon as its creation is read.
  fs::create_directories(tmp / "var/spamassassin/4.000001/local_channel");
  ASSERT_TRUE(Read(watch, t0 + seconds(40)));
  Write(tmp / "var/spamassassin/4.000001/local_channel/1.cf", "body C /c/\n");
  ASSERT_TRUE(Read(watch, t0 + seconds(45)));
  EXPECT_EQ(watch.Due(), t0 + seconds(55));

  // The rule directory removed: back to its nearest ancestor, and that counts as a change.
  (void)watch.TakeDue(t0 + seconds(60));
  fs::remove_all(tmp / "var/spamassassin");
  ASSERT_TRUE(Read(watch, t0 + seconds(70)));
  EXPECT_THAT(watch.Watched(), ElementsAre(tmp / "var"));
  EXPECT_EQ(watch.Due(), t0 + seconds(80));
}

TEST(RuleWatch, ReconfiguringKeepsAPendingChangeAndRetargets) {
  TempDir tmp;
  fs::create_directories(tmp / "a");
  fs::create_directories(tmp / "b");
  RuleWatch watch;
  ASSERT_TRUE(watch.Configure(Watching({tmp / "a"}, "")));
  WatchClock::time_point t0{seconds(1000)};
  Write(tmp / "a/x.cf", "");
  ASSERT_TRUE(Read(watch, t0));
  ASSERT_TRUE(watch.Configure(Watching({tmp / "b"}, "")));
  EXPECT_THAT(watch.Watched(), ElementsAre(tmp.path(), tmp / "b"));
  EXPECT_EQ(watch.Due(), t0 + seconds(10));
  Write(tmp / "a/y.cf", "");  // no longer watched
  Write(tmp / "b/y.cf", "");
  ASSERT_TRUE(Read(watch, t0 + seconds(1)));
  EXPECT_EQ(watch.TakeDue(t0 + seconds(11)), tmp / "a");
}

}  // namespace
}  // namespace mailsift::supervisor
