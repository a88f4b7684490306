// Training of one model from a table: the spec, loading the table into features and labels
// (numeric columns as numbers, categorical ones as codes for XGBoost's native categorical
// splits, missing values as NaN), a seeded (stratified) holdout split, boosting round by
// round with evaluation and early stopping, and the evaluation of the final model on the
// holdout. The encoding (feature order, categories, classes) is part of the result, so
// serving reproduces it exactly. No storage here: the platform's job runner records the run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "data/parsers.h"
#include "data/profile.h"

namespace kade::ml {

// Hyper-parameter search: trials of the same spec with parameters drawn from a space.
struct SearchSpec {
  struct Dimension {
    std::string param;
    std::vector<std::string> values;  // a list (grid, or random choice)
    double min = 0, max = 0;          // a range (random search), when values is empty
    bool integer = false;             // draw whole numbers from the range
    bool log = false;                 // draw uniformly on a log scale
  };
  std::string strategy = "grid";  // grid | random
  std::vector<Dimension> space;
  int trials = 10;        // random search: how many
  std::string metric;     // holdout metric that picks the best trial; default by task
  std::string direction;  // max | min; default by metric
  int parallel = 2;       // trials trained at the same time

  static absl::StatusOr<SearchSpec> FromJson(const Json& j);
  // "max_depth=4,6,8;eta=0.05..0.3" (lists and ranges, ';'-separated).
  static absl::StatusOr<std::vector<Dimension>> ParseSpace(absl::string_view text);
  Json ToJson() const;
  // The parameter sets to try, in order: every combination (grid) or `trials` seeded draws.
  absl::StatusOr<std::vector<std::map<std::string, std::string>>> Trials(uint64_t seed) const;
};

struct TrainSpec {
  std::string dataset;             // dataset name in the project
  std::string version = "latest";  // version ref: "3", "latest", a hash
  std::string target;
  std::vector<std::string> include;  // features; empty = every usable column
  std::vector<std::string> exclude;
  std::string task;                           // binary | multiclass | regression; empty = inferred
  std::string algorithm = "xgboost";          // xgboost | random_forest
  std::map<std::string, std::string> params;  // XGBoost parameters (max_depth, eta, ...)
  int num_rounds = 100;
  int early_stopping_rounds = 10;  // 0 = off
  double holdout = 0.2;            // fraction held out for validation and final metrics
  int folds = 0;                   // k-fold cross-validation on the training rows (0 = none)
  // Versions of the same dataset for validation (early stopping, per-round metrics) and for
  // the final metrics; with either, the whole training version is used for training.
  std::string validation_version, test_version;
  bool stratify = true;  // for classification
  uint64_t seed = 42;
  bool force = false;  // train on a version that failed a blocking check
  std::string experiment = "training";
  std::string run_name;
  std::optional<SearchSpec> search;  // a hyper-parameter search instead of one training

  // Strict: unknown fields and wrong types are errors naming the field.
  static absl::StatusOr<TrainSpec> FromJson(const Json& j);
  Json ToJson() const;
};

// A feature of the model's signature.
struct Feature {
  std::string name;
  ColumnType source_type = ColumnType::kFloat64;
  bool categorical = false;
  std::vector<std::string> categories;  // code i is categories[i]
};

struct Encoding {
  std::vector<Feature> features;
  std::string target;
  std::string task;                  // binary | multiclass | regression
  std::vector<std::string> classes;  // label i is classes[i] (classification)
  std::vector<std::string> null_tokens;
  Json ToJson() const;
};

// Rows of a table turned into a dense feature matrix (row-major) and labels.
struct Table {
  Encoding encoding;
  std::vector<float> x;  // rows x features
  std::vector<float> y;
  std::vector<int64_t> lines;  // source line of each row
  size_t rows() const { return y.size(); }
  size_t cols() const { return encoding.features.size(); }
};

// Chooses the features and the task from the version's schema and profile, checking
// everything that can be checked before reading the data: unknown columns, a target that
// is missing, constant, or has missing values, an empty table. Errors are InvalidArgument.
absl::StatusOr<Encoding> PlanEncoding(const TrainSpec& spec, const Schema& schema,
                                      const Json& profile, const Json& roles,
                                      const std::vector<std::string>& null_tokens);

// A sink that fills a Table while the version's bytes are parsed.
class TableBuilder : public RecordSink {
 public:
  explicit TableBuilder(Encoding encoding);
  // For validation and test tables: the training table's encoding as it is (categories and
  // classes of the training data; an unseen category reads as missing, an unseen class is
  // an error naming the line).
  static TableBuilder WithFixedEncoding(Encoding trained);
  absl::Status OnHeader(const std::vector<std::string>& columns) override;
  absl::Status OnBlock(const RowBlock& block) override;
  absl::StatusOr<Table> Finish();

 private:
  Table table_;
  std::vector<size_t> source_;  // column index of each feature in the file
  size_t target_ = 0;
  std::vector<std::map<std::string, int, std::less<>>> codes_;
  std::map<std::string, int, std::less<>> class_codes_;
  bool fixed_classes_ = false;
};

struct TrainResult {
  Encoding encoding;
  std::string model_json;  // XGBoost's JSON model
  int rounds = 0;          // kept (after early stopping)
  int best_iteration = -1;
  // Per round: ("train/logloss", round, value), ...
  struct Point {
    std::string key;
    int step;
    double value;
  };
  std::vector<Point> history;
  Json evaluation;  // metrics on the holdout (see metrics.h), plus curves
  // k-fold cross-validation on the training rows: {metric: {mean, std, folds: [...]}}.
  Json cv = Json::object();
  std::vector<std::pair<std::string, double>> importance;  // gain, descending
  // Linear models: how raw features become the model's inputs (standardisation, one-hot).
  Json preprocessing = Json::object();
  std::vector<size_t> holdout_rows;      // indices into the table
  std::vector<float> holdout_pred;       // model output on those rows
  std::vector<int64_t> holdout_lines;    // source line of each evaluated row
  std::vector<float> holdout_labels;     // and its label
  std::string evaluated_on = "holdout";  // holdout | validation | test
  size_t train_rows = 0;
};

struct TrainOptions {
  int threads = 2;
  std::function<void(const std::string&)> log;  // progress lines
  const std::atomic<bool>* cancel = nullptr;    // checked between rounds
  // Rows to hold out instead of a random split (cross-validation folds use it).
  std::vector<size_t> holdout_rows;
  // Separate validation and test tables (encoded with the training table's encoding).
  const Table* validation = nullptr;
  const Table* test = nullptr;
};

absl::StatusOr<TrainResult> Train(const TrainSpec& spec, const Table& table,
                                  const TrainOptions& options);

// Checks the spec's XGBoost parameters by training one round on two empty rows, so a bad
// value ("max_depth=deep") is a 400 at submission instead of a failed job.
absl::Status CheckParams(const TrainSpec& spec, const Encoding& encoding);

}  // namespace kade::ml
