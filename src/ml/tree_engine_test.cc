// The native tree engine against XGBoost's own predictor (through the C API) on many
// random models and inputs: every objective Kade trains, gblinear, random forests,
// categorical splits, missing values, unseen and invalid categories.
#include "ml/tree_engine.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "ml/xgb.h"

namespace kade::ml {
namespace {

struct Case {
  std::string name;
  std::vector<std::pair<std::string, std::string>> params;
  int rounds = 20;
  int classes = 0;  // label kind: 0 regression, 1 counts, 2 binary, >2 multiclass
  bool categorical = false;
};

// Random rows: numeric columns (some NaN), and when asked two categorical columns of codes.
std::vector<float> RandomRows(std::mt19937& rng, size_t rows, size_t cols,
                              const std::vector<bool>& categorical, bool wild) {
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      float& v = x[r * cols + c];
      if (unit(rng) < 0.08f) {
        v = std::numeric_limits<float>::quiet_NaN();
      } else if (categorical[c]) {
        // Unseen codes (7..9) and invalid ones (-1) only in fresh inputs.
        v = static_cast<float>(static_cast<int>(unit(rng) * (wild ? 10 : 7)));
        if (wild && unit(rng) < 0.05f) v = -1.0f;
      } else {
        v = normal(rng);
      }
    }
  }
  return x;
}

void ExpectClose(const std::vector<float>& ours, const std::vector<float>& theirs,
                 const std::string& what) {
  ASSERT_EQ(ours.size(), theirs.size()) << what;
  size_t exact = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double a = ours[i], b = theirs[i];
    ASSERT_LE(std::abs(a - b), 1e-6 * std::max(1.0, std::abs(b))) << what << " at " << i;
    exact += ours[i] == theirs[i];
  }
  // Mirroring XGBoost's float arithmetic makes nearly every value bit-identical.
  EXPECT_GE(exact, ours.size() * 99 / 100) << what;
}

