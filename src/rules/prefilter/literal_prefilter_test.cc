// rules/prefilter/literal_prefilter_test.cc — required literals of typical SpamAssassin patterns,
// the exactness of TextIndex, and the property the evaluator relies on: over the real ruleset and
// real messages, a pattern never matches a text in which none of its literals occurs.
#include "rules/prefilter/literal_prefilter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mime/message.h"
#include "mime/uri.h"
#include "rules/cf/cf_parser.h"
#include "rules/eval/eval_input.h"
#include "rules/message/message_text.h"
#include "rules/regex/pattern.h"

namespace mailsift::rules {
namespace {

using Set = std::vector<std::string>;

TEST(RequiredLiterals, PlainWordsAndAnchors) {
  EXPECT_EQ(RequiredLiterals("\\bfree money\\b", "i"), Set{"free money"});
  EXPECT_EQ(RequiredLiterals("^Subject: FREE$", ""), Set{"subject: free"});  // lower-cased
  EXPECT_EQ(RequiredLiterals("\\Aviagra\\z", ""), Set{"viagra"});
  EXPECT_EQ(RequiredLiterals("(?i)viagra", ""), Set{"viagra"});
}

TEST(RequiredLiterals, Alternations) {
  EXPECT_EQ(RequiredLiterals("viagra|cialis", "i"), (Set{"cialis", "viagra"}));
  EXPECT_EQ(RequiredLiterals("\\b(?:viagra|cialis|levitra)\\b", "i"),
            (Set{"cialis", "levitra", "viagra"}));
  // The longer guaranteed run wins over a set with shorter members.
  EXPECT_EQ(RequiredLiterals("(?:cheap|discount) pharmacy", ""), Set{" pharmacy"});
  EXPECT_EQ(RequiredLiterals("(?:a|b)c", ""), Set{});  // nothing of two bytes is required
  // A branch that may be empty, or that requires nothing, voids the alternation.
  EXPECT_EQ(RequiredLiterals("(?:viagra|)", ""), Set{});
  EXPECT_EQ(RequiredLiterals("viagra|\\d+", ""), Set{});
}

TEST(RequiredLiterals, OptionalPartsRequireNothing) {
  EXPECT_EQ(RequiredLiterals("(?:free money)?", ""), Set{});
  EXPECT_EQ(RequiredLiterals("(?:free )?money", ""), Set{"money"});
  EXPECT_EQ(RequiredLiterals("colou?r", ""), Set{"colo"});
  EXPECT_EQ(RequiredLiterals("(?:win)*", ""), Set{});
  EXPECT_EQ(RequiredLiterals("(?:win){0,3}ner", ""), Set{"ner"});
  EXPECT_EQ(RequiredLiterals("(?:winner){2,}", ""), Set{"winner"});
  EXPECT_EQ(RequiredLiterals("x?", ""), Set{});
}

TEST(RequiredLiterals, ClassesAndDotsBreakRuns) {
  EXPECT_EQ(RequiredLiterals("[0-9]+ million dollars", ""), Set{" million dollars"});
  EXPECT_EQ(RequiredLiterals("[a-z]+", "i"), Set{});
  EXPECT_EQ(RequiredLiterals("v.i.a.g.r.a", "i"), Set{});  // single letters only
  EXPECT_EQ(RequiredLiterals("click.{0,20}here", ""), (Set{"click"}));
  EXPECT_EQ(RequiredLiterals("\\d{3}-\\d{4}", ""), Set{});
  EXPECT_EQ(RequiredLiterals("[]x]yz", ""), Set{"yz"});  // "]" first in a class is literal
}

TEST(RequiredLiterals, Escapes) {
  EXPECT_EQ(RequiredLiterals("www\\.example\\.com", ""), Set{"www.example.com"});
  EXPECT_EQ(RequiredLiterals("\\$\\d+ million", ""), Set{" million"});
  EXPECT_EQ(RequiredLiterals("\\x41BC", ""), Set{"abc"});
  EXPECT_EQ(RequiredLiterals("foo\\nbar", ""), Set{"foo\nbar"});
  EXPECT_EQ(RequiredLiterals("\\p{L}ab", ""), Set{});       // unusual syntax: no claim
  EXPECT_EQ(RequiredLiterals("(a)bc\\1", ""), Set{"abc"});  // the group is exact
}

TEST(RequiredLiterals, ReadAsPcre2ReadsThem) {
  // A '{' that starts no quantifier is a literal (PCRE2), as in SpamAssassin's %{…} templates.
  EXPECT_EQ(RequiredLiterals("#%{gb_to_addr}", "i"), Set{"#%{gb_to_addr}"});
  EXPECT_EQ(RequiredLiterals("\\Qa.b\\E+c", ""), Set{"a.b"});
  EXPECT_EQ(RequiredLiterals("ab\\x{63}", ""), Set{"abc"});
}

TEST(ClassWindow, PosixAndOctalClassesAreExact) {
  // [[:xdigit:]] is its PCRE2 byte set (it used to stand for any byte: no window).
  EXPECT_TRUE(ClassWindow::ForPattern("^[[:xdigit:]]{8}$", "m"));
  EXPECT_FALSE(ClassWindow::ForPattern("^[[:^xdigit:]]{8}-", "m"));  // the complement: too wide
}

TEST(RequiredLiterals, ExtendedSyntaxIsNotAnalysed) {
  EXPECT_EQ(RequiredLiterals("free money", "x"), Set{});
  EXPECT_EQ(RequiredLiterals("(?x) free money", ""), Set{});
}

TEST(RequiredLiterals, Lookarounds) {
  EXPECT_EQ(RequiredLiterals("(?<!\\w)foo(?!bar)", ""), Set{"foo"});
  EXPECT_EQ(RequiredLiterals("(?=.*viagra)cheap", ""), Set{"cheap"});
  EXPECT_EQ(RequiredLiterals("(?<=\\$)\\d+", ""), Set{});
  // Named groups are ordinary groups.
  EXPECT_EQ(RequiredLiterals("(?<word>hello) world", ""), Set{"hello world"});
}

TEST(RequiredLiterals, UnbalancedOrUnknownSyntaxGivesNone) {
  EXPECT_EQ(RequiredLiterals("abc)", ""), Set{});
  EXPECT_EQ(RequiredLiterals("(?P<n>abc)", ""), Set{});
  EXPECT_EQ(RequiredLiterals("*abc", ""), Set{});
}

TEST(TextIndex, ExactAnswers) {
  TextIndex index("Get FREE Money now!\nCaf\xC3\xA9 ol\xC3\xA9");
  EXPECT_TRUE(index.MayContain("free money"));
  EXPECT_TRUE(index.MayContain("now!\ncaf"));
  EXPECT_TRUE(index.MayContain("caf\xC3\xA9"));
  EXPECT_FALSE(index.MayContain("free  money"));
  EXPECT_FALSE(index.MayContain("viagra"));
  EXPECT_FALSE(index.MayContain("moneyy"));
  EXPECT_FALSE(index.MayContain("caf\xC3\x89"));  // no Unicode folding
  EXPECT_TRUE(index.MayContainAny({"viagra", "money"}));
  EXPECT_FALSE(index.MayContainAny({"viagra", "cialis"}));
  EXPECT_FALSE(index.MayContainAny({}));
  EXPECT_FALSE(TextIndex("").MayContain("ab"));
}

// Random literals over a small alphabet, so that many occur and many almost occur (their bigrams
// and trigrams do): the answer is exactly "is it a substring of the lower-cased text".
TEST(TextIndex, AgreesWithSubstringSearch) {
  std::mt19937 rng(42);
  const std::string alphabet = "abcAB \n\xC3\xA9";
  std::string text;
  for (int i = 0; i < 3000; ++i) text.push_back(alphabet[rng() % alphabet.size()]);
  std::string lowered = text;
  for (char& c : lowered) c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
  TextIndex index(text);
  int present = 0, absent = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string literal;
    size_t length = kMinLiteral + rng() % 7;
    for (size_t k = 0; k < length; ++k) {
      char c = alphabet[rng() % alphabet.size()];
      literal.push_back((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    const bool occurs = lowered.find(literal) != std::string::npos;
    (occurs ? present : absent)++;
    ASSERT_EQ(index.MayContain(literal), occurs) << ::testing::PrintToString(literal);
  }
  EXPECT_GT(present, 1000);
  EXPECT_GT(absent, 1000);
}

// ---- the prefilter never hides a match: Debian's ruleset on the corpus ---------------------

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(LiteralPrefilterProperty, NeverHidesAMatchOnTheCorpus) {
  const char* corpus = std::getenv("MAILSIFT_CORPUS");
  if (corpus == nullptr || *corpus == '\0') GTEST_SKIP() << "MAILSIFT_CORPUS is not set";
  if (!std::filesystem::exists("/usr/share/spamassassin/50_scores.cf")) {
    GTEST_SKIP() << "Debian's spamassassin package is not installed";
  }
  RulePaths paths = StandardRulePaths({"/var/lib/spamassassin/4.000001", "/usr/share/spamassassin"},
                                      "/etc/spamassassin");
  ParserOptions options;
  options.local_tests_only = true;
  auto ruleset = LoadRuleset(paths, options);
  ASSERT_TRUE(ruleset) << ruleset.error().message;

  struct Checked {
    const Rule* rule;
    Pattern pattern;
    std::vector<std::string> literals;
    std::string request;
  };
  std::vector<Checked> checked;
  for (const Rule& r : ruleset->rules()) {
    if (r.scores[0] == 0 || r.is_eval || !r.capture_templates.empty()) continue;
    if (r.type != RuleType::kBody && r.type != RuleType::kRawBody && r.type != RuleType::kUri &&
        r.type != RuleType::kHeader) {
      continue;
    }
    if (r.type == RuleType::kHeader && r.header.exists) continue;
    std::vector<std::string> literals = RequiredLiterals(r.regex.pattern, r.regex.flags);
    if (literals.empty()) continue;
    auto pattern = Pattern::Compile(r.regex.pattern, r.regex.flags);
    ASSERT_TRUE(pattern) << r.name;
    std::string request = r.header.name;
    for (const std::string& m : r.header.modifiers) request += ":" + m;
    checked.push_back({&r, std::move(*pattern), std::move(literals), std::move(request)});
  }
  ASSERT_GT(checked.size(), 800u);

  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (entry.is_regular_file() && entry.path().extension() == ".eml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  const size_t step = std::max<size_t>(1, files.size() / 300);  // ~300, ham and spam alike

  mime::TldSet tlds(ruleset->SettingWords("util_rb_tld"));
  auto redirectors = mime::RedirectorPatterns::Compile(ruleset->Setting("redirector_pattern"));
  ASSERT_TRUE(redirectors);
  auto config = EvalConfigFromRuleset(*ruleset);

  size_t messages = 0, matches = 0, hidden = 0;
  for (size_t f = 0; f < files.size(); f += step) {
    const std::string raw = ReadFile(files[f]);
    mime::Message message = mime::ParseMessage(raw);
    MessageText text(message, Envelope{}, TextContext{&tlds, &*redirectors});
    EvalInput eval_input(text, *config);
    text.SetRelays(ComputeRelayStrings(eval_input));
    ++messages;
    for (const Checked& c : checked) {
      std::vector<std::string> header_value;
      const std::vector<std::string>* texts = nullptr;
      switch (c.rule->type) {
        case RuleType::kBody:
          texts = &text.BodyLines();
          break;
        case RuleType::kRawBody:
          texts = &text.RawBodyChunks();
          break;
        case RuleType::kUri:
          texts = &text.Uris();
          break;
        default: {
          std::optional<std::string> value = text.Get(c.request);
          if (!value && c.rule->header.if_unset) value = *c.rule->header.if_unset;
          header_value.push_back(value.value_or(std::string()));
          texts = &header_value;
        }
      }
      for (const std::string& t : *texts) {
        if (!c.pattern.Matches(t)) continue;
        ++matches;
        if (!TextIndex(t).MayContainAny(c.literals)) {
          ++hidden;
          ADD_FAILURE() << c.rule->name << " /" << c.rule->regex.pattern.substr(0, 200) << "/"
                        << c.rule->regex.flags << " matches a text without any of its "
                        << c.literals.size()
                        << " literals (first: " << ::testing::PrintToString(c.literals[0])
                        << ") in " << files[f];
        }
      }
    }
  }
  EXPECT_GE(messages, 290u);
  EXPECT_GT(matches, 1000u);  // the property was exercised
  EXPECT_EQ(hidden, 0u);
  std::cout << "[ info     ] " << checked.size() << " prefiltered rules, " << messages
            << " messages, " << matches << " matches checked\n";
}

}  // namespace
}  // namespace mailsift::rules
