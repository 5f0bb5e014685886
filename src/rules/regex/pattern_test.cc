// rules/regex/pattern_test.cc — SpamAssassin regexes under PCRE2: flags, Perl's `(?aa)`, octet
// semantics, the 32-bit fallback for patterns too large for link size 2, and the match limits.
#include "rules/regex/pattern.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace mailsift::rules {
namespace {

Pattern Must(std::string_view pattern, std::string_view flags = "",
             const PatternLimits& limits = {}) {
  auto p = Pattern::Compile(pattern, flags, limits);
  EXPECT_TRUE(p) << pattern << ": " << (p ? "" : p.error().message);
  return p ? std::move(*p) : Pattern();
}

TEST(Pattern, FlagI) {
  EXPECT_TRUE(Must("hello", "i").Matches("say HeLLo"));
  EXPECT_FALSE(Must("hello").Matches("say HeLLo"));
}

TEST(Pattern, FlagM) {
  EXPECT_TRUE(Must("^b$", "m").Matches("a\nb\nc"));
  EXPECT_FALSE(Must("^b$").Matches("a\nb\nc"));
  // Without /m, $ still matches before a final newline (Perl and PCRE2 alike).
  EXPECT_TRUE(Must("^b$").Matches("b\n"));
}

TEST(Pattern, FlagS) {
  EXPECT_TRUE(Must("a.b", "s").Matches("a\nb"));
  EXPECT_FALSE(Must("a.b").Matches("a\nb"));
}

TEST(Pattern, FlagX) {
  EXPECT_TRUE(Must("a b  c # a comment", "x").Matches("abc"));
  EXPECT_FALSE(Must("a b c").Matches("abc"));
  EXPECT_TRUE(Must("a b c").Matches("a b c"));
}

TEST(Pattern, OtherPerlFlagsAreIgnored) {
  EXPECT_TRUE(Must("abc", "o").Matches("xabcx"));
  EXPECT_TRUE(Must("ABC", "ip").Matches("abc"));
}

TEST(Pattern, PerlAsciiFlagIsStripped) {
  EXPECT_EQ(StripPerlAsciiFlag("(?aa)foo"), "foo");
  EXPECT_EQ(StripPerlAsciiFlag("x(?aa)y(?aa)z"), "xyz");
  EXPECT_EQ(StripPerlAsciiFlag("(?aai:foo)"), "(?i:foo)");
  EXPECT_EQ(StripPerlAsciiFlag("\\(?aa)"), "\\(?aa)");  // an escaped paren is no group
  EXPECT_EQ(StripPerlAsciiFlag("plain"), "plain");
  EXPECT_TRUE(Must("(?aa)fo{2}").Matches("foo"));
  EXPECT_TRUE(Must("(?aai:FOO)bar").Matches("foobar"));
  EXPECT_FALSE(Must("(?aai:FOO)bar").Matches("fooBAR"));
}

TEST(Pattern, InvalidPatternNamesTheOffset) {
  auto p = Pattern::Compile("ab(c", "");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("offset"), std::string::npos) << p.error().message;
}

TEST(Pattern, BytesAboveAsciiMatchThemselvesAndFoldingIsAsciiOnly) {
  // "café" in UTF-8 is 5 octets; "." is one octet.
  EXPECT_TRUE(Must("^caf\xC3\xA9$").Matches("caf\xC3\xA9"));
  EXPECT_FALSE(Must("^caf.$").Matches("caf\xC3\xA9"));
  EXPECT_TRUE(Must("^caf..$").Matches("caf\xC3\xA9"));
  // Latin-1 é (0xE9) does not fold to É (0xC9), nor UTF-8 é to É.
  EXPECT_FALSE(Must("\xE9", "i").Matches("\xC9"));
  EXPECT_FALSE(Must("\xC3\xA9", "i").Matches("\xC3\x89"));
  EXPECT_TRUE(Must("CAF\xC3\xA9", "i").Matches("caf\xC3\xA9"));
  // \w, \d, \s and \b are ASCII-only.
  EXPECT_FALSE(Must("\\w").Matches("\xC3\xA9"));
  EXPECT_FALSE(Must("\\s").Matches("\xC2\xA0"));
  EXPECT_TRUE(Must("\\bcaf\\b").Matches("caf\xC3\xA9"));  // é is not a word character
  // A class of high bytes.
  EXPECT_TRUE(Must("[\\x80-\\xff]{2}").Matches("x\xC3\xA9"));
  EXPECT_FALSE(Must("[\\x80-\\xff]").Matches("plain ascii"));
}

TEST(Pattern, SearchFromOffsetAndCount) {
  Pattern p = Must("foo");
  size_t b = 0, e = 0;
  ASSERT_TRUE(p.Search("foo bar foo", 1, &b, &e));
  EXPECT_EQ(b, 8u);
  EXPECT_EQ(e, 11u);
  EXPECT_FALSE(p.Search("foo bar foo", 9, &b, &e));
  EXPECT_EQ(p.CountMatches("foo foo foo", 0), 3);
  EXPECT_EQ(p.CountMatches("foo foo foo", 2), 2);
  EXPECT_EQ(p.CountMatches("bar", 0), 0);
  EXPECT_EQ(Must("foofoo").CountMatches("foofoofoofoo", 0), 2);  // matches do not overlap
  // Perl's while (/x*/g) on "abc" matches the empty string at 0, 1, 2 and 3.
  EXPECT_EQ(Must("x*").CountMatches("abc", 0), 4);
}

