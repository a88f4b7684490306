// MLflow's model directory description (the `MLmodel` file) and the parts of it Kade uses to
// register an MLflow-logged model: its flavors, the XGBoost flavor's model file, and the
// signature's input columns.
//
// MLmodel is YAML written by PyYAML. The reader takes the subset those files use: block
// mappings by indentation, block sequences of scalars, plain / single-quoted / double-quoted
// scalars (quoted ones may wrap over several lines, as PyYAML folds long strings), and
// comments. Anything else is refused with its line and column.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"
#include "ml/train.h"

namespace kade::ml {

// The YAML document as JSON: mappings are objects, sequences arrays, scalars strings.
absl::StatusOr<Json> ParseMlmodelYaml(absl::string_view text);

struct MlflowModel {
  Json doc;                          // the whole file, as ParseMlmodelYaml gives it
  std::vector<std::string> flavors;  // e.g. "python_function", "xgboost"
  std::string run_id, artifact_path;
  // The XGBoost flavor: the model file relative to the model directory, and its format.
  std::optional<std::string> xgboost_file;
  std::string xgboost_format;
  // Signature inputs as MLflow column specs ({"name", "type"}), when the model has one.
  std::optional<Json> inputs;
  // Tensor-based signatures have no column names; Kade needs names.
  bool tensor_signature = false;
};

absl::StatusOr<MlflowModel> ReadMlmodel(absl::string_view text);

// Kade features from an MLflow column signature: numeric types (double, float, long,
// integer, boolean) become numeric features. Other types (string: XGBoost's model file does
// not keep category names; binary, datetime, arrays, objects) are refused by column name.
absl::StatusOr<std::vector<Feature>> FeaturesFromSignature(const Json& inputs);

}  // namespace kade::ml
