// rules/prefilter/hs_expression_test.cc — the translation of rule regexes to Hyperscan expressions:
// what is written for each piece of PCRE2 syntax, what is refused, and the property the prefilter
// rests on: wherever PCRE2 finds a match in a text, Hyperscan finds one of the expressions in that
// text joined among others with "\n" (checked on crafted texts and on random ones).
#include "rules/prefilter/hs_expression.h"

#include <gtest/gtest.h>
#include <hs/hs.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "rules/prefilter/multi_prefilter.h"
#include "rules/regex/pattern.h"

namespace mailsift::rules {
namespace {

std::string One(std::string_view pattern, std::string_view flags = "",
                RelaxLevel level = RelaxLevel::kLight, TextBytes text = TextBytes::kAny) {
  auto e = SupersetExpressions(pattern, flags, level, text);
  if (!e) return "<none>";
  if (e->expressions.size() != 1) return "<split>";
  return e->expressions[0];
}

TEST(SupersetExpressions, LiteralsAndCase) {
  EXPECT_EQ(One("abc"), "abc");
  EXPECT_EQ(One("abc", "i"), "(?i:abc)");
  EXPECT_EQ(One("a.b"), "a[^\\x0a]b");
  EXPECT_EQ(One("a.b", "s"), "a[\\x00-\\xff]b");
  EXPECT_EQ(One("x(?i)ab"), "x(?i:ab)");
  EXPECT_EQ(One("(?i:a)B"), "[Aa]B");
  EXPECT_EQ(One("a(?-i:b)c", "i"), "[Aa]b[Cc]");
  // Case-insensitivity is ASCII only, as with PCRE2's default tables.
  EXPECT_EQ(One("\\xe4", "i"), "\\xe4");
  // Inline flags carry into later branches of the same group.
  EXPECT_EQ(One("(?:a(?i)b|c)"), "[Cc]|a[Bb]");
}

TEST(SupersetExpressions, ClassesAndEscapes) {
  EXPECT_EQ(One("\\d\\s"), "[0-9][\\x09-\\x0d\\x20]");
  EXPECT_EQ(One("[\\w-]"), "[\\x2d0-9A-Z\\x5fa-z]");
  EXPECT_EQ(One("[^a]"), "[^a]");
  EXPECT_EQ(One("[]x]"), "[\\x5dx]");
  EXPECT_EQ(One("[[:digit:]x]"), "[0-9x]");
  EXPECT_EQ(One("[a-c]", "i"), "[A-Ca-c]");
  EXPECT_EQ(One("\\x41\\x{42}\\cA\\o{104}\\012\\t"), "AB\\x01D\\x0a\\x09");
}

TEST(SupersetExpressions, AnchorsAndAssertions) {
  EXPECT_EQ(One("^ab$"), "^ab$");
  EXPECT_EQ(One("\\Aab\\z"), "^ab$");
  EXPECT_EQ(One("\\bab\\b"), "ab");
  EXPECT_EQ(One("a(?=b)c(?!d)(?<=x)(?<!y)e"), "ace");
  EXPECT_EQ(One("a(?>bc)+d"), "a(?:bc)+d");
  EXPECT_EQ(One("ab*+c?+d{1,3}?"), "ab*c?d{1,3}");
  // Higher levels drop anchors (Hyperscan refuses them inside a pattern).
  EXPECT_EQ(One("^a.*^b", "ms", RelaxLevel::kSmall), "a[\\x00-\\xff]*b");
}

TEST(SupersetExpressions, RelaxedRepeatsAndBackreferences) {
  EXPECT_EQ(One("a{2,8}b{9}c{1,100}"), "a{2,8}b{8,}c+");
  EXPECT_EQ(One("a{2,8}b{9}", "", RelaxLevel::kSmall), "a+b+");
  EXPECT_EQ(One("(a)x\\1"), "ax[\\x00-\\xff]*");
  EXPECT_EQ(One("a{,3}"), "a\\x7b\\x2c3\\x7d");  // PCRE2 10.42: a literal "{,3}"
  EXPECT_EQ(One("\\Qa.b\\E+"), "a\\x2eb+");      // the quantifier takes the last character
}

TEST(SupersetExpressions, ExtendedSyntax) {
  EXPECT_EQ(One(" a b # comment\n c ", "x"), "abc");
  EXPECT_EQ(One("[ a]\\ b", "x"), "[\\x20a]\\x20b");
  EXPECT_EQ(One("(?x) a (?-x) b"), "a\\x20b");
}

TEST(SupersetExpressions, UnsupportedOrUselessPatternsGiveNothing) {
  for (const char* p : {"(?(1)a|b)", "\\p{Lu}", "(a)(?1)", "a(*SKIP)b", "\\X", "\\12", "(?R)", "a*",
                        "(?:)", "\\b", "x?|y", "[[.a.]]"}) {
    SCOPED_TRACE(p);
    EXPECT_FALSE(SupersetExpressions(p, "", RelaxLevel::kLight));
  }
}

TEST(SupersetExpressions, LookAlikeLettersCollapseAndLongPatternsSplit) {
  // One letter in ReplaceTags style: ASCII and UTF-8 look-alikes.
  const std::string letter = "(?:[pP]|\\xd1\\x80|\\xcf\\x81|&\\#112;)";
  EXPECT_EQ(One(letter + "ay", "", RelaxLevel::kLight),
            "(?:[Pp]|\\xd1\\x80|\\xcf\\x81|\\x26\\x23112\\x3b)ay");
  // Collapsed: the ASCII letter stays, the UTF-8 look-alikes become any two bytes above 0x7f,
  // the character reference a run of its alphabet.
  EXPECT_EQ(One(letter + "ay", "", RelaxLevel::kSplit),
            "(?:[Pp]|[\\x80-\\xff]{2}|[\\x23\\x2612\\x3b]{6})ay");
  std::string big = "(?:";
  for (int i = 0; i < 400; ++i) big += (i ? "|" : "") + std::string("word") + std::to_string(i);
  big += ")";
  auto whole = SupersetExpressions("\\b" + big + "\\b", "", RelaxLevel::kSplit);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->expressions.size(), 1u);  // written short enough as one
  std::string huge = "(?:";
  for (int i = 0; i < 60; ++i) {
    huge += (i ? "|" : "") + std::string(199, 'a' + i % 26) + static_cast<char>('A' + i / 26);
  }
  huge += ")z";
  EXPECT_FALSE(SupersetExpressions(huge, "", RelaxLevel::kLight));
  auto split = SupersetExpressions(huge, "", RelaxLevel::kSplit);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->expressions.size(), 60u);  // one per branch, without the "z" after them
}