TEST(Pattern, NamedCaptures) {
  std::vector<std::pair<std::string, std::string>> named;
  Pattern p = Must("from (?<HOST>[a-z.]+) by (?<BY>\\S+)");
  ASSERT_TRUE(p.SearchCaptures("Received: from mail.example.com by mx", &named));
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0], (std::pair<std::string, std::string>{"BY", "mx"}));
  EXPECT_EQ(named[1], (std::pair<std::string, std::string>{"HOST", "mail.example.com"}));
  EXPECT_FALSE(p.SearchCaptures("nothing", &named));
  EXPECT_TRUE(named.empty());
}

// Distinct words "qaaa" … : n of them, as a (?:…|…) alternation between \b.
std::string Words(size_t n, std::vector<std::string>* words) {
  std::string alternation = "\\b(?:";
  for (size_t i = 0; i < n; ++i) {
    std::string w = "q";
    for (size_t k = i, d = 0; d < 4; ++d, k /= 26) w.push_back(static_cast<char>('a' + k % 26));
    if (words) words->push_back(w);
    alternation += (i ? "|" : "") + w;
  }
  return alternation + ")\\b";
}

TEST(Pattern, TooLargeForLinkSize2CompilesWideAndMatchesLikeTheSmallVersion) {
  std::vector<std::string> words;
  const std::string huge = Words(40'000, &words);
  const std::string small = Words(100, nullptr);
  ASSERT_GT(huge.size(), 200'000u);
  auto start = std::chrono::steady_clock::now();
  Pattern wide = Must(huge, "i");
  Pattern narrow = Must(small, "i");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_TRUE(wide.wide());
  EXPECT_FALSE(narrow.wide());

  const std::vector<std::string> subjects = {
      "say " + words[5] + " now",     // in both
      "say " + words[99] + "!",       // in both, last of the small one
      "say " + words[100] + " now",   // only in the huge one
      "say " + words[39'999] + "\n",  // last of the huge one
      "no such word q" + words[5],    // inside a longer word: \b fails
      "nothing here",
      "\xC3\xA9" + words[7] + "\xC3\xA9",  // high bytes are not word characters
      "UPPER " + std::string("Q") + words[3].substr(1),
  };
  const std::vector<bool> in_huge = {true, true, true, true, false, false, true, true};
  const std::vector<bool> in_small = {true, true, false, false, false, false, true, true};
  for (size_t i = 0; i < subjects.size(); ++i) {
    SCOPED_TRACE(subjects[i]);
    EXPECT_EQ(wide.Matches(subjects[i]), in_huge[i]);
    EXPECT_EQ(narrow.Matches(subjects[i]), in_small[i]);
  }
  // Offsets and counts agree with the 8-bit library on the same subject.
  const std::string text = words[1] + " x " + words[2] + " y " + words[3];
  EXPECT_EQ(wide.CountMatches(text, 0), 3);
  EXPECT_EQ(narrow.CountMatches(text, 0), 3);
  size_t wb, we, nb, ne;
  ASSERT_TRUE(wide.Search(text, 2, &wb, &we));
  ASSERT_TRUE(narrow.Search(text, 2, &nb, &ne));
  EXPECT_EQ(wb, nb);
  EXPECT_EQ(we, ne);
  // Bytes >= 0x80 in a wide pattern match themselves only.
  Pattern wide_high = Must(huge + "|caf\xC3\xA9", "i");
  EXPECT_TRUE(wide_high.wide());
  EXPECT_TRUE(wide_high.Matches("un caf\xC3\xA9"));
  EXPECT_FALSE(wide_high.Matches("un CAF\xC3\x89"));
}

TEST(Pattern, CatastrophicBacktrackingStopsAtTheLimit) {
  const std::string subject = std::string(40, 'a') + "b";
  const LimitHitScope scan;
  auto start = std::chrono::steady_clock::now();
  Pattern p = Must("(a+)+$");
  EXPECT_FALSE(p.Matches(subject));
  EXPECT_EQ(p.CountMatches(subject, 0), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(scan.hits(), 2u);
  // A tighter limit gives up sooner; an easy subject is unaffected.
  PatternLimits tight;
  tight.match_limit = 1000;
  Pattern q = Must("(a+)+$", "", tight);
  EXPECT_FALSE(q.Matches(std::string(20, 'a') + "b"));
  EXPECT_EQ(scan.hits(), 3u);
  EXPECT_TRUE(q.Matches("aaa"));
  EXPECT_EQ(scan.hits(), 3u);
}

TEST(Pattern, EachScanCountsItsOwnLimitHits) {
  // Two scans at once on two threads: each counts only its own hits (a process-wide counter
  // diffed around each scan gave each one the other's too).
  Pattern p = Must("(a+)+$");
  const std::string subject = std::string(30, 'a') + "b";
  uint64_t hits[2] = {0, 0};
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      const LimitHitScope scan;
      for (int i = 0; i < (t == 0 ? 3 : 5); ++i) p.Matches(subject);
      hits[t] = scan.hits();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(hits[0], 3u);
  EXPECT_EQ(hits[1], 5u);
  {
    const LimitHitScope outer;
    p.Matches(subject);
    {
      const LimitHitScope inner;
      p.Matches(subject);
      EXPECT_EQ(inner.hits(), 1u);
    }
    EXPECT_EQ(outer.hits(), 1u);
  }
}

}  // namespace
}  // namespace mailsift::rules
