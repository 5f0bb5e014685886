// rules/cf/cf_condition_test.cc — the .cf files' if/ifplugin conditions: versions, features,
// plugins and their methods.
#include "rules/cf/cf_condition.h"

#include <gtest/gtest.h>

namespace mailsift::rules {
namespace {

class ConditionTest : public ::testing::Test {
 protected:
  bool Eval(std::string_view expression) {
    auto r = EvaluateCondition(expression, context_);
    EXPECT_TRUE(r.has_value()) << expression << ": " << (r ? "" : r.error().message);
    return r.value_or(false);
  }

  std::set<std::string, std::less<>> plugins_{"Mail::SpamAssassin::Plugin::BodyEval",
                                              "Mail::SpamAssassin::Plugin::DMARC"};
  std::set<std::string, std::less<>> compat_{"welcomelist_blocklist"};
  ConditionContext context_{&plugins_, &compat_, false};
};

TEST_F(ConditionTest, VersionComparisons) {
  EXPECT_TRUE(Eval("(version >= 3.004000)"));
  EXPECT_TRUE(Eval("(version >= 4.000000)"));
  EXPECT_TRUE(Eval("version >= 4.000001"));
  EXPECT_FALSE(Eval("(version >= 4.001000)"));
  EXPECT_FALSE(Eval("(version < 4.000000)"));
  EXPECT_FALSE(Eval("!((version >= 3.004000))"));
  EXPECT_TRUE(Eval("perl_version >= 5.010000"));
}

TEST_F(ConditionTest, ConfFeaturesAndCompat) {
  EXPECT_TRUE(Eval("can(Mail::SpamAssassin::Conf::feature_bug6558_free)"));
  EXPECT_TRUE(Eval("can(Mail::SpamAssassin::Conf::feature_capture_rules)"));
  EXPECT_TRUE(Eval("can(Mail::SpamAssassin::Conf::perl_min_version_5010000)"));
  EXPECT_FALSE(Eval("can(Mail::SpamAssassin::Conf::feature_from_the_future)"));
  EXPECT_FALSE(Eval("!(can(Mail::SpamAssassin::Conf::feature_bug6558_free))"));
  EXPECT_TRUE(Eval("can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)"));
  EXPECT_FALSE(Eval("!can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)"));
  EXPECT_FALSE(Eval("can(Mail::SpamAssassin::Conf::compat_other)"));
}

TEST_F(ConditionTest, PluginMethodsNeedThePlugin) {
  EXPECT_TRUE(Eval("can(Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length)"));
  EXPECT_TRUE(Eval("has(Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length)"));
  EXPECT_FALSE(Eval("can(Mail::SpamAssassin::Plugin::BodyEval::has_nothing)"));
  // MIMEEval is not loaded here.
  EXPECT_FALSE(Eval("can(Mail::SpamAssassin::Plugin::MIMEEval::has_check_abundant_unicode_ratio)"));
  EXPECT_FALSE(Eval("can(Mail::SpamAssassin::Plugin::DecodeShortURLs::has_short_url_redir)"));
}

TEST_F(ConditionTest, PluginChecksAndAliases) {
  EXPECT_TRUE(Eval("plugin(Mail::SpamAssassin::Plugin::BodyEval)"));
  EXPECT_FALSE(Eval("!plugin(Mail::SpamAssassin::Plugin::BodyEval)"));
  EXPECT_FALSE(Eval("plugin(Mail::SpamAssassin::Plugin::TextCat)"));
  EXPECT_TRUE(Eval("plugin(Mail::SpamAssassin::Plugin::Dmarc)"));  // renamed to DMARC
  EXPECT_TRUE(Eval("!(!plugin(Mail::SpamAssassin::Plugin::BodyEval))"));
  EXPECT_TRUE(Eval("plugin(Mail::SpamAssassin::Plugin::BodyEval) && version >= 3.004000"));
  EXPECT_TRUE(Eval("plugin(Mail::SpamAssassin::Plugin::TextCat) || version >= 3.004000"));
  EXPECT_FALSE(Eval("plugin(Mail::SpamAssassin::Plugin::TextCat) && version >= 3.004000"));
}

TEST_F(ConditionTest, LocalTestsOnlyAndArithmetic) {
  EXPECT_FALSE(Eval("local_tests_only"));
  context_.local_tests_only = true;
  EXPECT_TRUE(Eval("(local_tests_only)"));
  EXPECT_TRUE(Eval("1 + 2 * 3 == 7"));
  EXPECT_TRUE(Eval("(1 + 2) * 3 == 9"));
  EXPECT_FALSE(Eval("0"));
}

TEST_F(ConditionTest, MalformedConditionsAreErrors) {
  EXPECT_FALSE(EvaluateCondition("", context_).has_value());
  EXPECT_FALSE(EvaluateCondition("(version >= 3", context_).has_value());
  EXPECT_FALSE(EvaluateCondition("can(NoColons)", context_).has_value());
  EXPECT_FALSE(EvaluateCondition("plugin", context_).has_value());
  EXPECT_FALSE(EvaluateCondition("version >=", context_).has_value());
  EXPECT_FALSE(EvaluateCondition("1 / 0", context_).has_value());
  std::string deep(500, '(');
  EXPECT_FALSE(EvaluateCondition(deep + "1" + std::string(500, ')'), context_).has_value());
  std::string nots(500, '!');
  EXPECT_FALSE(EvaluateCondition(nots + "1", context_).has_value());
}

}  // namespace
}  // namespace mailsift::rules
