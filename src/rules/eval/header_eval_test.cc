// rules/eval/header_eval_test.cc — SpamAssassin's header evals on hand-made header sets: a hit and
// a miss per function. Dates and addresses were cross-checked with SA 4.0.1's
// Util::parse_rfc822_date / parse_header_addresses; the LOCALPART_IN_SUBJECT, SORTED_RECIPS,
// UNRESOLVED_TEMPLATE, FROM_ILLEGAL_CHARS and DATE_IN_PAST_06_12 cases with `spamassassin -L -t`.
#include "rules/eval/header_eval.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

class HeaderEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EvalSettings s;
    s.freemail_domains = {"gmail.com", "yahoo.com", "hotmail.*", "mail.??"};
    s.valid_tlds = {"com", "net", "org", "uk", "de", "ru", "ms", "us"};
    s.two_level_domains = {"co.uk"};
    s.address_lists = {{"BANKS", {"*@*.barclays.co.uk", "*@hsbc.com"}},
                       {"welcomelist_from", {"friend@example.org"}},
                       {"blocklist_from", {"*@spammer.example"}},
                       {"welcomelist_to", {"me@example.net"}}};
    s.welcomelist_from_rcvd = {{"*@bank.com", "bank.com"}, {"*@ipbank.com", "[10.1.2.3]"}};
    s.def_welcomelist_from_rcvd = {{"news@paypal.com", "paypal.com"}};
    config_ = BuildEvalConfig(s);
  }

  // Runs eval `name` on a message whose header section is `head`.
  bool Eval(std::string_view name, const std::string& head, std::vector<std::string> args = {},
            std::optional<std::string> envfrom = std::nullopt, std::vector<Relay> untrusted = {}) {
    message_.emplace(head + "\n", *config_);
    EvalInput& in = message_->input;
    in.known().envelope_from = envfrom;
    relays_.untrusted = std::move(untrusted);
    in.known().relays = relays_;
    in.known().body_lines = &no_lines_;
    in.known().anchor_uris.emplace();
    const EvalFunction* f = FindEvalIn(HeaderEvals(), name);
    EXPECT_NE(f, nullptr) << name;
    return f != nullptr && (*f)(in, args);
  }

  std::shared_ptr<const EvalConfig> config_;
  std::optional<EvalTestMessage> message_;
  RelayPath relays_;
  const std::vector<std::string> no_lines_;
};

Relay MakeRelay(std::string ip, std::string rdns, std::string envfrom = "") {
  Relay r;
  r.ip = std::move(ip);
  r.rdns = rdns;
  r.lc_rdns = rdns;
  r.envfrom_defined = !envfrom.empty();
  r.envfrom = std::move(envfrom);
  return r;
}

TEST(HeaderAddressesTest, ParsesLikeSpamAssassin) {
  auto addrs = [](std::string_view v) {
    std::vector<std::string> out;
    for (auto& a : ParseHeaderAddresses(v)) out.push_back(a.address.value_or("<undef>"));
    return out;
  };
  EXPECT_EQ(addrs(" \"Foo Bar\" <foo@bar.com>\n"), std::vector<std::string>{"foo@bar.com"});
  EXPECT_EQ(addrs(" foo@bar.com (Foo), Baz <baz@qux.org>"),
            (std::vector<std::string>{"foo@bar.com", "baz@qux.org"}));
  EXPECT_EQ(addrs(" undisclosed-recipients:;"), std::vector<std::string>{});
  EXPECT_EQ(addrs(" list: a@b.com, c@d.com;"), (std::vector<std::string>{"a@b.com", "c@d.com"}));
  EXPECT_EQ(addrs(" <>"), std::vector<std::string>{"<undef>"});
  EXPECT_EQ(addrs(" joe@example.com"), std::vector<std::string>{"joe@example.com"});
  EXPECT_TRUE(addrs("").empty());
}

TEST(ParseRfc822DateTest, Formats) {
  EXPECT_EQ(ParseRfc822Date("Thu, 22 Aug 2002 18:26:25 +0700"), 1030015585);
  // asctime form: SA's date pattern swallows the time, which then reads as midnight.
  EXPECT_EQ(ParseRfc822Date("Thu Aug 22 11:26:25 2002"), 1029974400);
  EXPECT_EQ(ParseRfc822Date("22 Aug 02 11:26:25 GMT"), 1030015585);
  EXPECT_EQ(ParseRfc822Date("22 Aug 2002 06:26:25 EST"), 1030015585);
  EXPECT_EQ(ParseRfc822Date("garbage"), std::nullopt);
  EXPECT_EQ(ParseRfc822Date("0 Aug 2002 06:26:25"), std::nullopt);
  // Day 31 in a 30-day month rolls over to the 1st of the next month.
  EXPECT_EQ(ParseRfc822Date("31 Sep 2002 00:00:00 +0000"), ParseRfc822Date("1 Oct 2002 0:00"));
}

TEST(AddressGlobTest, Matches) {
  EXPECT_TRUE(AddressGlobMatches("*@example.com", "Joe@Example.COM"));
  EXPECT_TRUE(AddressGlobMatches("j?e@example.com", "joe@example.com"));
  EXPECT_FALSE(AddressGlobMatches("*@example.com", "joe@example.com.evil"));
  EXPECT_FALSE(AddressGlobMatches("*@*.example.com", "joe@example.com"));
}