TEST(SupersetExpressions, ForAsciiTextsBranchesNeedingHighBytesDrop) {
  const std::string letter = "(?:[pP\\xde]|\\xd1\\x80|\\xcf\\x81|&\\#112;)";
  EXPECT_EQ(One(letter + "ay", "", RelaxLevel::kLight, TextBytes::kAscii),
            "(?:[Pp]|\\x26\\x23112\\x3b)ay");
  EXPECT_EQ(One("a(?:\\xe4)?b", "", RelaxLevel::kLight, TextBytes::kAscii), "ab");
  EXPECT_EQ(One("a[^b]c", "", RelaxLevel::kLight, TextBytes::kAscii), "a[\\x00-ac-\\x7f]c");
  EXPECT_EQ(One("a\\xe4*b", "", RelaxLevel::kLight, TextBytes::kAscii), "ab");
  // What cannot match an ASCII text gives nothing (the rule then always runs).
  EXPECT_EQ(One("a\\xe4", "", RelaxLevel::kLight, TextBytes::kAscii), "<none>");
  EXPECT_EQ(One("(?:\\xc3\\xa4|\\xe4)+", "", RelaxLevel::kLight, TextBytes::kAscii), "<none>");
  EXPECT_EQ(One("x(?:\\xe4|\\xf6)", "", RelaxLevel::kLight, TextBytes::kAscii), "<none>");
  // Without the restriction nothing changes.
  EXPECT_EQ(One("a(?:\\xe4)?b"), "a\\xe4?b");
}

