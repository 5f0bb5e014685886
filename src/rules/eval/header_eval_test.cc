// rules/eval/header_eval_test.cc — SpamAssassin's HeaderEval evals on hand-made header sets: a hit
// and a miss per function. The LOCALPART_IN_SUBJECT, SORTED_RECIPS, UNRESOLVED_TEMPLATE,
// FROM_ILLEGAL_CHARS and DATE_IN_PAST_06_12 cases were cross-checked with `spamassassin -L -t`.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using HeaderEvalTest = HeaderEvalFixture;

TEST_F(HeaderEvalTest, ShiftedDate) {
  const std::string rcvd =
      "Received: from a.example.com by b.example.net; Thu, 22 Aug 2002 12:00:00 +0000\n";
  const std::string past = rcvd + "Date: Thu, 22 Aug 2002 04:00:00 +0000";
  EXPECT_TRUE(Eval("check_for_shifted_date", past, {"-12", "-6"}));
  EXPECT_FALSE(Eval("check_for_shifted_date", past, {"-6", "-3"}));
  const std::string future = rcvd + "Date: Mon, 26 Aug 2002 12:00:00 +0000";
  EXPECT_TRUE(Eval("check_for_shifted_date", future, {"96", "undef"}));
  EXPECT_FALSE(Eval("check_for_shifted_date", future, {"undef", "-96"}));
  // No Received date: the difference is 0.
  EXPECT_FALSE(
      Eval("check_for_shifted_date", "Date: Thu, 22 Aug 2002 04:00:00 +0000", {"-12", "-6"}));
}

TEST_F(HeaderEvalTest, OutlookMessageId) {
  // 1030015585 * x + y = 29510132 (0x01c2...) : matching token does not hit.
  const std::string date = "Date: Thu, 22 Aug 2002 11:26:25 +0000\n";
  EXPECT_FALSE(
      Eval("check_outlook_message_id", date + "Message-Id: <000001c249f4$00000000$00000000@host>"));
  EXPECT_TRUE(
      Eval("check_outlook_message_id", date + "Message-Id: <000001d249f4$00000000$00000000@host>"));
  EXPECT_FALSE(Eval("check_outlook_message_id", date + "Message-Id: <abc@host>"));
}

TEST_F(HeaderEvalTest, EqualFromDomains) {
  EXPECT_TRUE(Eval("check_equal_from_domains", "From: a@mail.foo.com", {}, "b@bar.com"));
  EXPECT_FALSE(Eval("check_equal_from_domains", "From: a@mail.foo.com", {}, "b@x.FOO.com"));
  EXPECT_FALSE(Eval("check_equal_from_domains", "From: a@mail.foo.com"));
}

TEST_F(HeaderEvalTest, MatchingEnvAndHdrFrom) {
  EXPECT_TRUE(Eval("check_for_matching_env_and_hdr_from", "From: A <a@x.com>", {}, "A@X.com"));
  EXPECT_FALSE(Eval("check_for_matching_env_and_hdr_from", "From: a@x.com", {}, "b@x.com"));
}

TEST_F(HeaderEvalTest, Recipients) {
  const std::string sorted =
      "To: aa@one.com, ab@two.com, ac@three.com, ad@four.com, ae@five.com, af@six.com, "
      "ag@seven.com";
  EXPECT_TRUE(Eval("sorted_recipients", sorted));
  EXPECT_FALSE(Eval("sorted_recipients",
                    "To: b@x.com, a@x.com, c@x.com, d@x.com, e@x.com, "
                    "f@x.com, g@x.com"));
  EXPECT_TRUE(Eval("similar_recipients",
                   "To: joe@aa.com, jon@ab.com, jo@ac.com, joy@ad.com, jos@ae.com",
                   {"0.65", "undef"}));
  EXPECT_FALSE(Eval("similar_recipients", "To: joe@a.com, pat@b.org, sam@c.net, kim@d.de, lee@e.ru",
                    {"0.65", "undef"}));
}

TEST_F(HeaderEvalTest, MissingTo) {
  EXPECT_TRUE(Eval("check_for_missing_to_header", "Subject: hi"));
  EXPECT_FALSE(Eval("check_for_missing_to_header", "Apparently-To: a@b.com"));
  EXPECT_FALSE(Eval("check_for_missing_to_header", "To: a@b.com"));
}

