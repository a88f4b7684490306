#include "ml/drift.h"

#include <cmath>

#include "gtest/gtest.h"

namespace kade::ml {
namespace {

// Fixed samples (numpy.random.default_rng(7): normal(0, 1) x 60, normal(0.4, 1.3) x 45,
// normal(0, 1) x 50, rounded to 4 decimals) and the values SciPy 1.10 (Debian 12) gives for
// them, printed by tests/data/drift_reference.py.
const std::vector<double> kRef = {
    0.0012,  0.2987,  -0.2741, -0.8906, -0.4547, -0.9916, 0.0601,  1.3402,  -0.4922, -0.6205,
    0.4898,  0.3569,  0.1054,  -0.9305, -0.0293, 0.6953,  -1.3442, -0.4576, -1.9012, -1.2895,
    -1.8417, -0.2351, -1.2674, 0.2713,  0.1568,  -0.1869, -2.5168, -0.5387, -0.0485, 0.1133,
    -1.5301, -0.4778, -0.9785, -0.8088, 1.0609,  -0.8075, -0.0325, 0.8844,  -0.5836, -0.1117,
    0.1105,  0.0638,  -1.2251, 0.0761,  1.3588,  -1.5471, 0.8594,  0.1194,  -0.6415, 2.0004,
    0.7623,  -1.1993, 0.0745,  0.5767,  -0.1888, 0.6829,  -0.0665, 0.6672,  1.4385,  -0.6757};
const std::vector<double> kShifted = {
    0.6641,  -0.2023, 0.5654,  -1.1434, -0.3531, 0.1449,  1.5684, 1.8888,  -1.3206,
    -0.633,  1.241,   -2.1901, -0.2021, 0.2735,  2.0341,  1.2962, -0.0254, -0.0791,
    0.0747,  2.3806,  -0.1564, 0.0052,  0.8584,  0.243,   0.1435, -1.0483, 0.385,
    -0.1767, 1.916,   1.249,   0.3686,  1.2689,  -0.0418, 1.7678, 0.393,   1.1584,
    -1.2782, 0.8507,  -1.7947, -2.2459, 0.0042,  -0.7699, 0.6133, 3.3182,  -0.6812};
const std::vector<double> kSame = {
    -0.6239, 0.2054,  0.493,   -0.1764, -0.2059, 0.7025,  0.5199,  -1.0337, -0.0792, 0.0353,
    -1.0545, 0.2598,  -0.858,  0.9721,  0.1927,  0.0893,  -0.591,  -0.1186, -1.9977, -1.1314,
    0.3628,  -2.1286, 0.8466,  -1.7461, 0.7567,  -0.8455, 0.779,   0.131,   -1.5368, 1.2491,
    1.4417,  -0.0658, -0.2739, -0.1599, -0.9752, 1.0986,  -0.5429, -0.0512, -0.7933, -0.6261,
    -1.2777, 1.2571,  -0.1541, 0.9659,  0.0133,  -0.6944, -0.3267, -0.5602, 0.008,   -0.3753};

TEST(DriftTest, KolmogorovSmirnovMatchesScipy) {
  auto shifted = KolmogorovSmirnov(kRef, kShifted);
  EXPECT_NEAR(shifted.statistic, 0.25, 1e-12);            // scipy.stats.ks_2samp
  EXPECT_NEAR(shifted.p_value, 0.080362838028932, 1e-9);  // scipy.special.kolmogorov
  auto same = KolmogorovSmirnov(kRef, kSame);
  EXPECT_NEAR(same.statistic, 0.06666666666666665, 1e-12);
  EXPECT_NEAR(same.p_value, 0.999726438583916, 1e-9);
  EXPECT_NEAR(KolmogorovSurvival(0.5), 0.9639452436648751, 1e-12);
  EXPECT_NEAR(KolmogorovSurvival(1.0), 0.26999967167735456, 1e-12);
  EXPECT_NEAR(KolmogorovSurvival(2.0), 0.0006709252557796953, 1e-14);
  // NaNs are ignored; empty samples are no evidence of drift.
  std::vector<double> with_nan = kShifted;
  with_nan.push_back(std::nan(""));
  EXPECT_DOUBLE_EQ(KolmogorovSmirnov(kRef, with_nan).statistic, shifted.statistic);
  EXPECT_EQ(KolmogorovSmirnov({}, kRef).p_value, 1);
}

TEST(DriftTest, WassersteinPsiAndJensenShannonMatchScipy) {
  // scipy.stats.wasserstein_distance(ref, cur) / numpy.std(ref)
  EXPECT_NEAR(NormalizedWasserstein(kRef, kShifted), 0.5779815202245269, 1e-12);
  EXPECT_NEAR(NormalizedWasserstein(kRef, kSame), 0.10808522950877428, 1e-12);
  EXPECT_EQ(NormalizedWasserstein({1, 1, 1}, {1, 1}), 0);
  EXPECT_TRUE(std::isinf(NormalizedWasserstein({1, 1, 1}, {2})));
  // Reference deciles (numpy.quantile) as bins.
  const std::vector<double> edges = QuantileEdges(kRef, 10);
  const std::vector<double> want = {-1.2949700000000002,
                                    -0.9400999999999999,
                                    -0.6268,
                                    -0.45586,
                                    -0.0891,
                                    0.061579999999999996,
                                    0.11512999999999998,
                                    0.5071800000000003,
                                    0.8619000000000001};
  ASSERT_EQ(edges.size(), want.size());
  for (size_t i = 0; i < edges.size(); ++i) EXPECT_NEAR(edges[i], want[i], 1e-12) << i;
  const auto r = BinShares(kRef, edges);
  EXPECT_NEAR(Psi(r, BinShares(kShifted, edges)), 1.0269380808734696, 1e-12);
  EXPECT_NEAR(Psi(r, BinShares(kSame, edges)), 0.17682028620967785, 1e-12);
  // scipy.spatial.distance.jensenshannon
  EXPECT_NEAR(JensenShannon(r, BinShares(kShifted, edges)), 0.2733043859981577, 1e-12);
  EXPECT_NEAR(JensenShannon(r, BinShares(kSame, edges)), 0.14327255096933272, 1e-12);
  EXPECT_EQ(JensenShannon(r, r), 0);
}

TEST(DriftTest, CategoricalStatisticsMatchScipy) {
  // Seen categories only: scipy.stats.chisquare(f_obs, f_exp = reference shares * n).
  auto chi = ChiSquare(Shares({50, 30, 20}), {45, 35, 30});
  EXPECT_NEAR(chi.statistic, 4.848484848484849, 1e-9);
  EXPECT_NEAR(chi.p_value, 0.08854517331628879, 1e-12);
  EXPECT_EQ(chi.degrees_of_freedom, 2);
  EXPECT_NEAR(Psi(Shares({50, 30, 20}), Shares({45, 35, 30})), 0.041869339828164466, 1e-12);
  // A category the reference never saw: aligned on the union, expected at a floor share.
  auto aligned = AlignCategories({{"a", 50}, {"b", 30}, {"c", 20}},
                                 {{"a", 30}, {"b", 30}, {"c", 25}, {"d", 15}});
  ASSERT_EQ(aligned.categories, (std::vector<std::string>{"a", "b", "c", "d"}));
  const auto rs = Shares(aligned.reference_counts), cs = Shares(aligned.current_counts);
  auto unseen = ChiSquare(rs, aligned.current_counts);
  EXPECT_NEAR(unseen.statistic, 22481.507925, 1e-6);
  EXPECT_LT(unseen.p_value, 1e-12);
  EXPECT_NEAR(JensenShannon(rs, cs), 0.2569267918967797, 1e-12);
  EXPECT_NEAR(LInfinity(rs, cs), 0.2, 1e-12);
  // scipy.special.gammaincc on both of its branches.
  EXPECT_NEAR(GammaQ(2.5, 3.7), 0.1925504330793957, 1e-13);
  EXPECT_NEAR(GammaQ(0.5, 0.2), 0.5270892568655381, 1e-13);
  EXPECT_NEAR(GammaQ(10, 30), 7.121750862815593e-06, 1e-17);
}

TEST(DriftTest, WeightedSamplesAgreeWithTheirExpansion) {
  // A sketch's items stand for several values each: weights must act as repetitions.
  const WeightedSample w = Weighted({{3, 1}, {1, 2}, {2, 1}});
  const WeightedSample u = Unweighted({1, 1, 2, 3});
  const WeightedSample c = Unweighted({2, 2.5, 4});
  EXPECT_EQ(KolmogorovSmirnov(w, c, 4, 3).statistic, KolmogorovSmirnov(u, c, 4, 3).statistic);
  EXPECT_DOUBLE_EQ(NormalizedWasserstein(w, c), NormalizedWasserstein(u, c));
  EXPECT_EQ(BinShares(w, {1.5, 2.5}), BinShares(std::vector<double>{1, 1, 2, 3}, {1.5, 2.5}));
  EXPECT_EQ(w.total, 4);
}

}  // namespace
}  // namespace kade::ml
