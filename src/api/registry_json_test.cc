// The registry routes' JSON: gate configurations round-trip and refuse typos, model changes
// set only what is given, import signatures parse into typed features, errors name the field.
#include "api/registry_json.h"

#include "gtest/gtest.h"

namespace kade {
namespace {

TEST(RegistryJsonTest, GatesRoundTripThroughTheStoredForm) {
  const Json given = Json::parse(R"({
    "metrics": [{"metric": "auc", "min": 0.7}, {"metric": "logloss", "max": 0.5}],
    "beat_champion": {"dataset": "churn", "version": 3, "metric": "auc"},
    "latency_p99_ms": 5, "data_quality": true, "aliases": ["champion", "prod"]})");
  auto g = GateConfig::FromJson(given);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->metrics.size(), 2u);
  EXPECT_EQ(*g->metrics[0].min, 0.7);
  EXPECT_FALSE(g->metrics[0].max);
  EXPECT_EQ(*g->metrics[1].max, 0.5);
  ASSERT_TRUE(g->beat_champion);
  EXPECT_EQ(g->beat_champion->version, "3");
  EXPECT_EQ(g->beat_champion->alias, "champion");
  EXPECT_EQ(*g->latency_p99_ms, 5);
  EXPECT_TRUE(g->data_quality);
  ASSERT_TRUE(g->aliases);
  EXPECT_EQ(g->aliases->size(), 2u);

  auto again = GateConfig::FromJson(g->ToJson());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ToJson(), g->ToJson());
  // No gates: an empty object, and no gated aliases configured (the default applies).
  auto none = GateConfig::FromJson(Json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->ToJson(), Json::object());
  EXPECT_FALSE(none->aliases);
}

TEST(RegistryJsonTest, GateTyposAreRefusedWithTheField) {
  struct Case {
    const char* gates;
    const char* names;
  };
  const Case cases[] = {
      {R"({"metric": []})", "metric"},
      {R"({"metrics": [{"metric": "auc", "min": 0.7}, {"metric": "auc", "mni": 1}]})",
       "gates.metrics[1]"},
      {R"({"metrics": [{"metric": "auc", "min": "0.7"}]})", "gates.metrics[0]"},
      {R"({"beat_champion": {"dataset": "d", "metric": "auc", "alais": "prod"}})",
       "gates.beat_champion"},
      {R"({"beat_champion": {"dataset": "d", "metric": "auc", "version": [1]}})",
       "gates.beat_champion"},
      {R"({"latency_p99_ms": -1})", "gates.latency_p99_ms"},
      {R"({"data_quality": "yes"})", "gates.data_quality"},
      {R"({"aliases": ["a", 1]})", "gates.aliases"},
  };
  for (const auto& c : cases) {
    auto spec = ParseModelSpec(Json{{"name", "m"}, {"gates", Json::parse(c.gates)}});
    ASSERT_FALSE(spec.ok()) << c.gates;
    EXPECT_TRUE(absl::IsInvalidArgument(spec.status()));
    EXPECT_NE(spec.status().message().find(c.names), std::string::npos)
        << c.gates << ": " << spec.status();
  }
}

TEST(RegistryJsonTest, ChangeSetsOnlyWhatIsGiven) {
  auto c = ParseModelChange(Json{{"description", "d"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->description, "d");
  EXPECT_FALSE(c->tags);
  EXPECT_FALSE(c->gates);
  c = ParseModelChange(Json{{"tags", Json{{"team", "risk"}}}, {"gates", Json::object()}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->description);
  ASSERT_TRUE(c->tags);
  EXPECT_EQ(c->tags->at("team"), "risk");
  ASSERT_TRUE(c->gates);  // given as {}: the gates are cleared
  EXPECT_TRUE(c->gates->metrics.empty());
  for (const Json& bad : {Json{{"tags", Json{{"team", 1}}}}, Json{{"tags", "x"}},
                          Json{{"description", 3}}, Json{{"name", "renamed"}}}) {
    EXPECT_FALSE(ParseModelChange(bad).ok()) << bad.dump();
  }
}

TEST(RegistryJsonTest, ImportSignaturesParseIntoTypedFeatures) {
  ImportSpec spec;
  auto s = ParseImportFields(Json::parse(R"({
    "signature": {"features": [{"name": "tenure"},
                               {"name": "plan", "type": "categorical", "categories": ["a", "b"]}],
                  "target": "churned", "task": "binary", "classes": ["no", "yes"]},
    "metrics": {"auc": 0.8}, "description": "from a notebook"})"),
                             &spec);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(spec.from_dataset);
  ASSERT_EQ(spec.features.size(), 2u);
  EXPECT_FALSE(spec.features[0].categorical);
  EXPECT_TRUE(spec.features[1].categorical);
  EXPECT_EQ(spec.features[1].categories, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec.target, "churned");
  EXPECT_EQ(*spec.task, "binary");
  EXPECT_EQ(*spec.classes, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(spec.metrics.at("auc"), 0.8);
  EXPECT_EQ(spec.description, "from a notebook");

  ImportSpec ds;
  s = ParseImportFields(
      Json::parse(R"({"signature": {"dataset": "churn", "version": 2, "target": "churned"}})"),
      &ds);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(ds.from_dataset);
  EXPECT_EQ(ds.from_dataset->version, "2");
  EXPECT_EQ(ds.from_dataset->target, "churned");
  EXPECT_FALSE(ds.task);

  struct Case {
    const char* body;
    const char* names;
  };
  const Case cases[] = {
      {R"({})", "signature"},
      {R"({"signature": []})", "signature"},
      {R"({"signature": {"features": []}})", "features"},
      {R"({"signature": {"features": [{"name": "x", "type": "text"}]}})",
       "signature.features[0].type"},
      {R"({"signature": {"features": [{"name": "x"}], "task": "ranking"}})", "signature.task"},
      {R"({"signature": {"features": [{"name": "x"}], "classes": ["only"]}})", "signature.classes"},
      {R"({"signature": {"features": [{"name": "x"}], "clases": ["a", "b"]}})", "clases"},
      {R"({"signature": {"dataset": 5}})", "dataset"},
      {R"({"signature": {"features": [{"name": "x"}]}, "metrics": {"auc": "high"}})",
       "metrics.auc"},
  };
  for (const auto& c : cases) {
    ImportSpec x;
    auto st = ParseImportFields(Json::parse(c.body), &x);
    ASSERT_FALSE(st.ok()) << c.body;
    EXPECT_NE(st.message().find(c.names), std::string::npos) << c.body << ": " << st;
  }
}

}  // namespace
}  // namespace kade