TEST(RepeatedGroupExpression, GroupWithoutItsOptionalTail) {
  std::string g;
  EXPECT_EQ(RepeatedGroupExpression("(?:ab(?:cd)?){3}", "", RelaxLevel::kLight, &g), 3);
  EXPECT_EQ(g, "ab");
  EXPECT_EQ(RepeatedGroupExpression("(?:ab|c(?:x|yz?)){5}", "i", RelaxLevel::kLight, &g), 5);
  EXPECT_EQ(g, "(?i:ab)|[Cc][XYxy]");
  EXPECT_EQ(RepeatedGroupExpression("(?:ab){2,3}", "", RelaxLevel::kLight, &g), 0);
  EXPECT_EQ(RepeatedGroupExpression("x(?:ab){3}", "", RelaxLevel::kLight, &g), 0);
}

// ---- the superset property ------------------------------------------------------------------

class Hyperscan {
 public:
  explicit Hyperscan(const std::vector<std::string>& expressions) {
    std::vector<const char*> texts;
    std::vector<unsigned> flags, ids;
    for (const std::string& e : expressions) {
      texts.push_back(e.c_str());
      flags.push_back(HS_FLAG_SINGLEMATCH | HS_FLAG_MULTILINE);
      ids.push_back(0);
    }
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(texts.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(texts.size()), HS_MODE_BLOCK, nullptr, &db_,
                         &error) != HS_SUCCESS) {
      error_ = error != nullptr ? error->message : "?";
      if (error != nullptr) hs_free_compile_error(error);
      return;
    }
    hs_alloc_scratch(db_, &scratch_);
  }
  ~Hyperscan() {
    if (scratch_ != nullptr) hs_free_scratch(scratch_);
    if (db_ != nullptr) hs_free_database(db_);
  }
  bool ok() const { return db_ != nullptr; }
  const std::string& error() const { return error_; }
  bool Finds(std::string_view text) const {
    bool found = false;
    hs_scan(
        db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* c) {
          *static_cast<bool*>(c) = true;
          return 0;
        },
        &found);
    return found;
  }

 private:
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
  std::string error_;
};

// Every level Hyperscan accepts must find `subject` (PCRE2 matches it) alone and joined
// between other texts, as the prefilter scans the lines of a body.
void ExpectSuperset(std::string_view pattern, std::string_view flags,
                    const std::vector<std::string>& subjects) {
  if (!PrefilterLibraryProblem().empty()) {
    GTEST_SKIP() << "the Hyperscan library misses matches: " << PrefilterLibraryProblem();
  }
  auto pcre = Pattern::Compile(pattern, flags);
  ASSERT_TRUE(pcre) << pattern;
  int accepted = 0;
  for (RelaxLevel level : {RelaxLevel::kLight, RelaxLevel::kSmall, RelaxLevel::kSplit}) {
    auto ex = SupersetExpressions(pattern, flags, level);
    if (!ex) continue;
    Hyperscan hs(ex->expressions);
    if (!hs.ok()) continue;
    ++accepted;
    for (const std::string& s : subjects) {
      if (!pcre->Matches(s)) continue;
      SCOPED_TRACE(::testing::Message() << "/" << pattern << "/" << flags << " level "
                                        << static_cast<int>(level) << " on \"" << s << "\"");
      EXPECT_TRUE(hs.Finds(s));
      EXPECT_TRUE(hs.Finds("first line\n" + s + "\nlast line\n"));
      EXPECT_TRUE(hs.Finds(std::string(70, 'z') + "\n" + s + "\n"));
    }
    // For ASCII texts only: every ASCII subject PCRE2 matches must still be found.
    auto ascii = SupersetExpressions(pattern, flags, level, TextBytes::kAscii);
    if (!ascii) continue;
    Hyperscan hs_ascii(ascii->expressions);
    if (!hs_ascii.ok()) continue;
    for (const std::string& s : subjects) {
      if (!IsAscii(s) || !pcre->Matches(s)) continue;
      SCOPED_TRACE(::testing::Message() << "ASCII /" << pattern << "/" << flags << " level "
                                        << static_cast<int>(level) << " on \"" << s << "\"");
      EXPECT_TRUE(hs_ascii.Finds(s));
      EXPECT_TRUE(hs_ascii.Finds("first line\n" + s + "\nlast line\n"));
    }
  }
  EXPECT_GT(accepted, 0) << "no level compiles: " << pattern;
}

