// The endpoint routes' JSON: what a change body sets, what it leaves, and errors naming the
// field.
#include "api/serving_json.h"

#include "gtest/gtest.h"

namespace kade {
namespace {

TEST(ServingJsonTest, ChangeSetsOnlyWhatIsGiven) {
  auto c = ParseEndpointChange(Json{{"log_sample", 0.5}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->targets);
  EXPECT_FALSE(c->shadow);
  EXPECT_FALSE(c->description);
  ASSERT_TRUE(c->log_sample);
  EXPECT_EQ(*c->log_sample, 0.5);

  c = ParseEndpointChange(Json{{"alias", "challenger"}, {"shadow", nullptr}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->targets);
  ASSERT_EQ(c->targets->size(), 1u);
  EXPECT_EQ((*c->targets)[0].alias, "challenger");
  ASSERT_TRUE(c->shadow);                // given ...
  EXPECT_FALSE(c->shadow->has_value());  // ... as null: removed
  EXPECT_FALSE(c->log_sample);
}

TEST(ServingJsonTest, ErrorsNameTheField) {
  struct Case {
    Json body;
    const char* names;
  };
  const Case cases[] = {
      {Json{
           {"targets", Json::array({Json{{"version", 1}}, Json{{"version", 2}, {"weight", "x"}}})}},
       "targets[1].weight"},
      {Json{{"shadow", Json{{"version", 0}}}}, "shadow.version"},
      {Json{{"log_sample", 2}}, "log_sample"},
      {Json{{"description", 5}}, "description"},
      {Json{{"force", "yes"}}, "force"},
      {Json{{"colour", "red"}}, "colour"},
      {Json::array(), "object"},
  };
  for (const auto& c : cases) {
    auto r = ParseEndpointChange(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.names), absl::string_view::npos)
        << c.body.dump() << ": " << r.status().message();
  }
  auto spec = ParseEndpointSpec(Json{{"name", "e"}});
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("model"), absl::string_view::npos);
}

TEST(ServingJsonTest, SpecDefaultsToTheChampion) {
  auto spec = ParseEndpointSpec(Json{{"name", "e"}, {"model", "m"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->config.targets.size(), 1u);
  EXPECT_EQ(spec->config.targets[0].alias, "champion");
  EXPECT_FALSE(spec->force);
}

TEST(ServingJsonTest, FeedbackAndForwardedLogRefuseWrongTypes) {
  auto f = ParseFeedback(Json{{"items", Json::array({Json{{"request_id", "a"}, {"label", 1}},
                                                     Json{{"request_id", "b"}}})}});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("items[1].label"), absl::string_view::npos);
  f = ParseFeedback(Json{{"request_id", "a"}, {"label", true}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)[0].second, "true");

  Json rec{{"request_id", "r"}, {"ts", 1},          {"version", 1},   {"latency_us", 3},
           {"shadow", "no"},    {"features", "[]"}, {"outputs", "{}"}};
  auto log = ParseForwardedLog(Json{{"records", Json::array({rec})}});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("records[0].shadow"), absl::string_view::npos);
  rec["shadow"] = false;
  log = ParseForwardedLog(Json{{"records", Json::array({rec})}, {"replica", 7}});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("replica"), absl::string_view::npos);
  log = ParseForwardedLog(Json{{"records", Json::array({rec})}, {"replica", "r1"}});
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->records.size(), 1u);
  EXPECT_EQ(log->replica, "r1");
}

}  // namespace
}  // namespace kade
