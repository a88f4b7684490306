// Evaluation metrics of a trained model on held-out data, written to match scikit-learn's
// definitions (tests compare them): ROC AUC with tied scores averaged, log loss with
// probabilities clipped to [1e-15, 1 - 1e-15], precision/recall/F1 of the positive class at
// a 0.5 threshold, R² as 1 - SS_res / SS_tot. Curves are returned as point lists for the
// UI's charts. Pure functions.
#pragma once

#include <vector>

#include "core/json.h"

namespace kade::ml {

// Binary classification; `prob` is P(label = 1). Returns
// {"auc", "logloss", "accuracy", "precision", "recall", "f1",
//  "confusion_matrix": [[tn, fp], [fn, tp]], "roc": [[fpr, tpr], ...],
//  "pr": [[recall, precision], ...], "calibration": [{"predicted", "observed", "count"}]}.
Json BinaryMetrics(const std::vector<float>& label, const std::vector<float>& prob);

// Multi-class; `prob` is rows x classes, row-major. Returns {"accuracy", "logloss",
// "f1_macro", "confusion_matrix": classes x classes (row = true class)}.
Json MulticlassMetrics(const std::vector<float>& label, const std::vector<float>& prob,
                       int classes);

// Regression. Returns {"rmse", "mae", "r2", "residuals": {mean, std, min, p5, p50, p95, max}}.
Json RegressionMetrics(const std::vector<float>& label, const std::vector<float>& pred);

// ROC AUC alone (Mann-Whitney U with average ranks for ties); NaN with one class only.
double RocAuc(const std::vector<float>& label, const std::vector<float>& score);

}  // namespace kade::ml