TEST(SupersetProperty, CraftedSubjects) {
  const std::vector<std::string> subjects = {
      "Free money now",
      "FREE MONEY",
      "free\tmoney",
      "free\x0bmoney",
      "viagra",
      "v1agra",
      "Subject: hi",
      "line\nwith newline",
      "a\xe4"
      "b",
      "A\xc4"
      "B",
      "end.",
      "(comment)",
      "Mon, 1 Jan 2024 10:00:00 -0500 (added by postmaster@example.com)\n",
      "12345",
      "x@y.com",
      "http://example.com/a?b=c",
      "",
      " ",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "&#228; B",
      "\xc3\xa4\xc3\x9f"};
  const std::vector<std::pair<const char*, const char*>> patterns = {
      {"\\bfree money\\b", "i"},
      {"free\\smoney", ""},
      {"v[i1!|]agra", "i"},
      {"^Subject: ", ""},
      {"^line$", "m"},
      {"newline\\z", ""},
      {"a\\xe4b", "i"},
      {"a[\\xc0-\\xff]b", "i"},
      {"end\\.$", ""},
      {"\\(.*\\)\\s*$", ""},
      {"^\\s*(?:(?i:Mon|Tue),\\s)?\\s*\\d{1,2}\\s+(?i:Jan|Feb)\\s+\\d{4}\\s+\\d\\d:\\d\\d(?::"
       "\\d\\d)?"
       "(?:\\s+(?:[+-]\\d{4}|UT))?(?:\\s*\\(.*\\))?\\s*$",
       ""},
      {"^\\d+$", ""},
      {"(\\w)\\1", ""},
      {"(?<=@)y\\.com", ""},
      {"https?://(?!www\\.)[^/]+/", ""},
      {"a{20,}", ""},
      {"(?x) free \\s+ money", "i"},
      {"[[:upper:]]{4}", ""},
      {"\\Qhttp://\\E", ""},
      {"(?:^|\\s)x@", ""},
      {"(?:[aA\\xe4]|\\xc3\\xa4|&\\#228;)\\s?(?:[bB]|\\xc3\\x9f)", "i"},
  };
  for (const auto& [p, f] : patterns) ExpectSuperset(p, f, subjects);
}

TEST(SupersetProperty, RandomSubjects) {
  // Patterns over a small alphabet, checked on many random texts over it: wherever PCRE2
  // matches, Hyperscan must too.
  const std::vector<std::pair<const char*, const char*>> patterns = {
      {"ab+c", ""},         {"a.{2,5}c", ""},
      {"(?:ab|ba){2}", ""}, {"^a\\s*b$", "m"},
      {"a(?!b)", ""},       {"[^ab\\n]{3}", ""},
      {"(a|b)\\1c", ""},    {"\\bab\\b", "i"},
      {"a\\Bb", ""},        {"^c", ""},
      {"c$", ""},           {"A{2,}", "i"},
      {"b.*?c.*a", "s"},    {"(?:a|b c){3,4}", ""},
  };
  std::mt19937 rng(20261130);
  const std::string alphabet = "abcAB \n";
  std::vector<std::string> subjects;
  for (int i = 0; i < 400; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
    subjects.push_back(s);
  }
  for (const auto& [p, f] : patterns) ExpectSuperset(p, f, subjects);
}

}  // namespace
}  // namespace mailsift::rules
