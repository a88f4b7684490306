// Kade's own predictor for XGBoost models: loads the JSON model format XGBoost writes
// (gbtree, dart and gblinear boosters; numeric and categorical splits; missing values) into
// a compact layout and predicts the same numbers XGBoost's CPU predictor does. It mirrors
// XGBoost's arithmetic (inputs and sums in float, tree order, the objective's transform in
// float), so results agree to the last bit or nearly; tests hold it to 1e-6 relative.
//
// Layout: each tree is a flat array of 12-byte nodes numbered so that a node's children are
// adjacent (right = left + 1), so a step is one load, one compare and one add. Rows are
// predicted in blocks so a tree's nodes stay in L1 while the block walks it.
//
// A TreeModel is immutable after loading and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kade::ml {

class TreeModel {
 public:
  // Parses XGBoost's JSON model (1.x, including its bare NaN/Infinity tokens). Errors are
  // InvalidArgument naming what is wrong (unknown objective, inconsistent tree, ...).
  static absl::StatusOr<std::shared_ptr<const TreeModel>> FromXgboostJson(absl::string_view json);

  int num_features() const { return num_features_; }
  // Outputs per row: the number of classes for multi:softprob, else 1.
  int num_outputs() const { return num_outputs_; }
  int num_groups() const { return num_groups_; }
  size_t num_trees() const { return tree_offset_.size(); }
  const std::string& objective() const { return objective_; }
  const std::string& booster() const { return booster_; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  // "q"/"float"/"int" numeric, "c" categorical, as saved with the model (may be empty).
  const std::vector<std::string>& feature_types() const { return feature_types_; }

  // `x` is row-major, rows x num_features(), NaN for a missing value. `out` gets rows x
  // num_groups() raw scores (margins).
  void PredictMargin(const float* x, size_t rows, float* out) const;
  // The objective's output: probabilities (binary: P(class 1); softprob: rows x classes),
  // class indices (multi:softmax), or values (regression). `out` holds rows x
  // num_outputs().
  void Predict(const float* x, size_t rows, float* out) const;

  // Exact SHAP values of the margin (ml/tree_shap.cc): `out` gets rows x num_groups() x
  // (num_features() + 1) values, the last of each group the bias (the expected margin), as
  // XGBoost's `pred_contribs`; per row and group they add up to PredictMargin. Trees: exact
  // TreeSHAP over the node covers (missing values follow the default branch, categorical
  // splits their category sets); gblinear: weight x value. FailedPrecondition for a model
  // saved without covers.
  absl::Status ShapValues(const float* x, size_t rows, double* out) const;

 private:
  void ShapTree(size_t tree, const float* row, double* phi) const;
  uint32_t HotChild(size_t tree, uint32_t node, const float* row) const;
  struct Node {
    float value;       // split threshold, or the leaf's value
    uint32_t feature;  // feature index | kDefaultLeft | kCategorical
    int32_t left;      // index of the left child within the tree (right = left + 1); 0 = leaf
  };
  static constexpr uint32_t kDefaultLeft = 1u << 31;
  static constexpr uint32_t kCategorical = 1u << 30;
  static constexpr uint32_t kFeatureMask = kCategorical - 1;

  enum class Transform { kIdentity, kSigmoid, kExp, kSoftmax, kArgmax, kHinge };

  template <bool kHasCategorical>
  void PredictTreesBlock(const float* x, size_t rows, float* out, bool any_missing) const;
  void PredictLinear(const float* x, size_t rows, float* out) const;
  bool CategoryGoesRight(size_t node_index, float v) const;

  std::string booster_;  // gbtree | dart | gblinear
  std::string objective_;
  Transform transform_ = Transform::kIdentity;
  int num_features_ = 0, num_groups_ = 1, num_outputs_ = 1;
  float base_margin_ = 0;
  std::vector<std::string> feature_names_, feature_types_;
  // Trees.
  std::vector<Node> nodes_;
  std::vector<float> cover_;           // per node: the training rows' hessian sum (empty: unknown)
  std::vector<double> mean_;           // per node: the cover-weighted mean of its leaves (SHAP)
  std::vector<uint32_t> tree_offset_;  // first node of each tree
  std::vector<int> tree_group_;
  // Shallow trees without categorical splits are also kept as perfect binary trees in heap
  // order (children of i at 2i+1, 2i+2; a leaf above the bottom is copied down), so a row
  // takes exactly `depth` branch-free steps and the rows of a block run independently.
  struct Perfect {
    uint32_t depth = 0, node_offset = 0, leaf_offset = 0;
  };
  static constexpr uint32_t kMaxPerfectDepth = 10;
  std::vector<Perfect> perfect_;  // per tree; depth 0 with a non-leaf root = not perfect
  std::vector<bool> is_perfect_;
  std::vector<uint32_t> pf_feature_;
  std::vector<float> pf_threshold_, pf_leaf_;
  void BuildPerfect();
  bool has_categorical_ = false;
  // Categorical splits, per node (by global index): a bitset of the category codes that go
  // right, as words [cat_begin_[i], cat_begin_[i] + ceil(cat_bits_[i] / 32)) of cat_words_.
  std::vector<uint32_t> cat_begin_, cat_bits_;
  std::vector<uint32_t> cat_words_;
  // gblinear: weights[feature * groups + group], then one bias per group.
  std::vector<float> linear_weights_;
};

}  // namespace kade::ml
