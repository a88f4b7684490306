#include "ml/multivariate_drift.h"

#include <algorithm>
#include <cmath>

#include "Eigen/Dense"
#include "absl/strings/str_cat.h"

namespace kade::ml {
namespace {

// Standardised rows (NaN imputed with the reference mean, which standardises to 0).
absl::StatusOr<Eigen::MatrixXd> Standardise(const PcaDriftModel& m,
                                            const std::vector<std::vector<double>>& rows) {
  Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()), m.features);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<int>(rows[i].size()) != m.features) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, " has ", rows[i].size(), " values; expected ", m.features));
    }
    for (int j = 0; j < m.features; ++j) {
      const double v = rows[i][static_cast<size_t>(j)];
      x(static_cast<Eigen::Index>(i), j) = std::isnan(v) ? 0 : (v - m.mean[j]) / m.scale[j];
    }
  }
  return x;
}

double MeanError(const PcaDriftModel& m, const Eigen::MatrixXd& x) {
  if (x.rows() == 0) return 0;
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> v(
      m.components.data(), m.kept, m.features);
  // The standardised reference is centred, so the projection needs no further offset.
  const Eigen::MatrixXd rec = (x * v.transpose()) * v;
  return (x - rec).rowwise().norm().mean();
}

}  // namespace

absl::StatusOr<PcaDriftModel> FitPcaDrift(const std::vector<std::vector<double>>& reference,
                                          double variance, size_t chunk_rows) {
  if (reference.size() < 2 || reference[0].empty()) {
    return absl::InvalidArgumentError("the reference needs at least 2 rows and 1 feature");
  }
  if (!(variance > 0 && variance <= 1)) {
    return absl::InvalidArgumentError("the variance to keep must be in (0, 1]");
  }
  PcaDriftModel m;
  m.features = static_cast<int>(reference[0].size());
  m.mean.assign(static_cast<size_t>(m.features), 0);
  m.scale.assign(static_cast<size_t>(m.features), 0);
  std::vector<double> seen(static_cast<size_t>(m.features), 0);
  for (size_t i = 0; i < reference.size(); ++i) {
    if (static_cast<int>(reference[i].size()) != m.features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reference row ", i, " has ", reference[i].size(), " values; expected ", m.features));
    }
    for (size_t j = 0; j < reference[i].size(); ++j) {
      if (std::isnan(reference[i][j])) continue;
      m.mean[j] += reference[i][j];
      seen[j] += 1;
    }
  }
  for (size_t j = 0; j < m.mean.size(); ++j) m.mean[j] = seen[j] > 0 ? m.mean[j] / seen[j] : 0;
  // Population std over the imputed column (StandardScaler after mean imputation).
  for (const auto& row : reference) {
    for (size_t j = 0; j < row.size(); ++j) {
      const double v = std::isnan(row[j]) ? m.mean[j] : row[j];
      m.scale[j] += (v - m.mean[j]) * (v - m.mean[j]);
    }
  }
  for (double& s : m.scale) {
    s = std::sqrt(s / static_cast<double>(reference.size()));
    if (s == 0) s = 1;
  }
  m.kept = m.features;  // for Standardise's width check
  m.components.assign(static_cast<size_t>(m.features * m.features), 0);
  auto x = Standardise(m, reference);
  if (!x.ok()) return x.status();
  // Principal axes from the covariance's eigenvectors (largest first).
  const Eigen::MatrixXd cov = (x->transpose() * *x) / static_cast<double>(x->rows() - 1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  if (eig.info() != Eigen::Success) return absl::InternalError("eigen decomposition failed");
  const Eigen::VectorXd values = eig.eigenvalues().reverse().cwiseMax(0.0);
  const Eigen::MatrixXd vectors = eig.eigenvectors().rowwise().reverse();
  const double total = values.sum();
  int kept = 0;
  double cumulative = 0;
  while (kept < m.features) {
    cumulative += total > 0 ? values(kept) / total : 1;
    ++kept;
    if (cumulative >= variance - 1e-12) break;
  }
  m.kept = kept;
  m.explained_variance = cumulative;
  m.components.assign(static_cast<size_t>(kept * m.features), 0);
  for (int k = 0; k < kept; ++k) {
    for (int j = 0; j < m.features; ++j) {
      m.components[static_cast<size_t>(k * m.features + j)] = vectors(j, k);
    }
  }
  m.reference_error = MeanError(m, *x);
  // The band: mean ± 3 std of the reference chunks' errors.
  const size_t n = reference.size();
  if (chunk_rows == 0) chunk_rows = std::max<size_t>(1, n / 10);
  std::vector<double> errors;
  for (size_t start = 0; start + chunk_rows <= n; start += chunk_rows) {
    errors.push_back(MeanError(
        m, x->middleRows(static_cast<Eigen::Index>(start), static_cast<Eigen::Index>(chunk_rows))));
  }
  if (errors.empty()) errors.push_back(m.reference_error);
  double mean = 0;
  for (double e : errors) mean += e;
  mean /= static_cast<double>(errors.size());
  double var = 0;
  for (double e : errors) var += (e - mean) * (e - mean);
  m.chunk_mean = mean;
  m.chunk_std = std::sqrt(var / static_cast<double>(errors.size()));
  m.lower = m.chunk_mean - 3 * m.chunk_std;
  m.upper = m.chunk_mean + 3 * m.chunk_std;
  return m;
}

double RowReconstructionError(const PcaDriftModel& m, const double* row) {
  constexpr int kStack = 512;
  double zs[kStack];
  std::vector<double> zh;
  double* z = zs;
  if (m.features > kStack) {
    zh.resize(static_cast<size_t>(m.features));
    z = zh.data();
  }
  double norm = 0;
  for (int j = 0; j < m.features; ++j) {
    z[j] = std::isnan(row[j])
               ? 0
               : (row[j] - m.mean[static_cast<size_t>(j)]) / m.scale[static_cast<size_t>(j)];
    norm += z[j] * z[j];
  }
  // The kept components are orthonormal rows, so |z - V'Vz|^2 = |z|^2 - |Vz|^2: one product
  // instead of two.
  const double* v = m.components.data();
  double kept = 0;
  for (int k = 0; k < m.kept; ++k) {
    const double* c = v + static_cast<ptrdiff_t>(k) * m.features;
    double s = 0;
    for (int j = 0; j < m.features; ++j) s += c[j] * z[j];
    kept += s * s;
  }
  return std::sqrt(std::max(0.0, norm - kept));
}

PcaBand ChunkBand(const std::vector<double>& row_errors, size_t chunk_rows) {
  PcaBand b;
  if (row_errors.empty()) return b;
  chunk_rows = std::clamp<size_t>(chunk_rows, 1, row_errors.size());
  std::vector<double> means;
  for (size_t start = 0; start + chunk_rows <= row_errors.size(); start += chunk_rows) {
    double s = 0;
    for (size_t i = start; i < start + chunk_rows; ++i) s += row_errors[i];
    means.push_back(s / static_cast<double>(chunk_rows));
  }
  for (double e : means) b.mean += e;
  b.mean /= static_cast<double>(means.size());
  double var = 0;
  for (double e : means) var += (e - b.mean) * (e - b.mean);
  b.std = std::sqrt(var / static_cast<double>(means.size()));
  b.lower = b.mean - 3 * b.std;
  b.upper = b.mean + 3 * b.std;
  b.chunks = means.size();
  return b;
}

absl::StatusOr<double> ReconstructionError(const PcaDriftModel& model,
                                           const std::vector<std::vector<double>>& rows) {
  auto x = Standardise(model, rows);
  if (!x.ok()) return x.status();
  return MeanError(model, *x);
}

}  // namespace kade::ml