TEST(TreeEngineTest, MatchesXgboostOnRandomModels) {
  const std::vector<Case> cases = {
      {"binary", {{"objective", "binary:logistic"}, {"max_depth", "6"}}, 30, 2},
      {"binary-cat",
       {{"objective", "binary:logistic"}, {"max_depth", "4"}, {"max_cat_to_onehot", "1"}},
       25,
       2,
       true},
      {"binary-onehot-cat",
       {{"objective", "binary:logistic"}, {"max_depth", "3"}, {"max_cat_to_onehot", "16"}},
       10,
       2,
       true},
      {"logitraw", {{"objective", "binary:logitraw"}}, 10, 2},
      {"hinge", {{"objective", "binary:hinge"}}, 10, 2},
      {"regression", {{"objective", "reg:squarederror"}, {"max_depth", "8"}}, 40, 0},
      {"regression-cat", {{"objective", "reg:squarederror"}, {"max_depth", "5"}}, 20, 0, true},
      {"absolute", {{"objective", "reg:absoluteerror"}}, 10, 0},
      {"poisson", {{"objective", "count:poisson"}}, 15, 1},
      {"gamma", {{"objective", "reg:gamma"}}, 15, 1},
      {"tweedie", {{"objective", "reg:tweedie"}}, 15, 1},
      {"softprob", {{"objective", "multi:softprob"}, {"num_class", "4"}}, 15, 4},
      {"softprob-cat",
       {{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_cat_to_onehot", "1"}},
       15,
       3,
       true},
      {"softmax", {{"objective", "multi:softmax"}, {"num_class", "3"}}, 10, 3},
      {"forest",
       {{"objective", "binary:logistic"},
        {"num_parallel_tree", "8"},
        {"subsample", "0.8"},
        {"colsample_bynode", "0.8"},
        {"eta", "1"}},
       1,
       2},
      {"linear", {{"booster", "gblinear"}, {"objective", "binary:logistic"}}, 20, 2},
      {"linear-regression", {{"booster", "gblinear"}, {"objective", "reg:squarederror"}}, 20, 0},
      {"linear-multiclass",
       {{"booster", "gblinear"}, {"objective", "multi:softprob"}, {"num_class", "3"}},
       10,
       3},
  };
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
      std::mt19937 rng(seed * 7919 + c.rounds);
      const size_t cols = 8, rows = 600;
      std::vector<bool> categorical(cols, false);
      if (c.categorical) categorical[1] = categorical[5] = true;
      std::vector<std::string> names;
      for (size_t j = 0; j < cols; ++j) names.push_back("f" + std::to_string(j));
      std::vector<float> x = RandomRows(rng, rows, cols, categorical, false);
      std::vector<float> y(rows);
      for (size_t r = 0; r < rows; ++r) {
        float s = 0;
        for (size_t j = 0; j < cols; ++j) {
          float v = x[r * cols + j];
          if (!std::isnan(v)) s += (j % 2 ? -0.7f : 0.5f) * (categorical[j] ? (v == 2) * 2 : v);
        }
        s += std::normal_distribution<float>(0, 0.5f)(rng);
        if (c.classes == 0) y[r] = s;
        if (c.classes == 1) y[r] = std::floor(std::exp(std::clamp(s, -2.0f, 2.0f))) + 0.5f;
        if (c.classes == 2) y[r] = s > 0;
        if (c.classes > 2) y[r] = static_cast<float>(static_cast<int>(std::abs(s)) % c.classes);
      }
      auto train = DMatrix::Dense(x, rows, cols, names, categorical);
      ASSERT_TRUE(train.ok()) << train.status();
      ASSERT_TRUE(train->SetLabels(y).ok());
      auto booster = Booster::Create({&*train});
      ASSERT_TRUE(booster.ok()) << booster.status();
      ASSERT_TRUE(booster->SetParam("seed", std::to_string(seed)).ok());
      ASSERT_TRUE(booster->SetParam("nthread", "1").ok());
      ASSERT_TRUE(booster->SetParam("tree_method", "hist").ok());
      for (const auto& [k, v] : c.params) ASSERT_TRUE(booster->SetParam(k, v).ok()) << k;
      ASSERT_TRUE(booster->SetFeatures(names, categorical).ok());
      for (int i = 0; i < c.rounds; ++i) ASSERT_TRUE(booster->UpdateOneIter(i, *train).ok());
      auto json = booster->SaveJson();
      ASSERT_TRUE(json.ok());
      auto model = TreeModel::FromXgboostJson(*json);
      ASSERT_TRUE(model.ok()) << model.status();
      EXPECT_EQ((*model)->num_features(), static_cast<int>(cols));

      // Training rows, and fresh rows with unseen and invalid categories.
      std::vector<float> fresh = RandomRows(rng, 1003, cols, categorical, true);
      // And rows without any missing value (the engine has a shorter step for them).
      std::vector<float> complete = fresh;
      for (float& v : complete) v = std::isnan(v) ? 1.5f : v;
      for (const auto* input : {&x, &fresh, &complete}) {
        const size_t n = input->size() / cols;
        auto dm = DMatrix::Dense(*input, n, cols, names, categorical);
        ASSERT_TRUE(dm.ok());
        for (bool margin : {false, true}) {
          auto want = booster->Predict(*dm, 0, margin);
          ASSERT_TRUE(want.ok()) << want.status();
          const size_t width = want->size() / n;
          std::vector<float> got(n * width);
          if (margin) {
            ASSERT_EQ(width, static_cast<size_t>((*model)->num_groups()));
            (*model)->PredictMargin(input->data(), n, got.data());
          } else {
            ASSERT_EQ(width, static_cast<size_t>((*model)->num_outputs()));
            (*model)->Predict(input->data(), n, got.data());
          }
          ExpectClose(got, *want, margin ? "margin" : "output");
        }
        // SHAP values equal XGBoost's pred_contribs (bias included) and add up to the margin,
        // on the first 120 rows of each input (TreeSHAP costs depth^2 per leaf: the whole
        // inputs would make this the slowest test by far under the sanitizers).
        const size_t ns = std::min<size_t>(n, 120);
        std::vector<float> head(input->begin(), input->begin() + static_cast<ptrdiff_t>(ns * cols));
        auto dh = DMatrix::Dense(head, ns, cols, names, categorical);
        ASSERT_TRUE(dh.ok());
        auto contribs = booster->Contributions(*dh);
        ASSERT_TRUE(contribs.ok()) << contribs.status();
        const size_t ng = static_cast<size_t>((*model)->num_groups());
        ASSERT_EQ(contribs->size(), ns * ng * (cols + 1));
        std::vector<double> shap(contribs->size());
        ASSERT_TRUE((*model)->ShapValues(head.data(), ns, shap.data()).ok());
        std::vector<float> margin(ns * ng);
        (*model)->PredictMargin(head.data(), ns, margin.data());
        double worst = 0;
        for (size_t i = 0; i < shap.size(); ++i) {
          worst = std::max(worst, std::abs(shap[i] - (*contribs)[i]) /
                                      std::max(1.0, std::abs(double{(*contribs)[i]})));
        }
        EXPECT_LE(worst, 1e-5) << "shap vs pred_contribs";
        for (size_t r = 0; r < ns; ++r) {
          for (size_t g = 0; g < ng; ++g) {
            double sum = 0;
            for (size_t j = 0; j <= cols; ++j) sum += shap[(r * ng + g) * (cols + 1) + j];
            ASSERT_NEAR(sum, margin[r * ng + g],
                        1e-4 * std::max(1.0f, std::abs(margin[r * ng + g])));
          }
        }
      }
    }
  }
}

