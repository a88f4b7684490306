#include "ml/servable.h"

#include "core/status.h"
#include "gtest/gtest.h"
#include "tests/util/churn_table.h"

namespace kade::ml {
namespace {

// A servable trained on tests/data/churn.csv for `target` (binary, multiclass or regression).
absl::StatusOr<std::shared_ptr<const Servable>> TrainServable(const std::string& target,
                                                              const std::string& objective) {
  TrainSpec spec;
  spec.dataset = "churn";
  spec.target = target;
  spec.num_rounds = 10;
  // Kade trains multi-class models as multi:softprob; a multi:softmax model (imported from
  // elsewhere) is the same trees with another output, made here by renaming the objective.
  const bool softmax = objective == "multi:softmax";
  if (!objective.empty() && !softmax) spec.params["objective"] = objective;
  ASSIGN_OR_RETURN(Table table, testing::LoadChurnTable(spec));
  ASSIGN_OR_RETURN(TrainResult t, Train(spec, table, TrainOptions{}));
  std::string model = t.model_json;
  if (softmax) {
    const size_t at = model.find("\"multi:softprob\"");
    if (at == std::string::npos) return absl::InternalError("no multi:softprob in the model");
    model.replace(at, 16, "\"multi:softmax\"");
  }
  return Servable::Load(Json{{"signature", t.encoding.ToJson()}}, model);
}

// The predict route's text answer holds the same members, with numbers that read back as
// the same doubles, as the Json answer the other routes build.
TEST(ServableTest, TextAnswerEqualsJsonAnswer) {
  const std::string rows =
      R"({"instances": [{"plan": "basic", "tenure_months": 4, "monthly_charges": 18.8,)"
      R"( "support_calls": 0, "region": "north", "churned": false}, {"plan": "pro", "tenure_months": 40,)"
      R"( "monthly_charges": 80.25, "support_calls": 5, "region": null, "churned": true}, {"plan": "basic",)"
      R"( "tenure_months": 12, "monthly_charges": 30, "support_calls": 1, "region": "south", "churned": false}]})";
  struct Case {
    std::string target, objective;
  };
  for (const Case& c : {Case{"churned", ""}, Case{"churned", "binary:logitraw"}, Case{"plan", ""},
                        Case{"plan", "multi:softmax"}, Case{"support_calls", "reg:squarederror"}}) {
    SCOPED_TRACE(c.target + " " + c.objective);
    auto s = TrainServable(c.target, c.objective);
    ASSERT_TRUE(s.ok()) << s.status();
    Json body = Json::parse(rows);
    for (auto& row : body["instances"]) row.erase(c.target);
    auto batch = (*s)->Decode(body);
    ASSERT_TRUE(batch.ok()) << batch.status();
    Prediction p = (*s)->Predict(*batch);
    std::string text = "{";
    (*s)->AppendRenderedMembers(p, &text);
    text += "}";
    Json parsed = Json::parse(text);
    EXPECT_EQ(parsed, (*s)->Render(p)) << text;
  }
}

}  // namespace
}  // namespace kade::ml
