// Drift statistics between a reference sample and a current one (docs/monitoring.md):
// two-sample Kolmogorov–Smirnov (statistic and asymptotic p-value), Wasserstein distance
// normalised by the reference's standard deviation, PSI on reference-quantile bins and
// Jensen–Shannon distance for numeric features; chi-square goodness of fit (p-value),
// Jensen–Shannon, PSI and L-infinity for categorical ones. Pure functions on plain vectors;
// the reference for each statistic's definition is the SciPy function named with it, and
// the unit tests check Kade's values against SciPy's on fixed data (src/ml/drift_test.cc).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/sketches.h"

namespace kade::ml {

// A sample as sorted (value, weight) pairs: raw values have weight 1; a KLL sketch's retained
// items carry the weights of the values they stand for (data/sketches.h).
struct WeightedSample {
  std::vector<std::pair<double, double>> items;  // sorted by value
  double total = 0;                              // the sum of the weights
};
WeightedSample Unweighted(std::vector<double> values);  // NaNs dropped
WeightedSample Weighted(std::vector<std::pair<double, double>> items);
// A KLL sketch's retained items with their weights.
WeightedSample FromSketch(const KllSketch& sketch);

struct KsResult {
  double statistic = 0;  // sup |F_ref - F_cur| (scipy.stats.ks_2samp's statistic)
  // From Kolmogorov's limiting distribution, P(K > sqrt(nm / (n + m)) D)
  // (scipy.special.kolmogorov). SciPy's ks_2samp uses exact or finite-n distributions, which
  // this approaches as the samples grow (monitoring windows hold thousands of rows); for tens
  // of rows it is somewhat larger (more conservative).
  double p_value = 1;
};
// NaNs are ignored. Empty samples give statistic 0, p-value 1.
KsResult KolmogorovSmirnov(std::vector<double> reference, std::vector<double> current);
// The same on weighted samples; `n_reference` and `n_current` are the rows they stand for
// (the p-value's sample sizes).
KsResult KolmogorovSmirnov(const WeightedSample& reference, const WeightedSample& current,
                           double n_reference, double n_current);

// The Kolmogorov distribution's survival function, P(K > x) (scipy.special.kolmogorov).
double KolmogorovSurvival(double x);

// scipy.stats.wasserstein_distance(ref, cur) / numpy.std(ref); 0 when both are constant and
// equal, +infinity when only the reference is constant and they differ.
double NormalizedWasserstein(std::vector<double> reference, std::vector<double> current);
double NormalizedWasserstein(const WeightedSample& reference, const WeightedSample& current);

// Shares of `values` in bins with these inner edges (k edges make k + 1 bins; a value equal
// to an edge goes to the bin above it).
std::vector<double> BinShares(const std::vector<double>& values, const std::vector<double>& edges);
std::vector<double> BinShares(const WeightedSample& sample, const std::vector<double>& edges);
// The inner edges of `bins` equal-frequency bins of the reference (its quantiles), repeated
// edges removed.
std::vector<double> QuantileEdges(std::vector<double> reference, int bins = 10);

// Population stability index: sum (c - r) * ln(c / r) over the bins, shares below 1e-4 taken
// as 1e-4 (as Evidently does).
double Psi(const std::vector<double>& reference_shares, const std::vector<double>& current_shares);
// scipy.spatial.distance.jensenshannon(r, c) (natural log): the square root of the
// Jensen–Shannon divergence of the two distributions (each normalised to sum 1).
double JensenShannon(const std::vector<double>& reference_shares,
                     const std::vector<double>& current_shares);
// max |r - c| over the categories.
double LInfinity(const std::vector<double>& reference_shares,
                 const std::vector<double>& current_shares);

// scipy.stats.chisquare(f_obs=current_counts, f_exp=reference_shares * sum(current_counts)):
// the statistic and its p-value with k - 1 degrees of freedom. Categories the reference never
// saw get a tiny expected share so that they count strongly, as unseen values should.
struct ChiSquareResult {
  double statistic = 0;
  double p_value = 1;
  int degrees_of_freedom = 0;
};
ChiSquareResult ChiSquare(const std::vector<double>& reference_shares,
                          const std::vector<double>& current_counts);

// The regularised upper incomplete gamma function Q(a, x) (scipy.special.gammaincc).
double GammaQ(double a, double x);

// Category counts of two samples aligned on the union of their categories (sorted).
struct AlignedCategories {
  std::vector<std::string> categories;
  std::vector<double> reference_counts, current_counts;
};
AlignedCategories AlignCategories(const std::map<std::string, int64_t>& reference,
                                  const std::map<std::string, int64_t>& current);
std::vector<double> Shares(const std::vector<double>& counts);

// A feature's drift verdict with a chosen method: `value` is the method's figure (a p-value
// for ks and chisquare, where drift is value < threshold; a distance for the others, where
// drift is value >= threshold); `stats` holds every statistic computed alongside.
struct DriftTest {
  std::string method;
  double threshold = 0;
  double value = 0;
  bool drifted = false;
  std::map<std::string, double> stats;
};
// The methods that apply to numeric and to categorical features.
bool IsNumericMethod(const std::string& method);      // ks wasserstein psi jensenshannon
bool IsCategoricalMethod(const std::string& method);  // chisquare jensenshannon psi l_infinity
bool IsPValueMethod(const std::string& method);       // ks chisquare
// Evidently's defaults: a reference of at most 1,000 rows is tested (KS at p < 0.05 for a
// numeric feature with more than 5 distinct values, else chi-square); a larger one is
// measured (normalised Wasserstein for numeric, Jensen–Shannon for categorical, >= 0.1).
std::string DefaultDriftMethod(bool numeric, double reference_rows, double distinct);
double DefaultDriftThreshold(const std::string& method);

// Numeric drift between weighted samples standing for `n_reference` and `n_current` rows;
// PSI and Jensen–Shannon on bins with inner `edges` (the reference's deciles). `method`
// empty: the default. A categorical method here (chisquare on a low-cardinality numeric
// feature) compares the samples' value counts.
DriftTest NumericDrift(const WeightedSample& reference, const WeightedSample& current,
                       double n_reference, double n_current, const std::vector<double>& edges,
                       std::string method, double threshold);
// Categorical drift between category counts.
DriftTest CategoricalDrift(const std::map<std::string, int64_t>& reference,
                           const std::map<std::string, int64_t>& current, std::string method,
                           double threshold);

}  // namespace kade::ml
