// bayes/classifier_test.cc — the Bayes math against SpamAssassin 4.0.1's values.
//
// testdata/bayes/math.tsv was made by `scripts/bayes-golden.pl math` with the Debian
// spamassassin package (Plugin/Bayes.pm's probability formula, Bayes/CombineChi.pm combine());
// every value must agree to 1e-12. The vectors of next-capabilities §1.1.6 / §1.1.8 are there
// too, and checked below by value.
#include "bayes/classifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mailsift::bayes {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(s);
  while (std::getline(in, field, sep)) out.push_back(field);
  return out;
}

TEST(BayesMath, SpamAssassinVectors) {
  std::ifstream in(fs::path(MAILSIFT_SOURCE_DIR) / "testdata" / "bayes" / "math.tsv");
  ASSERT_TRUE(in) << "testdata/bayes/math.tsv";
  std::string line;
  size_t probs = 0, combines = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = Split(line, '\t');
    if (f[0] == "prob") {
      ASSERT_EQ(f.size(), 6u);
      std::optional<double> p = TokenProbability(std::stoull(f[1]), std::stoull(f[2]),
                                                 std::stoull(f[3]), std::stoull(f[4]));
      ASSERT_TRUE(p.has_value()) << line;
      EXPECT_NEAR(*p, std::stod(f[5]), 1e-12) << line;
      ++probs;
    } else if (f[0] == "combine") {
      ASSERT_EQ(f.size(), 5u);
      std::vector<double> ps;
      for (const std::string& v : Split(f[3], ',')) ps.push_back(std::stod(v));
      std::optional<double> score = ChiSquareCombine(std::stoull(f[1]), std::stoull(f[2]), ps);
      ASSERT_TRUE(score.has_value()) << line.substr(0, 80);
      EXPECT_NEAR(*score, std::stod(f[4]), 1e-12) << line.substr(0, 80);
      ++combines;
    }
  }
  EXPECT_EQ(probs, 10u);
  EXPECT_EQ(combines, 13u);
}

TEST(BayesMath, ReferenceNoteVectors) {
  // next-capabilities §1.1.6 and §1.1.8 (10 digits as printed there).
  EXPECT_NEAR(*TokenProbability(1, 0, 1000, 1000), 0.9865436893, 1e-10);
  EXPECT_NEAR(*TokenProbability(0, 1, 1000, 1000), 0.0156699029, 1e-10);
  EXPECT_NEAR(*TokenProbability(5, 1, 300, 900), 0.9355124378, 1e-10);
  EXPECT_NEAR(*TokenProbability(3, 0, 1000, 4000), 0.9954257426, 1e-10);
  const double a[] = {0.99, 0.98, 0.05}, b[] = {0.9, 0.9, 0.9, 0.9}, c[] = {0.01, 0.02};
  EXPECT_NEAR(*ChiSquareCombine(1000, 1000, a), 0.6385800934, 1e-10);
  EXPECT_NEAR(*ChiSquareCombine(500, 1500, b), 0.9936661301, 1e-10);
  EXPECT_NEAR(*ChiSquareCombine(1000, 1000, c), 0.0824997928, 1e-10);
}

TEST(BayesMath, UnusableTokensAndMessages) {
  EXPECT_FALSE(TokenProbability(0, 0, 100, 100).has_value());         // s + n < 1
  EXPECT_FALSE(TokenProbability(1, 0, 0, 100).has_value());           // no spam learned
  EXPECT_FALSE(TokenProbability(1, 0, 100, 0).has_value());           // no ham learned
  EXPECT_FALSE(TokenProbability(1, 0, 100, 100, false).has_value());  // hapax, hapaxes off
  EXPECT_TRUE(TokenProbability(1, 1, 100, 100, false).has_value());
  EXPECT_FALSE(ChiSquareCombine(10, 10, std::vector<double>{}).has_value());
  EXPECT_FALSE(ChiSquareCombine(0, 0, std::vector<double>{0.9}).has_value());
}

