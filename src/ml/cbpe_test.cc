#include "ml/cbpe.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "ml/metrics.h"

namespace kade::ml {
namespace {

TEST(IsotonicCalibratorTest, PoolsViolatorsLikeScikitLearn) {
  // sklearn.isotonic.IsotonicRegression(out_of_bounds="clip").fit(x, y) on these points
  // gives [0, 0.5, 0.5, 1, 1] at x = 1..5.
  const auto c = IsotonicCalibrator::Fit({1, 2, 3, 4, 5}, {0, 1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(c(1), 0);
  EXPECT_DOUBLE_EQ(c(2), 0.5);
  EXPECT_DOUBLE_EQ(c(3), 0.5);
  EXPECT_DOUBLE_EQ(c(4), 1);
  EXPECT_DOUBLE_EQ(c(0), 0);    // clipped
  EXPECT_DOUBLE_EQ(c(9), 1);    // clipped
  EXPECT_DOUBLE_EQ(c(3.5), 0.75);  // interpolated
}

// A calibrated model: labels drawn with the score as their probability. CBPE from the
// scores alone lands within 0.02 of the AUC and accuracy realised with the labels (the band
// docs/monitoring.md states), for a reference and a shifted current window.
TEST(CbpeTest, EstimatesTheRealisedFitOfACalibratedModel) {
  std::mt19937_64 rng(11);
  auto draw = [&](int n, double shift, std::vector<double>* s, std::vector<double>* y) {
    std::normal_distribution<double> z(shift, 1.5);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < n; ++i) {
      const double p = 1 / (1 + std::exp(-z(rng)));
      s->push_back(p);
      y->push_back(u(rng) < p ? 1 : 0);
    }
  };
  std::vector<double> rs, ry;
  draw(5000, 0, &rs, &ry);
  const auto cal = IsotonicCalibrator::Fit(rs, ry);
  for (double shift : {0.0, 1.0}) {
    std::vector<double> cs, cy;
    draw(20000, shift, &cs, &cy);
    const CbpeEstimate e = EstimateBinary(cal, Unweighted(cs));
    std::vector<float> lf(cy.begin(), cy.end()), pf(cs.begin(), cs.end());
    const Json realised = BinaryMetrics(lf, pf);
    EXPECT_NEAR(e.auc, realised["auc"].get<double>(), 0.02) << shift;
    EXPECT_NEAR(e.accuracy, realised["accuracy"].get<double>(), 0.02) << shift;
    EXPECT_EQ(e.rows, 20000);
  }
}

}  // namespace
}  // namespace kade::ml