TEST(GetHeaderTest, JoinsDecodedValues) {
  auto section = mime::ParseHeaderSection(
      "Subject: =?utf-8?q?caf=C3=A9?=\nTo: a@b.com\nTo: c@d.com\nCc: e@f.com\n\n");
  EXPECT_EQ(GetHeader(section.headers, "Subject"), "caf\xC3\xA9\n");
  EXPECT_EQ(GetHeader(section.headers, "Subject:raw"), " =?utf-8?q?caf=C3=A9?=\n");
  EXPECT_EQ(GetHeader(section.headers, "ToCc"), "a@b.com\nc@d.com\ne@f.com\n");
  EXPECT_EQ(HeaderAddresses(section.headers, "ToCc"),
            (std::vector<std::string>{"a@b.com", "c@d.com", "e@f.com"}));
  EXPECT_EQ(HeaderAddresses(section.headers, "To", Instance::kLast),
            std::vector<std::string>{"c@d.com"});
}

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

TEST_F(HeaderEvalTest, Freemail) {
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@gmail.com>"));
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@hotmail.de>"));
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@mail.ms>"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: Joe <joe@hotmail.co.uk>"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: support@gmail.com"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: joe@example.com"));
  EXPECT_TRUE(Eval("check_freemail_header", "Reply-To: joe1@yahoo.com", {"Reply-To", "\\d@"}));
  EXPECT_FALSE(Eval("check_freemail_header", "Reply-To: joe@yahoo.com", {"Reply-To", "\\d@"}));
  EXPECT_TRUE(
      Eval("check_freemail_header", "From: a@b.com", {"EnvelopeFrom", "\\d@"}, "x9@gmail.com"));
  EXPECT_TRUE(
      Eval("check_freemail_replyto", "From: a@gmail.com\nReply-To: b@yahoo.com", {"replyto"}));
  EXPECT_FALSE(
      Eval("check_freemail_replyto", "From: a@gmail.com\nReply-To: a@gmail.com", {"replyto"}));
}

TEST_F(HeaderEvalTest, AddressLists) {
  EXPECT_TRUE(Eval("check_from_in_list", "From: x@online.barclays.co.uk", {"BANKS"}));
  EXPECT_FALSE(Eval("check_from_in_list", "From: x@barclays.co.uk", {"BANKS"}));
  EXPECT_FALSE(Eval("check_from_in_list", "From: x@hsbc.com", {"NO_SUCH_LIST"}));
  EXPECT_TRUE(Eval("check_replyto_in_list", "Reply-To: a@HSBC.com", {"BANKS"}));
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: friend@example.org"));
  EXPECT_FALSE(Eval("check_from_in_welcomelist", "From: foe@example.org"));
  EXPECT_TRUE(Eval("check_from_in_blocklist", "From: a@spammer.example"));
  EXPECT_TRUE(Eval("check_to_in_welcomelist", "To: me@example.net"));
  EXPECT_FALSE(Eval("check_to_in_blocklist", "To: me@example.net"));
}

TEST_F(HeaderEvalTest, WelcomelistRcvd) {
  Relay bank = MakeRelay("192.0.2.1", "mx1.bank.com");
  Relay other = MakeRelay("10.1.2.3", "evil.example");
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: a@bank.com", {}, std::nullopt, {bank}));
  EXPECT_FALSE(Eval("check_from_in_welcomelist", "From: a@bank.com", {}, std::nullopt, {other}));
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: a@ipbank.com", {}, std::nullopt, {other}));
  Relay paypal = MakeRelay("192.0.2.9", "mail.paypal.com");
  EXPECT_TRUE(Eval("check_from_in_default_welcomelist", "From: news@paypal.com", {}, std::nullopt,
                   {paypal}));
  EXPECT_FALSE(Eval("check_from_in_default_welcomelist", "From: news@paypal.com", {}, std::nullopt,
                    {other}));
}

TEST_F(HeaderEvalTest, MailfromMatchesRcvd) {
  Relay relay = MakeRelay("192.0.2.1", "mail.example.co.uk");
  EXPECT_TRUE(
      Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@lists.example.co.uk", {relay}));
  EXPECT_FALSE(Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@other.co.uk", {relay}));
  EXPECT_FALSE(Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@example.co.uk"));
}

TEST(GuessEnvelopeFromTest, HeaderFallbacks) {
  auto section = mime::ParseHeaderSection(
      "Return-Path: <bounce@lists.example.com>\nReceived: from x by y; Thu, 22 Aug 2002\n\n");
  EXPECT_EQ(GuessEnvelopeFrom(section.headers, nullptr), "bounce@lists.example.com");
  RelayPath path;
  path.untrusted.push_back(MakeRelay("1.2.3.4", "a.b", "env@relay.example"));
  EXPECT_EQ(GuessEnvelopeFrom(section.headers, &path), "env@relay.example");
  section = mime::ParseHeaderSection(
      "Received: from x by y; Thu, 22 Aug 2002\nReturn-Path: <bounce@lists.example.com>\n\n");
  EXPECT_EQ(GuessEnvelopeFrom(section.headers, nullptr), std::nullopt);
}

TEST(FindHeaderEvalTest, KnowsNames) {
  EXPECT_NE(FindEvalIn(HeaderEvals(), "check_for_shifted_date"), nullptr);
  EXPECT_NE(FindEvalIn(HeaderEvals(), "check_from_in_whitelist"), nullptr);
  EXPECT_EQ(FindEvalIn(HeaderEvals(), "check_rbl"), nullptr);
  EXPECT_GE(EvalNamesIn(HeaderEvals()).size(), 30u);
}

}  // namespace
}  // namespace mailsift::rules