TEST(BayesClassify, NotEnoughLearned) {
  std::vector<TokenCounts> counts = {{50, 0}, {40, 1}};
  EXPECT_FALSE(Classify(199, 1000, counts).score.has_value());
  EXPECT_FALSE(Classify(1000, 199, counts).score.has_value());
  EXPECT_TRUE(Classify(200, 200, counts).score.has_value());
  ClassifierOptions few;
  few.min_spam_num = few.min_ham_num = 1;
  EXPECT_TRUE(Classify(5, 5, counts, few).score.has_value());
}

TEST(BayesClassify, SelectsTheStrongestAboveTheMinimumStrength) {
  // Unknown tokens, neutral ones (strength < 0.346) and 200 strong spam tokens: only the 150
  // strongest are combined, in strength order.
  std::vector<TokenCounts> counts;
  counts.push_back({0, 0});                                 // unknown: no probability
  counts.push_back({10, 10});                               // 0.5: too weak
  for (int i = 0; i < 100; ++i) counts.push_back({20, 0});  // p ≈ 0.99925
  for (int i = 0; i < 100; ++i) counts.push_back({2, 0});   // p ≈ 0.99318, weaker
  counts.push_back({0, 30});                                // strongly hammy
  Classification c = Classify(1000, 1000, counts);
  ASSERT_TRUE(c.score.has_value());
  EXPECT_EQ(c.learned, 202u);
  ASSERT_EQ(c.used.size(), 150u);
  EXPECT_EQ(c.hammy, 1u);
  EXPECT_EQ(c.spammy, 149u);
  // The ham token (strength ≈ 0.49946) comes first, then the 20-count spam tokens (0.49925),
  // then 49 of the 2-count ones (0.49318).
  std::vector<double> probs;
  for (size_t i : c.used)
    probs.push_back(*TokenProbability(counts[i].spam, counts[i].ham, 1000, 1000));
  EXPECT_EQ(probs, c.used_probs);
  for (size_t k = 1; k < probs.size(); ++k) {
    EXPECT_GE(std::fabs(probs[k - 1] - 0.5), std::fabs(probs[k] - 0.5));
  }
  EXPECT_NEAR(*c.score, *ChiSquareCombine(1000, 1000, c.used_probs), 0);
  EXPECT_TRUE(TokensTiedAtCut(1000, 1000, counts));  // the 2-count tokens straddle 150
  counts.resize(150);
  EXPECT_FALSE(TokensTiedAtCut(1000, 1000, counts));
}

TEST(BayesClassify, NothingStrongEnoughGivesNoScore) {
  std::vector<TokenCounts> counts = {{10, 10}, {11, 9}};
  Classification c = Classify(1000, 1000, counts);
  EXPECT_FALSE(c.score.has_value());
  EXPECT_EQ(c.learned, 2u);
  EXPECT_TRUE(c.used.empty());
}

TEST(BayesRules, BandsAsCheckBayes) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(BayesRules(0.0), V{"BAYES_00"});
  EXPECT_EQ(BayesRules(0.01), V{"BAYES_00"});  // score <= max
  EXPECT_EQ(BayesRules(0.0100001), V{"BAYES_05"});
  EXPECT_EQ(BayesRules(0.5), V{"BAYES_50"});
  EXPECT_EQ(BayesRules(0.99), V{"BAYES_95"});
  EXPECT_EQ(BayesRules(0.995), V{"BAYES_99"});
  EXPECT_EQ(BayesRules(0.9995), (V{"BAYES_99", "BAYES_999"}));
  EXPECT_EQ(BayesRules(1.0), (V{"BAYES_99", "BAYES_999"}));
  EXPECT_TRUE(CheckBayes(0.0, 0.0, 0.01));
  EXPECT_FALSE(CheckBayes(0.05, 0.05, 0.20));
}

}  // namespace
}  // namespace mailsift::bayes
