// rules/eval/header_access_test.cc — SpamAssassin's ways of reading headers: the address parser,
// Util::parse_rfc822_date, address globs, PerMsgStatus::get and get_envelope_from's fallbacks.
// Dates and addresses were cross-checked with SA 4.0.1's Util::parse_rfc822_date /
// parse_header_addresses.
#include "rules/eval/header_access.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

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

}  // namespace
}  // namespace mailsift::rules
