// bayes/scan_parity_test.cc — learning and scoring end to end against SpamAssassin 4.0.1.
//
// testdata/bayes/scores.tsv was made by `scripts/bayes-golden.pl scores` with the Debian
// spamassassin package: it learned 28 of the 37 golden messages with sa-learn's code into a
// scratch database (bayes_min_spam_num/ham_num 1) and recorded Plugin::Bayes::scan's score for
// all 37 (9 held out). Here the same messages are learned into an LmdbStore from the token
// sets of the tokenizer (identical to SpamAssassin's, see tokenizer_test), and the classifier's
// score must equal SpamAssassin's to 1e-12 on every message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bayes/classifier.h"
#include "bayes/golden_test_util.h"
#include "bayes/lmdb_store.h"

namespace mailsift::bayes {
namespace {

namespace fs = std::filesystem;

TEST(BayesScanParity, LearnedAndHeldOutScoresEqualSpamAssassins) {
  std::map<std::string, golden::Golden> goldens;
  for (golden::Golden& g : golden::AllGoldens()) goldens.emplace(g.name, std::move(g));
  std::ifstream in(golden::kData / "scores.tsv");
  ASSERT_TRUE(in) << "testdata/bayes/scores.tsv";
  uint64_t want_ns = 0, want_nn = 0;
  std::vector<std::pair<std::string, bool>> learned;
  std::vector<std::pair<std::string, std::optional<double>>> scores;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string kind, a, b;
    std::getline(f, kind, '\t');
    std::getline(f, a, '\t');
    std::getline(f, b, '\t');
    if (kind == "nspam") want_ns = std::stoull(a);
    if (kind == "nham") want_nn = std::stoull(a);
    if (kind == "learned") learned.emplace_back(a, b == "s");
    if (kind == "score") {
      scores.emplace_back(a, b == "undef" ? std::nullopt : std::optional<double>(std::stod(b)));
    }
  }
  ASSERT_EQ(learned.size(), 28u);
  ASSERT_EQ(scores.size(), 37u);

  std::string tmpl = (fs::temp_directory_path() / "mailsift-bayes-parity-XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  Tokenizer tokenizer(golden::SaOptions());
  auto ids_of = [&](const std::string& name) {
    std::vector<TokenId> ids;
    for (const Token& t : tokenizer.Tokenize(goldens.at(name).input)) ids.push_back(t.id);
    return ids;
  };
  {
    auto store = LmdbStore::Open(dir);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    for (const auto& [name, spam] : learned) {
      std::vector<std::string> msgids = {goldens.at(name).msgid};
      auto outcome = (*store)->Learn(spam, msgids, ids_of(name), 1700000000);
      ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
      EXPECT_EQ(*outcome, LearnOutcome::kLearned) << name;
    }
    MessageCounts counts = (*store)->Counts().value();
    EXPECT_EQ(counts.nspam, want_ns);
    EXPECT_EQ(counts.nham, want_nn);

    ClassifierOptions options;
    options.min_spam_num = options.min_ham_num = 1;
    size_t equal = 0, ties = 0, held_out = 0;
    double worst = 0;
    for (const auto& [name, want] : scores) {
      std::vector<TokenId> ids = ids_of(name);
      std::vector<StoredToken> stored = (*store)->Lookup(ids).value();
      std::vector<TokenCounts> tc;
      for (const StoredToken& s : stored) tc.push_back(TokenCounts{s.spam, s.ham});
      Classification c = Classify(counts.nspam, counts.nham, tc, options);
      ties += TokensTiedAtCut(counts.nspam, counts.nham, tc, options);
      held_out += std::none_of(learned.begin(), learned.end(),
                               [&](const auto& l) { return l.first == name; });
      ASSERT_EQ(c.score.has_value(), want.has_value()) << name;
      if (!want) {
        ++equal;
        continue;
      }
      double diff = std::fabs(*c.score - *want);
      worst = std::max(worst, diff);
      if (diff <= 1e-12) {
        ++equal;
      } else {
        ADD_FAILURE() << name << ": " << *c.score << " vs SpamAssassin's " << *want;
      }
      EXPECT_EQ(BayesRules(*c.score), BayesRules(*want)) << name;
    }
    std::printf(
        "scores: %zu of %zu equal to SpamAssassin's within 1e-12 (%zu held out, worst "
        "difference %.3g, %zu with equally strong tokens at the 150 cut)\n",
        equal, scores.size(), held_out, worst, ties);
    EXPECT_EQ(equal, scores.size());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mailsift::bayes
