// Confidence-based performance estimation (NannyML's CBPE) for binary classifiers: when
// ground truth has not arrived, the expected confusion matrix of a window follows from its
// scores once they are calibrated — a calibrated probability p of the positive class is the
// chance that the row is positive. Calibration is isotonic regression (pool adjacent
// violators, as scikit-learn's IsotonicRegression) fitted on the reference's holdout scores
// and labels. Estimated accuracy at threshold 0.5 is the mean of p over rows predicted
// positive and 1 - p over the others; estimated ROC AUC integrates the expected ROC curve
// (expected true and false positives above each score).
#pragma once

#include <vector>

#include "ml/drift.h"

namespace kade::ml {

class IsotonicCalibrator {
 public:
  // Scores and 0/1 labels; empty when they are.
  static IsotonicCalibrator Fit(std::vector<double> scores, const std::vector<double>& labels);
  bool empty() const { return x_.empty(); }
  // The calibrated probability, clipped to the fitted range (scikit-learn's out_of_bounds
  // "clip"), linearly interpolated between fitted points.
  double operator()(double score) const;

 private:
  std::vector<double> x_, y_;
};

struct CbpeEstimate {
  double auc = 0;
  double accuracy = 0;
  double rows = 0;
};
// `scores`: the window's positive-class scores (weighted items of a sketch, or raw values).
CbpeEstimate EstimateBinary(const IsotonicCalibrator& calibration, const WeightedSample& scores,
                            double threshold = 0.5);

}  // namespace kade::ml
