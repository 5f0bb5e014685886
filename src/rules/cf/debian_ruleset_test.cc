// Loads Debian's SpamAssassin 4.0.1 ruleset (package `spamassassin`): /usr/share/spamassassin
// with the plugins /etc/spamassassin/*.pre load, as SpamAssassin itself reads it. The expected
// counts were checked against SpamAssassin's own parse of this ruleset (Mail::SpamAssassin
// ->new(local_tests_only)->init, dumping $conf->{tests}): 2946 rules with the same names, types,
// eval functions, 4 scores, priorities and final (replace_tags) patterns; the only differences
// were 3 metas that SA marks `net` depending on its hash order, and SA escaping `%{TAG}` capture
// templates as `%\{TAG\}` in 6 patterns. "At least" leaves room for local additions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "rules/cf/cf_parser.h"

namespace mailsift::rules {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DebianRulesetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists("/usr/share/spamassassin/50_scores.cf") ||
        !std::filesystem::exists("/etc/spamassassin/v310.pre")) {
      return;
    }
    RulePaths paths = StandardRulePaths(
        {"/var/lib/spamassassin/4.000001", "/usr/share/spamassassin"}, "/etc/spamassassin");
    ParserOptions options;
    options.local_tests_only = true;
    result_ = new LoadResult(LoadRules(paths, options));
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }
  void SetUp() override {
    if (!result_) GTEST_SKIP() << "Debian's spamassassin package is not installed";
  }
  // Counts and spot checks hold for the packaged rules; sa-update's rules replace them.
  void SkipUnlessPackagedRules() {
    if (std::filesystem::exists("/var/lib/spamassassin/4.000001")) {
      GTEST_SKIP() << "sa-update rules present: counts differ from the packaged ruleset";
    }
  }
  const Rule* Find(std::string_view name) { return result_->ruleset.Find(name); }

  static LoadResult* result_;
};
LoadResult* DebianRulesetTest::result_ = nullptr;

TEST_F(DebianRulesetTest, LoadsWithoutErrors) {
  std::string all;
  for (const Diagnostic& d : result_->errors) all += d.ToString() + "\n";
  EXPECT_TRUE(result_->errors.empty()) << all;
}

TEST_F(DebianRulesetTest, RuleCountsMatchSpamAssassinsOwnParse) {
  SkipUnlessPackagedRules();
  const Ruleset& rs = result_->ruleset;
  EXPECT_GE(rs.rules().size(), 2946u);
  EXPECT_GE(rs.CountType(RuleType::kMeta), 921u);
  EXPECT_GE(rs.CountType(RuleType::kHeader, false), 769u);  // regex and exists:
  EXPECT_GE(rs.CountType(RuleType::kHeader, true), 170u);   // incl. 66 RBL-type
  EXPECT_GE(rs.CountType(RuleType::kBody, false), 622u);
  EXPECT_GE(rs.CountType(RuleType::kBody, true), 145u);
  EXPECT_GE(rs.CountType(RuleType::kMimeHeader), 61u);
  EXPECT_GE(rs.CountType(RuleType::kUri), 144u);
  EXPECT_GE(rs.CountType(RuleType::kRawBody, false), 58u);
  EXPECT_GE(rs.CountType(RuleType::kRawBody, true), 7u);
  EXPECT_GE(rs.CountType(RuleType::kFull, false), 4u);
  EXPECT_GE(rs.CountType(RuleType::kFull, true), 13u);
  EXPECT_GE(rs.CountType(RuleType::kEmpty), 32u);
  size_t exists = 0, replaced = 0, multiple = 0;
  for (const Rule& r : rs.rules()) {
    exists += r.header.exists && r.type == RuleType::kHeader;
    replaced += r.replaced;
    multiple += r.HasTflag("multiple");
  }
  EXPECT_GE(exists, 76u);
  EXPECT_GE(replaced, 90u);
  EXPECT_GE(multiple, 55u);
}

