#include "base/strings.h"

#include <gtest/gtest.h>

namespace mailsift {
namespace {

TEST(Strings, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("MAIL", "mail"));
  EXPECT_FALSE(EqualsIgnoreCase("MAIL", "mai"));
  EXPECT_FALSE(EqualsIgnoreCase("\xe9", "\xc9"));
  EXPECT_EQ(ToLowerAscii("MiXeD-\xc9"), "mixed-\xc9");
}

TEST(Strings, SplitAndTrim) {
  auto parts = SplitSpaces("  a bb   ccc ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2], "ccc");
  EXPECT_EQ(TrimSpaces(" \tx y\t "), "x y");
}

TEST(Strings, ContainsIgnoreCase) {
  EXPECT_TRUE(ContainsIgnoreCase("Received: from x", "received:"));
  EXPECT_TRUE(ContainsIgnoreCase("abc", ""));
  EXPECT_FALSE(ContainsIgnoreCase("ab", "abc"));
  EXPECT_FALSE(ContainsIgnoreCase("caf\xc9", "caf\xe9"));  // only ASCII letters fold
}

TEST(Strings, IsAscii) {
  EXPECT_TRUE(IsAscii(""));
  EXPECT_TRUE(IsAscii("plain text\n\x7f"));
  EXPECT_TRUE(IsAscii(std::string(1000, 'x')));
  EXPECT_FALSE(IsAscii("caf\xc3\xa9"));
  // A high byte in the word-at-a-time part and in the tail.
  for (size_t at : {0u, 7u, 8u, 15u, 16u, 20u}) {
    std::string s(21, 'a');
    s[at] = '\x80';
    EXPECT_FALSE(IsAscii(s)) << at;
  }
}

TEST(Strings, ParseUnsigned) {
  EXPECT_EQ(ParseUnsigned("52428800"), 52428800u);
  EXPECT_EQ(ParseUnsigned("18446744073709551615"), 18446744073709551615ull);
  EXPECT_FALSE(ParseUnsigned("18446744073709551616"));
  EXPECT_FALSE(ParseUnsigned("-1"));
  EXPECT_FALSE(ParseUnsigned(""));
  EXPECT_FALSE(ParseUnsigned("12a"));
}

TEST(Strings, JsonQuoteEscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01\x1f"), "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(Strings, FindsUnfoldedHeaderValues) {
  std::string message =
      "From: a@b\r\nmessage-id:\r\n <123@example.org>\r\nSubject: x\r\n\r\nMessage-ID: body\r\n";
  EXPECT_EQ(FindHeaderValue(message, "Message-ID"), "<123@example.org>");
  EXPECT_EQ(FindHeaderValue(message, "Subject"), "x");
  EXPECT_EQ(FindHeaderValue(message, "To"), "");
  EXPECT_EQ(FindHeaderValue("Subject: cut sh", "Subject"), "cut sh");
}

}  // namespace
}  // namespace mailsift
