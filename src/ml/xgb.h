// RAII over XGBoost's C API (the library Debian packages, 1.7): a dense matrix with labels
// and feature types, and a booster that trains one round at a time, evaluates, predicts,
// slices, saves its JSON model and reports feature importance. Every C error becomes an
// absl::Status carrying XGBoost's message. Not thread-safe: one booster per training.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kade::ml {

// "1.7.4"
std::string XgboostVersion();

class DMatrix {
 public:
  // `values` is row-major, rows x cols, NaN for missing. `categorical[j]` marks columns whose
  // values are category codes (0, 1, ...), for XGBoost's native categorical splits.
  static absl::StatusOr<DMatrix> Dense(const std::vector<float>& values, size_t rows, size_t cols,
                                       const std::vector<std::string>& names,
                                       const std::vector<bool>& categorical);
  DMatrix(DMatrix&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  DMatrix& operator=(DMatrix&& o) noexcept;
  ~DMatrix();
  absl::Status SetLabels(const std::vector<float>& labels);
  void* handle() const { return handle_; }

 private:
  explicit DMatrix(void* h) : handle_(h) {}
  void* handle_;
};

class Booster {
 public:
  static absl::StatusOr<Booster> Create(const std::vector<const DMatrix*>& cache);
  static absl::StatusOr<Booster> FromJson(absl::string_view model_json);
  Booster(Booster&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  Booster& operator=(Booster&& o) noexcept;
  ~Booster();

  absl::Status SetParam(const std::string& name, const std::string& value);
  // Names and types ("q" numeric, "c" categorical) saved with the model, so importance and
  // other tools name the features.
  absl::Status SetFeatures(const std::vector<std::string>& names,
                           const std::vector<bool>& categorical);
  absl::Status UpdateOneIter(int iteration, const DMatrix& train);
  // XGBoost's evaluation line for the round, parsed: {("valid-logloss", 0.43), ...}.
  absl::StatusOr<std::vector<std::pair<std::string, double>>> Eval(
      int iteration, const std::vector<const DMatrix*>& sets,
      const std::vector<std::string>& names);
  // Predictions on `m`: one value per row (probability, value) or rows x classes for
  // multi-class probabilities, row-major. `rounds` limits the trees used (0 = all).
  // `margin` gives the raw scores before the objective's transform.
  absl::StatusOr<std::vector<float>> Predict(const DMatrix& m, int rounds = 0,
                                             bool margin = false) const;
  // XGBoost's own SHAP values (`pred_contribs`): rows x groups x (features + 1), bias last.
  absl::StatusOr<std::vector<float>> Contributions(const DMatrix& m) const;
  // The first `rounds` rounds as a new booster (early stopping keeps the best round).
  absl::StatusOr<Booster> Slice(int rounds) const;
  absl::StatusOr<int> Rounds() const;
  absl::StatusOr<std::string> SaveJson() const;
  // Feature name -> importance ("gain", "weight", "cover", ...); features never used in a
  // split are absent.
  absl::StatusOr<std::vector<std::pair<std::string, double>>> Importance(
      const std::string& type) const;

 private:
  explicit Booster(void* h) : handle_(h) {}
  void* handle_;
};

}  // namespace kade::ml