TEST_F(DebianRulesetTest, PluginsComeFromThePreFiles) {
  SkipUnlessPackagedRules();
  const auto& plugins = result_->ruleset.plugins();
  EXPECT_TRUE(plugins.count("Mail::SpamAssassin::Plugin::ReplaceTags"));
  EXPECT_TRUE(plugins.count("Mail::SpamAssassin::Plugin::HTMLEval"));
  EXPECT_FALSE(plugins.count("Mail::SpamAssassin::Plugin::TextCat"));
  EXPECT_EQ(Find("DCC_CHECK"), nullptr);  // ifplugin DCC: not loaded by Debian
  ASSERT_NE(Find("HTML_MESSAGE"), nullptr);
  EXPECT_EQ(Find("HTML_MESSAGE")->eval.function, "html_test");
}

TEST_F(DebianRulesetTest, SpotChecksAgainstSpamAssassin) {
  SkipUnlessPackagedRules();
  const Rule* gtube = Find("GTUBE");
  ASSERT_NE(gtube, nullptr);
  EXPECT_EQ(gtube->type, RuleType::kBody);
  EXPECT_EQ(gtube->scores[0], 1000);
  EXPECT_TRUE(gtube->HasTflag("userconf"));

  const Rule* all_trusted = Find("ALL_TRUSTED");  // unscored, tflags nice → -1
  ASSERT_NE(all_trusted, nullptr);
  EXPECT_EQ(all_trusted->scores[0], -1.0);
  EXPECT_EQ(all_trusted->priority, -950);

  const Rule* bayes = Find("BAYES_99");
  ASSERT_NE(bayes, nullptr);
  EXPECT_EQ(bayes->scores, (std::array<double, 4>{0, 0, 3.8, 3.5}));
  EXPECT_EQ(bayes->priority, -90);

  const Rule* digest = Find("DIGEST_MULTIPLE");
  ASSERT_NE(digest, nullptr);
  EXPECT_EQ(digest->scores, (std::array<double, 4>{0, 0.001, 0, 0.293}));
  EXPECT_EQ(Find("RAZOR2_CHECK")->priority, -100);  // razor_fork

  const Rule* to_addr = Find("__GB_TO_ADDR");
  ASSERT_NE(to_addr, nullptr);
  EXPECT_EQ(to_addr->header.name, "To");
  EXPECT_TRUE(to_addr->header.HasModifier("addr"));
  EXPECT_EQ(to_addr->priority, -10000);

  const Rule* tracker = Find("TRACKER_ID");
  ASSERT_NE(tracker, nullptr);
  EXPECT_EQ(tracker->regex.flags, "is");
  EXPECT_EQ(tracker->regex.pattern, "^[a-z0-9]{6,24}[-_a-z0-9]{12,36}[a-z0-9]{6,24}\\s*\\z");

  const Rule* fuzzy = Find("FUZZY_CREDIT");  // replace_rules with inter and tags
  ASSERT_NE(fuzzy, nullptr);
  EXPECT_TRUE(fuzzy->replaced);
  EXPECT_THAT(fuzzy->regex.pattern, Not(HasSubstr("<C>")));
  EXPECT_THAT(fuzzy->regex.pattern, HasSubstr("(?![ck]r(?:[e\\xe9]|\\xc3\\xa9)dit)(?:[cCk"));
  EXPECT_EQ(fuzzy->scores[0], 1.699);

  const Rule* freemail = Find("FREEMAIL_FROM");
  ASSERT_NE(freemail, nullptr);
  EXPECT_EQ(freemail->scores[0], 0.001);
  EXPECT_GE(result_->ruleset.SettingWords("freemail_domains").size(), 1000u);
  EXPECT_GE(result_->ruleset.SettingWords("util_rb_2tld").size(), 100u);
  EXPECT_GE(result_->ruleset.Setting("redirector_pattern").size(), 15u);
}

}  // namespace
}  // namespace mailsift::rules