TEST(TreeEngineTest, RefusesBrokenModelsWithAReason) {
  auto expect_bad = [](const std::string& json, const std::string& needle) {
    auto m = TreeModel::FromXgboostJson(json);
    ASSERT_FALSE(m.ok()) << json;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status();
  };
  expect_bad("not json", "not valid JSON");
  expect_bad("{}", "no 'learner'");
  const std::string head =
      R"({"learner": {"learner_model_param": {"num_feature": "2", "base_score": "5E-1"},
          "objective": {"name": "binary:logistic"}, "gradient_booster": {"name": "gbtree",
          "model": {"tree_info": [0], "trees": [)";
  const std::string good_tree =
      R"({"left_children": [1, -1, -1], "right_children": [2, -1, -1],
          "split_conditions": [0.5, -1.0, 1.0], "split_indices": [1, 0, 0],
          "default_left": [1, 0, 0]})";
  auto ok = TreeModel::FromXgboostJson(head + good_tree + "]}}}}");
  ASSERT_TRUE(ok.ok()) << ok.status();
  float x[4] = {0, 0.2f, 0, std::numeric_limits<float>::quiet_NaN()};
  float out[2];
  (*ok)->PredictMargin(x, 2, out);
  EXPECT_EQ(out[0], -1.0f);  // 0.2 < 0.5: left
  EXPECT_EQ(out[1], -1.0f);  // missing: default left
  expect_bad(head + R"({"left_children": [1, -1, -1], "right_children": [1, -1, -1],
          "split_conditions": [0.5, -1.0, 1.0], "split_indices": [1, 0, 0],
          "default_left": [1, 0, 0]})" +
                 "]}}}}",
             "do not form a tree");
  expect_bad(head + R"({"left_children": [1, -1, -1], "right_children": [2, -1, -1],
          "split_conditions": [0.5, -1.0, 1.0], "split_indices": [7, 0, 0],
          "default_left": [1, 0, 0]})" +
                 "]}}}}",
             "split feature out of range");
  expect_bad(head + R"({"left_children": [1, -1], "right_children": [2, -1, -1],
          "split_conditions": [0.5, -1.0, 1.0], "split_indices": [1, 0, 0],
          "default_left": [1, 0, 0]})" +
                 "]}}}}",
             "differ in length");
  std::string unknown = head + good_tree + "]}}}}";
  unknown.replace(unknown.find("binary:logistic"), 15, "reg:mystery");
  expect_bad(unknown, "objective 'reg:mystery' is not supported");
}

}  // namespace
}  // namespace kade::ml
