// bayes/classifier.h — SpamAssassin 4.0.1's Bayes classification math.
//
// Mirrors Plugin/Bayes.pm (_compute_prob_for_all_tokens, the token selection of scan(),
// check_bayes, learner_is_scan_available) and Bayes/CombineChi.pm (combine, chi2q), in IEEE
// double with the same operations in the same order, so results equal SpamAssassin's to the
// last bits (tests hold them to 1e-12):
//   - per token, Robinson's f(w): p = s·nn / (n·ns + s·nn), then (S·X + N·p) / (S + N) with
//     N = s + n, S = 0.030, X = 0.538; a token needs s + n >= 1 (2 without hapaxes);
//   - selection: strength |p − 0.5|, descending, the first 150, then those >= 0.346;
//   - combining: chi-square with the message-count priors (bug 3118), frexp rescaling below
//     1e-200, chi2q with wc degrees of freedom halved;
//   - the BAYES_xx bands of 23_bayes.cf, as check_bayes(min, max) tests them.
// Ties at the 150-token cut: SpamAssassin sorts tokens taken in Perl hash order (random per
// process) with a stable merge sort, so which of several equally strong tokens make the cut is
// not deterministic there; here the input order decides (Classify takes tokens sorted by id, as
// Tokenize returns them). TokensTiedAtCut() says when a message is affected.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mailsift::bayes {

inline constexpr double kFwSConstant = 0.030;  // FW_S_CONSTANT
inline constexpr double kFwXConstant = 0.538;  // FW_X_CONSTANT
inline constexpr double kMinProbStrength = 0.346;
inline constexpr size_t kSignificantTokens = 150;  // N_SIGNIFICANT_TOKENS

struct ClassifierOptions {
  bool use_hapaxes = true;      // bayes_use_hapaxes
  uint64_t min_spam_num = 200;  // bayes_min_spam_num
  uint64_t min_ham_num = 200;   // bayes_min_ham_num
};

// A token's counts in the store (0, 0 when it is not there).
struct TokenCounts {
  uint64_t spam = 0;
  uint64_t ham = 0;
};

// The probability of one token, or nullopt when it is not used (too rare, or ns or nn is 0).
std::optional<double> TokenProbability(uint64_t s, uint64_t n, uint64_t ns, uint64_t nn,
                                       bool use_hapaxes = true);

// CombineChi.pm chi2q(x2, halfv).
double Chi2Q(double x2, size_t halfv);
// CombineChi.pm combine(ns, nn, probs), or nullopt (no probabilities, or no messages).
std::optional<double> ChiSquareCombine(uint64_t ns, uint64_t nn, std::span<const double> probs);

// learner_is_scan_available's count check.
bool EnoughLearned(uint64_t ns, uint64_t nn, const ClassifierOptions& options);

struct Classification {
  std::optional<double> score;     // $pms->{bayes_score}; nullopt: Bayes gives no result
  std::vector<size_t> used;        // indexes of the tokens combined (to touch), strongest first
  std::vector<double> used_probs;  // their probabilities, in the same order
  size_t learned = 0;              // BAYESTCLEARNED: tokens with a probability
  size_t hammy = 0, spammy = 0;    // BAYESTCHAMMY / BAYESTCSPAMMY
};

// scan() from the counts of the message's tokens (any order; ties keep it). The score is
// nullopt when too few messages are learned, no token is known, or none is strong enough.
Classification Classify(uint64_t ns, uint64_t nn, std::span<const TokenCounts> counts,
                        const ClassifierOptions& options = {});

// True when tokens of equal strength straddle the 150-token cut, so that SpamAssassin's
// result depends on its hash order.
bool TokensTiedAtCut(uint64_t ns, uint64_t nn, std::span<const TokenCounts> counts,
                     const ClassifierOptions& options = {});

// check_bayes(min, max): (min == 0 || score > min) && score <= max.
bool CheckBayes(double score, double min, double max);

// The BAYES_xx rules of 23_bayes.cf that hit for a score (BAYES_99 and BAYES_999 together).
std::vector<std::string_view> BayesRules(double score);

}  // namespace mailsift::bayes