TEST_F(HeaderEvalTest, SubjectAllCaps) {
  EXPECT_TRUE(Eval("subject_is_all_caps", "Subject: Re: FREE MONEY NOW"));
  EXPECT_FALSE(Eval("subject_is_all_caps", "Subject: Free money now"));
  EXPECT_FALSE(Eval("subject_is_all_caps", "Subject: FREEMONEYNOW"));
  EXPECT_FALSE(Eval("subject_is_all_caps", "Subject: =?koi8-r?B?RlJFRSBNT05FWQ==?="));
}

TEST_F(HeaderEvalTest, IllegalChars) {
  EXPECT_TRUE(Eval("check_illegal_chars", "Subject: \xE0\xE1\xE2 deal", {"Subject", "0.00", "2"}));
  EXPECT_FALSE(Eval("check_illegal_chars", "Subject: caf\xC3\xA9 ok", {"Subject", "0.00", "2"}));
  EXPECT_FALSE(Eval("check_illegal_chars",
                    "Subject: \xA3"
                    "5 \xE0 off",
                    {"Subject", "0.00", "2"}));
  EXPECT_TRUE(Eval("check_illegal_chars", "From: \xE0\xE1\xE2 <a@b.com>", {"From", "0.20", "2"}));
}

TEST_F(HeaderEvalTest, ToInSubject) {
  EXPECT_TRUE(Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: joe, read this", {"user"}));
  EXPECT_TRUE(Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: Re: joe", {"user"}));
  EXPECT_FALSE(Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: Joe, read this", {"user"}));
  EXPECT_FALSE(Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: hello", {"user"}));
  // The case-insensitive branches still see the user in another case.
  EXPECT_TRUE(Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: Re: JOE", {"user"}));
  EXPECT_TRUE(
      Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: for JOE@X.COM only", {"address"}));
  EXPECT_FALSE(
      Eval("check_for_to_in_subject", "To: joe@x.com\nSubject: for joe only", {"address"}));
}

TEST_F(HeaderEvalTest, HeaderCountRange) {
  EXPECT_TRUE(Eval("check_header_count_range", "Subject: a\nSubject: b", {"Subject", "2", "999"}));
  EXPECT_FALSE(Eval("check_header_count_range", "Subject: a\nSubject: a", {"Subject", "2", "999"}));
}

TEST_F(HeaderEvalTest, UnresolvedTemplate) {
  EXPECT_TRUE(Eval("check_unresolved_template", "X-Mailer: %MAILER_NAME"));
  EXPECT_FALSE(Eval("check_unresolved_template", "Subject: %FIRST_NAME"));
  EXPECT_FALSE(Eval("check_unresolved_template", "X-Mailer: 100% Pure"));
}

TEST_F(HeaderEvalTest, Ratware) {
  EXPECT_TRUE(Eval("check_ratware_name_id",
                   "Message-Id: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.joe@x.com>\n"
                   "From: \"Joe\" <joe@x.com>"));
  EXPECT_FALSE(Eval("check_ratware_name_id",
                    "Message-Id: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.joe@x.com>\nFrom: joe@x.com"));
  EXPECT_TRUE(Eval("check_ratware_envelope_from", "To: joe@mail.example.com", {},
                   "example.com.joe@spam.net"));
  EXPECT_FALSE(
      Eval("check_ratware_envelope_from", "To: joe@mail.example.com", {}, "bounce@spam.net"));
}

TEST_F(HeaderEvalTest, FarawayCharsetNeverHitsWithAllLocales) {
  EXPECT_FALSE(Eval("check_for_faraway_charset_in_headers", "Subject: =?koi8-r?B?8NLJ18XU?="));
}

TEST_F(HeaderEvalTest, FarawayCharsetWithEnglishLocale) {
  EvalSettings s;
  s.ok_locales = {"en"};
  auto cfg = BuildEvalConfig(s);
  std::optional<EvalTestMessage> message;
  message.emplace("Subject: =?koi8-r?B?8NLJ18XU?=\n\n", *cfg);
  EvalInput& in = message->input;
  EXPECT_TRUE((*FindEvalIn(HeaderEvals(), "check_for_faraway_charset_in_headers"))(in, {}));
  message.emplace("Subject: =?utf-8?B?8NLJ18XU?=\n\n", *cfg);
  EXPECT_FALSE(
      (*FindEvalIn(HeaderEvals(), "check_for_faraway_charset_in_headers"))(message->input, {}));
}

}  // namespace
}  // namespace mailsift::rules
