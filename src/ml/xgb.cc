#include "ml/xgb.h"

#include <xgboost/c_api.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kade::ml {
namespace {

absl::Status Check(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("XGBoost ", what, ": ", XGBGetLastError()));
}

}  // namespace

#define RETURN_IF_ERROR_XGB(call, what)      \
  do {                                       \
    absl::Status _s = Check((call), (what)); \
    if (!_s.ok()) return _s;                 \
  } while (0)

std::string XgboostVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return absl::StrCat(major, ".", minor, ".", patch);
}

absl::StatusOr<DMatrix> DMatrix::Dense(const std::vector<float>& values, size_t rows, size_t cols,
                                       const std::vector<std::string>& names,
                                       const std::vector<bool>& categorical) {
  if (values.size() != rows * cols) return absl::InternalError("matrix size mismatch");
  DMatrixHandle h = nullptr;
  if (XGDMatrixCreateFromMat(values.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(),
                             &h) != 0) {
    return Check(-1, "creating a matrix");
  }
  DMatrix m(h);
  std::vector<const char*> name_ptrs, type_ptrs;
  for (size_t j = 0; j < cols; ++j) {
    name_ptrs.push_back(names[j].c_str());
    type_ptrs.push_back(categorical[j] ? "c" : "q");
  }
  if (cols > 0) {
    if (!names.empty()) {
      absl::Status s =
          Check(XGDMatrixSetStrFeatureInfo(h, "feature_name", name_ptrs.data(), cols), "names");
      if (!s.ok()) return s;
    }
    absl::Status s =
        Check(XGDMatrixSetStrFeatureInfo(h, "feature_type", type_ptrs.data(), cols), "types");
    if (!s.ok()) return s;
  }
  return m;
}

DMatrix& DMatrix::operator=(DMatrix&& o) noexcept {
  if (this != &o) {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
    handle_ = std::exchange(o.handle_, nullptr);
  }
  return *this;
}

DMatrix::~DMatrix() {
  if (handle_ != nullptr) XGDMatrixFree(handle_);
}

absl::Status DMatrix::SetLabels(const std::vector<float>& labels) {
  return Check(XGDMatrixSetFloatInfo(handle_, "label", labels.data(), labels.size()), "labels");
}

absl::StatusOr<Booster> Booster::Create(const std::vector<const DMatrix*>& cache) {
  std::vector<DMatrixHandle> hs;
  for (const DMatrix* m : cache) hs.push_back(m->handle());
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(hs.data(), hs.size(), &h) != 0) return Check(-1, "creating a booster");
  return Booster(h);
}

absl::StatusOr<Booster> Booster::FromJson(absl::string_view model_json) {
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) return Check(-1, "creating a booster");
  Booster b(h);
  absl::Status s =
      Check(XGBoosterLoadModelFromBuffer(h, model_json.data(), model_json.size()), "loading");
  if (!s.ok()) return s;
  return b;
}

Booster& Booster::operator=(Booster&& o) noexcept {
  if (this != &o) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    handle_ = std::exchange(o.handle_, nullptr);
  }
  return *this;
}

Booster::~Booster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

absl::Status Booster::SetParam(const std::string& name, const std::string& value) {
  return Check(XGBoosterSetParam(handle_, name.c_str(), value.c_str()),
               absl::StrCat("parameter ", name, "=", value));
}

absl::Status Booster::SetFeatures(const std::vector<std::string>& names,
                                  const std::vector<bool>& categorical) {
  std::vector<const char*> n, t;
  for (size_t j = 0; j < names.size(); ++j) {
    n.push_back(names[j].c_str());
    t.push_back(categorical[j] ? "c" : "q");
  }
  RETURN_IF_ERROR_XGB(XGBoosterSetStrFeatureInfo(handle_, "feature_name", n.data(), n.size()),
                      "feature names");
  return Check(XGBoosterSetStrFeatureInfo(handle_, "feature_type", t.data(), t.size()),
               "feature types");
}

absl::Status Booster::UpdateOneIter(int iteration, const DMatrix& train) {
  return Check(XGBoosterUpdateOneIter(handle_, iteration, train.handle()), "training");
}

