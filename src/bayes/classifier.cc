// bayes/classifier.cc — SpamAssassin 4.0.1's Bayes math; see classifier.h.
#include "bayes/classifier.h"

#include <algorithm>
#include <cmath>

namespace mailsift::bayes {

std::optional<double> TokenProbability(uint64_t s, uint64_t n, uint64_t ns, uint64_t nn,
                                       bool use_hapaxes) {
  if (ns == 0 || nn == 0) return std::nullopt;
  const uint64_t threshold = use_hapaxes ? 1 : 2;
  if (s + n < threshold) return std::nullopt;
  // Perl: ($s * $nn) / ($n * $ns + $s * $nn), integer products (exact below 2^53), one
  // division; then Robinson's f(x) with $FW_S_DOT_X = 0.538 * 0.030.
  const double sd = static_cast<double>(s), nd = static_cast<double>(n);
  const double nsd = static_cast<double>(ns), nnd = static_cast<double>(nn);
  double prob = (sd * nnd) / (nd * nsd + sd * nnd);
  const double robn = sd + nd;
  prob = (kFwXConstant * kFwSConstant + robn * prob) / (kFwSConstant + robn);
  return prob;
}

double Chi2Q(double x2, size_t halfv) {
  const double m = x2 / 2.0;
  double term = std::exp(0 - m);
  double sum = term;
  for (size_t i = 1; i < halfv; ++i) {
    term *= m / static_cast<double>(i);
    sum += term;
  }
  return sum < 1.0 ? sum : 1.0;
}

std::optional<double> ChiSquareCombine(uint64_t ns, uint64_t nn, std::span<const double> probs) {
  const size_t wc = probs.size();
  if (wc == 0) return std::nullopt;
  const uint64_t total = ns + nn;
  if (total == 0) return std::nullopt;
  double s = static_cast<double>(ns) / static_cast<double>(total);
  double h = static_cast<double>(nn) / static_cast<double>(total);
  int sexp = 0, hexp = 0;
  for (double p : probs) {
    s *= 1.0 - p;
    h *= p;
    if (s < 1e-200) {
      int e = 0;
      s = std::frexp(s, &e);
      sexp += e;
    }
    if (h < 1e-200) {
      int e = 0;
      h = std::frexp(h, &e);
      hexp += e;
    }
  }
  const double ln2 = std::log(2.0);
  s = std::log(s) + sexp * ln2;
  h = std::log(h) + hexp * ln2;
  s = 1.0 - Chi2Q(-2.0 * s, wc);
  h = 1.0 - Chi2Q(-2.0 * h, wc);
  return ((s - h) + 1.0) / 2.0;
}

bool EnoughLearned(uint64_t ns, uint64_t nn, const ClassifierOptions& options) {
  return ns >= options.min_spam_num && nn >= options.min_ham_num;
}

namespace {

struct Candidate {
  size_t index;
  double prob;
  double strength;
};

// The tokens with a probability, sorted by strength (descending, stable).
std::vector<Candidate> RankTokens(uint64_t ns, uint64_t nn, std::span<const TokenCounts> counts,
                                  const ClassifierOptions& options) {
  std::vector<Candidate> ranked;
  for (size_t i = 0; i < counts.size(); ++i) {
    std::optional<double> p =
        TokenProbability(counts[i].spam, counts[i].ham, ns, nn, options.use_hapaxes);
    if (p) ranked.push_back(Candidate{i, *p, std::fabs(*p - 0.5)});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Candidate& a, const Candidate& b) { return a.strength > b.strength; });
  return ranked;
}

}  // namespace

Classification Classify(uint64_t ns, uint64_t nn, std::span<const TokenCounts> counts,
                        const ClassifierOptions& options) {
  Classification result;
  if (!EnoughLearned(ns, nn, options)) return result;
  std::vector<Candidate> ranked = RankTokens(ns, nn, counts, options);
  result.learned = ranked.size();
  if (ranked.size() > kSignificantTokens) ranked.resize(kSignificantTokens);
  for (const Candidate& c : ranked) {
    if (c.strength < kMinProbStrength) continue;
    (c.prob < 0.5 ? result.hammy : result.spammy) += 1;
    result.used.push_back(c.index);
    result.used_probs.push_back(c.prob);
  }
  if (result.used_probs.empty()) return result;
  result.score = ChiSquareCombine(ns, nn, result.used_probs);
  return result;
}

bool TokensTiedAtCut(uint64_t ns, uint64_t nn, std::span<const TokenCounts> counts,
                     const ClassifierOptions& options) {
  std::vector<Candidate> ranked = RankTokens(ns, nn, counts, options);
  if (ranked.size() <= kSignificantTokens) return false;
  const Candidate& last = ranked[kSignificantTokens - 1];
  const Candidate& next = ranked[kSignificantTokens];
  // A tie only matters when the tied tokens would be combined (strong enough) and differ.
  return last.strength == next.strength && last.strength >= kMinProbStrength;
}

bool CheckBayes(double score, double min, double max) {
  return (min == 0 || score > min) && score <= max;
}

std::vector<std::string_view> BayesRules(double score) {
  struct Band {
    std::string_view name;
    double min, max;
  };
  static constexpr Band kBands[] = {
      {"BAYES_00", 0.00, 0.01},   {"BAYES_05", 0.01, 0.05}, {"BAYES_20", 0.05, 0.20},
      {"BAYES_40", 0.20, 0.40},   {"BAYES_50", 0.40, 0.60}, {"BAYES_60", 0.60, 0.80},
      {"BAYES_80", 0.80, 0.95},   {"BAYES_95", 0.95, 0.99}, {"BAYES_99", 0.99, 1.00},
      {"BAYES_999", 0.999, 1.00},
  };
  std::vector<std::string_view> hits;
  for (const Band& b : kBands) {
    if (CheckBayes(score, b.min, b.max)) hits.push_back(b.name);
  }
  return hits;
}

}  // namespace mailsift::bayes
