// A model version ready to answer requests: its signature (the features, their types and
// categories, the classes), the preprocessing a linear model needs, and the native engine.
// Requests arrive as JSON records ({"instances": [{...}]}), columns ({"inputs": {"age":
// [...]}}) or a split frame ({"dataframe_split": {"columns": [...], "data": [[...]]}}); every
// problem in them is found and reported together, naming the row and the field.
//
// Immutable after Load; safe to share between threads (endpoints hold it by shared_ptr, so
// a version swap never pulls a model from under a running request).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "ml/train.h"
#include "ml/tree_engine.h"

namespace kade::ml {

// Parses a manifest's "signature" (Encoding::ToJson's shape). InvalidArgument names the field.
absl::StatusOr<Encoding> EncodingFromJson(const Json& j);

struct Batch {
  size_t rows = 0;
  std::vector<float> x;  // rows x features, the training table's encoding (codes, NaN)
};

// One problem of a refused request, by feature, for data-quality monitoring.
struct InputProblem {
  enum class Check { kTypeError, kUnseenCategory, kMissingColumn, kExtraColumn, kOther };
  std::string feature;  // the signature's feature, or the unknown field's name
  Check check = Check::kOther;
};

struct Prediction {
  size_t rows = 0;
  size_t width = 1;           // outputs per row (classes for multi-class probabilities)
  std::vector<float> output;  // rows x width, the engine's output
};

class Servable {
 public:
  // `manifest` is a Kade model manifest (kade_model.json: signature, preprocessing);
  // `model_json` the XGBoost JSON model.
  static absl::StatusOr<std::shared_ptr<const Servable>> Load(const Json& manifest,
                                                              absl::string_view model_json);

  const Encoding& signature() const { return signature_; }
  const TreeModel& engine() const { return *engine_; }

  // Decodes a request body into features. InvalidArgument lists every problem (up to 20).
  absl::StatusOr<Batch> Decode(const Json& body) const;
  // The same from the request's text: well-formed records take a fast path (simdjson, no
  // document tree); anything else goes through Decode for its full list of problems.
  absl::StatusOr<Batch> DecodeText(absl::string_view text) const;
  // Columns given as name -> values (the Open Inference Protocol's inputs, already split).
  absl::StatusOr<Batch> DecodeColumns(const std::vector<std::pair<std::string, const Json*>>& cols,
                                      size_t rows) const;
  // Every problem Decode would report, by feature and kind (all of them, not the first 20).
  std::vector<InputProblem> Inspect(const Json& body) const;
  Prediction Predict(const Batch& batch) const;
  // SHAP values of the margin per row (TreeModel::ShapValues): rows x groups x (features + 1),
  // the bias last, features in the signature's order. FailedPrecondition for models it cannot
  // explain yet (Kade's own linear models, whose inputs are transformed first).
  absl::StatusOr<std::vector<double>> Explain(const Batch& batch) const;
  // {"predictions": [...], "probabilities": [[...]], "classes": [...]} (probabilities and
  // classes for classifiers).
  Json Render(const Prediction& p) const;
  // The same members as JSON text, without the braces ("predictions":[...],...), for answers
  // and log entries written without building a Json tree. Numbers parse back to the same
  // doubles as Render's.
  void AppendRenderedMembers(const Prediction& p, std::string* out) const;
  // The label a prediction row stands for (class name, or the value as text).
  std::string Label(const Prediction& p, size_t row) const;
  // The signature as the Open Inference Protocol describes inputs and outputs.
  Json OipMetadata() const;

 private:
  absl::StatusOr<Batch> DecodeInto(const Json& body, std::vector<InputProblem>* found) const;
  absl::StatusOr<Batch> ColumnsInto(const std::vector<std::pair<std::string, const Json*>>& cols,
                                    size_t rows, std::vector<InputProblem>* found) const;

 public:
 private:
  // The fast path of DecodeText: false when the request needs the careful one.
  bool DecodeRecordsFast(absl::string_view text, Batch* out) const;
  // Appends one value of feature j; false with `problem` set when it does not fit.
  bool Encode(size_t j, const Json& v, float* out, std::string* problem) const;

  Encoding signature_;
  std::shared_ptr<const TreeModel> engine_;
  // Linear models: standardisation per numeric feature and one-hot width per categorical.
  bool linear_ = false;
  std::vector<double> mean_, sd_;
  size_t linear_width_ = 0;
  // Name -> feature index, for request decoding.
  std::vector<std::pair<std::string, size_t>> by_name_;          // sorted
  std::vector<std::vector<std::pair<std::string, int>>> codes_;  // per feature, sorted
};

}  // namespace kade::ml