absl::StatusOr<std::vector<std::pair<std::string, double>>> Booster::Eval(
    int iteration, const std::vector<const DMatrix*>& sets, const std::vector<std::string>& names) {
  std::vector<DMatrixHandle> hs;
  std::vector<const char*> ns;
  for (size_t i = 0; i < sets.size(); ++i) {
    hs.push_back(sets[i]->handle());
    ns.push_back(names[i].c_str());
  }
  const char* out = nullptr;
  if (XGBoosterEvalOneIter(handle_, iteration, hs.data(), ns.data(), hs.size(), &out) != 0) {
    return Check(-1, "evaluating");
  }
  // "[3]\ttrain-logloss:0.51\tvalid-logloss:0.55"
  std::vector<std::pair<std::string, double>> result;
  for (absl::string_view part : absl::StrSplit(out, '\t')) {
    size_t colon = part.rfind(':');
    if (part.empty() || part[0] == '[' || colon == absl::string_view::npos) continue;
    double v = 0;
    if (absl::SimpleAtod(part.substr(colon + 1), &v)) {
      result.emplace_back(std::string(part.substr(0, colon)), v);
    }
  }
  return result;
}

absl::StatusOr<std::vector<float>> Booster::Predict(const DMatrix& m, int rounds,
                                                    bool margin) const {
  std::string config =
      absl::StrCat(R"({"type": )", margin ? 1 : 0, R"(, "training": false, "iteration_begin": 0, )",
                   R"("iteration_end": )", rounds, R"(, "strict_shape": false})");
  const uint64_t* shape = nullptr;
  uint64_t dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(handle_, m.handle(), config.c_str(), &shape, &dim, &result) !=
      0) {
    return Check(-1, "predicting");
  }
  size_t n = 1;
  for (uint64_t i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(result, result + n);
}

absl::StatusOr<std::vector<float>> Booster::Contributions(const DMatrix& m) const {
  const char* config =
      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false})";
  const uint64_t* shape = nullptr;
  uint64_t dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(handle_, m.handle(), config, &shape, &dim, &result) != 0) {
    return Check(-1, "computing contributions");
  }
  size_t n = 1;
  for (uint64_t i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(result, result + n);
}

absl::StatusOr<Booster> Booster::Slice(int rounds) const {
  BoosterHandle out = nullptr;
  if (XGBoosterSlice(handle_, 0, rounds, 1, &out) != 0) return Check(-1, "slicing");
  return Booster(out);
}

absl::StatusOr<int> Booster::Rounds() const {
  int n = 0;
  if (XGBoosterBoostedRounds(handle_, &n) != 0) return Check(-1, "counting rounds");
  return n;
}

absl::StatusOr<std::string> Booster::SaveJson() const {
  uint64_t len = 0;
  const char* data = nullptr;
  if (XGBoosterSaveModelToBuffer(handle_, R"({"format": "json"})", &len, &data) != 0) {
    return Check(-1, "saving the model");
  }
  return std::string(data, len);
}

absl::StatusOr<std::vector<std::pair<std::string, double>>> Booster::Importance(
    const std::string& type) const {
  std::string config = absl::StrCat(R"({"importance_type": ")", type, R"("})");
  uint64_t n_features = 0, dim = 0;
  const char** features = nullptr;
  const uint64_t* shape = nullptr;
  const float* scores = nullptr;
  if (XGBoosterFeatureScore(handle_, config.c_str(), &n_features, &features, &dim, &shape,
                            &scores) != 0) {
    return Check(-1, "feature importance");
  }
  std::vector<std::pair<std::string, double>> out;
  // One score per feature (for multi-class, the scores of the classes are summed).
  size_t per = n_features > 0 && dim > 0 ? shape[dim - 1] : 1;
  if (dim == 2 && shape[0] == n_features) per = shape[1];
  for (uint64_t i = 0; i < n_features; ++i) {
    double s = 0;
    if (dim == 2 && shape[0] == n_features) {
      for (size_t k = 0; k < per; ++k) s += scores[i * per + k];
    } else {
      s = scores[i];
    }
    out.emplace_back(features[i], s);
  }
  return out;
}

}  // namespace kade::ml
