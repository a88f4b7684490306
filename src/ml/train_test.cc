#include "ml/train.h"

#include <cmath>

#include "core/status.h"
#include "gtest/gtest.h"
#include "ml/metrics.h"
#include "tests/util/churn_table.h"

namespace kade::ml {
namespace {

absl::StatusOr<Table> LoadChurn(const TrainSpec& spec) { return testing::LoadChurnTable(spec); }

TEST(MetricsTest, AucAveragesTiesLikeScikitLearn) {
  // roc_auc_score([0, 0, 1, 1, 1], [0.1, 0.4, 0.4, 0.8, 0.9]) = 0.91666...
  EXPECT_NEAR(RocAuc({0, 0, 1, 1, 1}, {0.1f, 0.4f, 0.4f, 0.8f, 0.9f}), 11.0 / 12.0, 1e-12);
  EXPECT_TRUE(std::isnan(RocAuc({1, 1}, {0.2f, 0.3f})));
  Json m = BinaryMetrics({0, 1, 1, 0}, {0.2f, 0.7f, 0.4f, 0.6f});
  EXPECT_EQ(m["confusion_matrix"], Json::parse("[[1, 1], [1, 1]]"));
  EXPECT_DOUBLE_EQ(m["accuracy"].get<double>(), 0.5);
}

TEST(TrainTest, ChurnModelIsUsefulAndBitReproducible) {
  TrainSpec spec;
  spec.dataset = "churn";
  spec.target = "churned";
  spec.num_rounds = 40;
  spec.params["max_depth"] = "3";
  auto table = LoadChurn(spec);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->encoding.task, "binary");
  EXPECT_EQ(table->encoding.classes, (std::vector<std::string>{"false", "true"}));
  // customer_id (text) and signup_date (a date) are left out by default; plan and region
  // are categorical.
  std::vector<std::string> names;
  for (const auto& f : table->encoding.features) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"plan", "tenure_months", "monthly_charges",
                                             "support_calls", "region"}));
  EXPECT_TRUE(table->encoding.features[0].categorical);
  auto a = Train(spec, *table, TrainOptions{});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_GT(a->evaluation["auc"].get<double>(), 0.6);
  EXPECT_EQ(a->holdout_rows.size(), 120u);  // 20% of 600, per class
  auto b = Train(spec, *table, TrainOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->model_json, b->model_json);  // same spec, same data, same seed
  spec.seed = 7;
  auto c = Train(spec, *table, TrainOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->model_json, c->model_json);
}

TEST(TrainTest, BadSpecsAndTargetsAreRefusedBeforeTraining) {
  EXPECT_NE(TrainSpec::FromJson(Json::parse(R"({"dataset": "d", "colour": 1})"))
                .status()
                .message()
                .find("unknown field 'colour'"),
            std::string::npos);
  EXPECT_NE(TrainSpec::FromJson(Json::parse(R"({"dataset": "d", "params": {"depth": 3}})"))
                .status()
                .message()
                .find("unknown parameter 'depth'"),
            std::string::npos);
  EXPECT_NE(TrainSpec::FromJson(Json::parse(R"({"dataset": "d", "num_rounds": "ten"})"))
                .status()
                .message()
                .find("'num_rounds' must be an integer"),
            std::string::npos);
  TrainSpec spec;
  spec.dataset = "churn";
  spec.target = "nope";
  EXPECT_NE(LoadChurn(spec).status().message().find("target column 'nope' is not in"),
            std::string::npos);
  spec.target = "churned";
  spec.include = {"ghost"};
  EXPECT_NE(LoadChurn(spec).status().message().find("include: column 'ghost'"), std::string::npos);
  spec.include = {};
  spec.task = "regression";
  EXPECT_NE(LoadChurn(spec).status().message().find("regression needs a numeric target"),
            std::string::npos);
  // An objective that does not fit the task (the evaluation and the served answer would read
  // its output wrongly; multi:softmax made the evaluation read past the predictions).
  struct Mismatch {
    std::string target, objective, hint;
  };
  for (const Mismatch& m :
       {Mismatch{"plan", "multi:softmax", "use multi:softprob"},
        Mismatch{"churned", "reg:squarederror", "use a binary: objective"},
        Mismatch{"support_calls", "binary:logistic", "use a reg:"},
        Mismatch{"plan", "rank:pairwise", "does not fit the multiclass task"}}) {
    TrainSpec t;
    t.dataset = "churn";
    t.target = m.target;
    t.params["objective"] = m.objective;
    auto r = LoadChurn(t);
    ASSERT_FALSE(r.ok()) << m.objective;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_NE(r.status().message().find(m.hint), std::string::npos) << r.status();
  }
  // Objectives that fit are accepted.
  for (const Mismatch& m :
       {Mismatch{"churned", "binary:logitraw", ""}, Mismatch{"plan", "multi:softprob", ""},
        Mismatch{"support_calls", "count:poisson", ""}}) {
    TrainSpec t;
    t.dataset = "churn";
    t.target = m.target;
    t.params["objective"] = m.objective;
    EXPECT_TRUE(LoadChurn(t).ok()) << m.objective;
  }
}

TEST(SearchTest, GridCombinationsAndSeededRandomDraws) {
  auto grid = SearchSpec::FromJson(
      Json::parse(R"({"strategy": "grid", "space": "max_depth=3,5;eta=0.1,0.2,0.3"})"));
  ASSERT_TRUE(grid.ok()) << grid.status();
  auto g = grid->Trials(1);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->size(), 6u);
  EXPECT_EQ((*g)[0].at("max_depth"), "3");
  EXPECT_EQ((*g)[5].at("eta"), "0.3");
  auto random = SearchSpec::FromJson(Json::parse(
      R"({"strategy": "random", "trials": 20, "space": {"max_depth": {"min": 2, "max": 8},
          "eta": {"min": 0.001, "max": 0.3, "log": true}}})"));
  ASSERT_TRUE(random.ok()) << random.status();
  auto a = random->Trials(42), b = random->Trials(42), c = random->Trials(43);
  EXPECT_EQ(*a, *b);  // seeded
  EXPECT_NE(*a, *c);
  for (const auto& t : *a) {
    int depth = std::stoi(t.at("max_depth"));
    double eta = std::stod(t.at("eta"));
    EXPECT_TRUE(depth >= 2 && depth <= 8);
    EXPECT_TRUE(eta >= 0.001 && eta <= 0.3);
  }
  EXPECT_FALSE(SearchSpec::ParseSpace("max_depth").ok());
  EXPECT_FALSE(SearchSpec::ParseSpace("eta=0.3..0.1").ok());
}

}  // namespace
}  // namespace kade::ml
