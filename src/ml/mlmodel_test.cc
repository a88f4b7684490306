#include "ml/mlmodel.h"

#include "gtest/gtest.h"

namespace kade::ml {
namespace {

// As MLflow 2.10 writes it for mlflow.xgboost.log_model with a signature; PyYAML folds the
// long single-quoted inputs string over two lines.
constexpr const char* kXgbMlmodel = R"(artifact_path: model
flavors:
  python_function:
    data: model.xgb
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.7
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.sklearn.XGBClassifier
    model_format: xgb
    xgb_version: 1.7.4
mlflow_version: 2.10.2
model_size_bytes: 20814
model_uuid: 5c0f1f6a4b2d4a57b8f1b6e1c0e3a9d2
run_id: 0a1b2c3d4e5f
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "tenure", "required": true}, {"type": "long",
    "name": "support_calls", "required": true}, {"type": "boolean", "name": "it''s", "required":
    true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
utc_time_created: '2024-02-01 10:00:00.000000'
)";

TEST(MlmodelTest, ReadsAnXgboostModelWithAFoldedSignature) {
  auto m = ReadMlmodel(kXgbMlmodel);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->run_id, "0a1b2c3d4e5f");
  EXPECT_EQ(m->artifact_path, "model");
  ASSERT_TRUE(m->xgboost_file.has_value());
  EXPECT_EQ(*m->xgboost_file, "model.xgb");
  EXPECT_EQ(m->xgboost_format, "xgb");
  EXPECT_EQ(m->flavors, (std::vector<std::string>{"python_function", "xgboost"}));
  EXPECT_EQ(m->doc["utc_time_created"], "2024-02-01 10:00:00.000000");
  EXPECT_TRUE(m->doc["flavors"]["xgboost"]["code"].is_null());
  ASSERT_TRUE(m->inputs.has_value());
  auto features = FeaturesFromSignature(*m->inputs);
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 3u);
  EXPECT_EQ((*features)[0].name, "tenure");
  EXPECT_EQ((*features)[0].source_type, ColumnType::kFloat64);
  EXPECT_EQ((*features)[1].source_type, ColumnType::kInt64);
  EXPECT_EQ((*features)[2].name, "it's");  // '' inside single quotes, across a fold
  EXPECT_EQ((*features)[2].source_type, ColumnType::kBool);
}

TEST(MlmodelTest, SequencesQuotingAndFlowJson) {
  auto doc = ParseMlmodelYaml(
      "a:\n- x\n- 'y z'\n- k: 1\n  j: \"tab\\there \\u00e9\"\nb: {\"c\": [1, 2]}\n"
      "c: plain text\n  folded on\n# comment\nd: []\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["a"][0], "x");
  EXPECT_EQ((*doc)["a"][1], "y z");
  EXPECT_EQ((*doc)["a"][2]["k"], "1");
  EXPECT_EQ((*doc)["a"][2]["j"], "tab\there \xc3\xa9");
  EXPECT_EQ((*doc)["b"]["c"][1], 2);
  EXPECT_EQ((*doc)["c"], "plain text folded on");
  EXPECT_TRUE((*doc)["d"].is_array());
}

TEST(MlmodelTest, MalformedFilesNameLineAndColumn) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"a: 1\n  b: 2\n", "line 2, column 3: unexpected indentation"},
      {"a: 'open\nb: 2\n", "line 2, column 1: unterminated quoted string"},
      {"a: 1\na: 2\n", "line 2, column 1: duplicate key 'a'"},
      {"a: \"x\\q\"\n", "line 1, column 6: unknown escape"},
      {"just text\n", "line 1, column 1: expected 'key: value'"},
      {"\tx: 1\n", "line 1, column 1: a tab"},
      {"a: 'x' y\n", "line 1, column 7: unexpected text after a quoted string"},
      {"a: {not json\n", "flow collections"},
  };
  for (const auto& c : cases) {
    auto doc = ParseMlmodelYaml(c.text);
    ASSERT_FALSE(doc.ok()) << c.text;
    EXPECT_NE(std::string(doc.status().message()).find(c.want), std::string::npos)
        << c.text << " -> " << doc.status();
  }
  // Hostile nesting is bounded, not a stack overflow.
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  auto doc = ParseMlmodelYaml(deep);
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(std::string(doc.status().message()).find("nested deeper"), std::string::npos);
}

TEST(MlmodelTest, RefusesWhatKadeCannotServe) {
  EXPECT_FALSE(ReadMlmodel("flavors: {}\n").ok());
  EXPECT_FALSE(ReadMlmodel("flavors:\n  xgboost:\n    data: ../../etc/passwd\n").ok());
  auto m = ReadMlmodel(
      "flavors:\n  xgboost:\n    data: model.xgb\nsignature:\n  inputs: '[{\"type\": \"string\", "
      "\"name\": \"plan\"}]'\n");
  ASSERT_TRUE(m.ok()) << m.status();
  auto f = FeaturesFromSignature(*m->inputs);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(std::string(f.status().message()).find("'plan' has type 'string'"), std::string::npos);
  auto t = ReadMlmodel(
      "flavors:\n  xgboost:\n    data: m.xgb\nsignature:\n  inputs: '[{\"type\": \"tensor\", "
      "\"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1, 4]}}]'\n");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->tensor_signature);
}

}  // namespace
}  // namespace kade::ml
