// Tests of the spam verdict: levels, actions, and the X-Spam-* headers in amavisd-new 2.13's
// format (the example captured from amavisd's sink dump: ../reference notes, §6).
#include <gtest/gtest.h>

#include "scan/verdict.h"

namespace mailsift::scan {
namespace {

CheckResult Spam(double score, std::vector<rules::RuleHit> hits) {
  CheckResult r;
  r.check = "spam";
  r.scanned = true;
  r.score = score;
  r.required = 5;
  r.hits = std::move(hits);
  return r;
}

TEST(Verdict, ScoreFormatAsAmavisd) {
  EXPECT_EQ(FormatScore(9.222), "9.222");
  EXPECT_EQ(FormatScore(1.0), "1");
  EXPECT_EQ(FormatScore(2.9066), "2.907");
  EXPECT_EQ(FormatScore(-0.0001), "0");
  EXPECT_EQ(FormatScore(-1.5), "-1.5");
}

TEST(Verdict, HeadersInAmavisdFormatWithTestsWrappedAt78Columns) {
  config::Config config;
  config.spam.tag_level = -999;
  CheckResult r = Spam(9.222, {{"RDNS_NONE", 1, 2.399},
                               {"END_FUTURE_EMAILS", 1, 1},
                               {"EXCUSE_REMOVE", 1, 2.907},
                               {"HEADER_FROM_DIFFERENT_DOMAINS", 1, 1},
                               {"HTML_FONT_LOW_CONTRAST", 1, 0.713},
                               {"__SUB_RULE", 3, 0}});
  Verdict v = Decide(r, config);
  EXPECT_EQ(v.category, Category::kSpam);
  EXPECT_EQ(v.action, Action::kPass);
  EXPECT_EQ(v.subject_tag, "***SPAM*** ");
  EXPECT_EQ(v.added_headers,
            "X-Spam-Flag: YES\r\n"
            "X-Spam-Score: 9.222\r\n"
            "X-Spam-Level: *********\r\n"
            "X-Spam-Status: Yes, score=9.222 tagged_above=-999 required=6.31\r\n"
            " tests=[END_FUTURE_EMAILS=1, EXCUSE_REMOVE=2.907,\r\n"
            " HEADER_FROM_DIFFERENT_DOMAINS=1, HTML_FONT_LOW_CONTRAST=0.713,\r\n"
            " RDNS_NONE=2.399]\r\n"
            " autolearn=disabled\r\n");
}

TEST(Verdict, LevelsDecideCategoryHeadersAndAction) {
  config::Config config;  // tag 2.0, tag2 6.31, kill 6.31
  config.spam.kill_level = 10;
  config.actions.spam = Action::kReject;
  Verdict low = Decide(Spam(1.5, {}), config);
  EXPECT_EQ(low.category, Category::kClean);
  EXPECT_EQ(low.added_headers, "");  // below tag_level
  Verdict tagged = Decide(Spam(3, {}), config);
  EXPECT_EQ(tagged.category, Category::kClean);
  EXPECT_NE(tagged.added_headers.find("X-Spam-Flag: NO\r\n"), std::string::npos);
  EXPECT_NE(tagged.added_headers.find("X-Spam-Status: No, score=3 tagged_above=2 required=6.31"),
            std::string::npos);
  EXPECT_EQ(tagged.subject_tag, "");
  Verdict spammy = Decide(Spam(7, {}), config);
  EXPECT_EQ(spammy.category, Category::kSpammy);
  EXPECT_EQ(spammy.action, Action::kPass);
  EXPECT_EQ(spammy.subject_tag, "***SPAM*** ");
  Verdict spam = Decide(Spam(12, {}), config);
  EXPECT_EQ(spam.category, Category::kSpam);
  EXPECT_EQ(spam.action, Action::kReject);
  CheckResult unscanned;
  EXPECT_EQ(Decide(unscanned, config).category, Category::kClean);
  EXPECT_EQ(Decide(unscanned, config).added_headers, "");
}

TEST(Verdict, HeaderSectionLosesIncomingSpamFieldsAndGetsTheSubjectTag) {
  std::string in =
      "From: a@example.com\r\n"
      "X-Spam-Status: No, score=-100\r\n"
      " tests=[FAKE]\r\n"
      "Subject: hello\r\n"
      "\tworld\r\n"
      "x-spam-flag: NO\r\n"
      "X-Spam-Other: kept\r\n";
  EXPECT_EQ(EditHeaderSection(in, "***SPAM*** "),
            "From: a@example.com\r\n"
            "Subject: ***SPAM*** hello\r\n"
            "\tworld\r\n"
            "X-Spam-Other: kept\r\n");
  EXPECT_EQ(EditHeaderSection("From: a\r\nSubject: x\r\n", ""), "From: a\r\nSubject: x\r\n");
}

}  // namespace
}  // namespace mailsift::scan
