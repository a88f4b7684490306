// Multivariate drift by PCA reconstruction error (NannyML's data reconstruction drift): the
// reference is standardised and projected on the principal components that keep a share of
// its variance (65 % by default); drift in the relations between features shows as a larger
// mean reconstruction error, judged against the band mean ± 3 std of the errors of reference
// chunks. Missing values are imputed with the reference mean. Checked against
// scikit-learn's StandardScaler + PCA on fixed data (multivariate_drift_test.cc).
#pragma once

#include <vector>

#include "absl/status/statusor.h"

namespace kade::ml {

struct PcaDriftModel {
  std::vector<double> mean, scale;  // per feature (scale: the population std, 1 if constant)
  std::vector<double> components;   // kept x features, row-major
  int features = 0, kept = 0;
  double explained_variance = 0;  // the share of variance the kept components explain
  double reference_error = 0;     // mean reconstruction error of the whole reference
  double chunk_mean = 0, chunk_std = 0, lower = 0, upper = 0;  // the band from chunks
};

// `reference`: rows of equal width (at least 2 rows and 1 feature). `chunk_rows`: rows per
// reference chunk for the band (0: a tenth of the reference, at least 1).
absl::StatusOr<PcaDriftModel> FitPcaDrift(const std::vector<std::vector<double>>& reference,
                                          double variance = 0.65, size_t chunk_rows = 0);

// The mean reconstruction error of `rows` (rows of the model's width; else InvalidArgument).
absl::StatusOr<double> ReconstructionError(const PcaDriftModel& model,
                                           const std::vector<std::vector<double>>& rows);

// One row's reconstruction error (`row` holds `model.features` values, NaN for missing): no
// allocation, for the prediction log's writer.
double RowReconstructionError(const PcaDriftModel& model, const double* row);

// The band mean ± 3 std of the mean errors of consecutive chunks of `chunk_rows` per-row
// errors (at least 1 row per chunk; the whole list as one chunk when it is shorter): the
// expected range of a window's mean error when the window has `chunk_rows` rows.
struct PcaBand {
  double mean = 0, std = 0, lower = 0, upper = 0;
  size_t chunks = 0;
};
PcaBand ChunkBand(const std::vector<double>& row_errors, size_t chunk_rows);

}  // namespace kade::ml
