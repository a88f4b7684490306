// The run filter and order_by parsers, table-driven: what each accepted expression means and
// where each refused one is wrong.
#include "platform/run_filter.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace kade {
namespace {

std::string Describe(const std::vector<RunClause>& clauses) {
  std::vector<std::string> parts;
  for (const auto& c : clauses) {
    std::string value = c.numeric ? absl::StrCat(c.number) : absl::StrJoin(c.strings, "|");
    parts.push_back(absl::StrCat(c.entity, ".", c.key, " ", c.op, " ", value));
  }
  return absl::StrJoin(parts, "; ");
}

TEST(RunFilterTest, AcceptedFiltersMeanWhatTheySay) {
  struct Case {
    const char* filter;
    const char* meaning;
  } cases[] = {
      {"", ""},
      {"metrics.auc > 0.9", "metric.auc > 0.9"},
      {"metric.auc>=0.5", "metric.auc >= 0.5"},
      {"params.max_depth = '6'", "param.max_depth = 6"},
      {"tags.team LIKE 'risk%'", "tag.team LIKE risk%"},
      {"tags.team ILIKE '%RISK'", "tag.team ILIKE %RISK"},
      {"metrics.`val loss` < 1", "metric.val loss < 1"},
      {"params.\"learning rate\" != '0.1'", "param.learning rate != 0.1"},
      {"attributes.status IN ('FINISHED', 'RUNNING')", "attribute.status IN FINISHED|RUNNING"},
      {"attributes.status NOT IN ('FAILED')", "attribute.status NOT IN FAILED"},
      {"metrics.auc > 0.7 and params.eta = '0.1' AND tags.x = 'y'",
       "metric.auc > 0.7; param.eta = 0.1; tag.x = y"},
      {"metrics.loss <= -1.5e-3", "metric.loss <= -0.0015"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseRunFilter(c.filter);
    ASSERT_TRUE(parsed.ok()) << c.filter << ": " << parsed.status();
    EXPECT_EQ(Describe(*parsed), c.meaning) << c.filter;
  }
}

TEST(RunFilterTest, RefusedFiltersSayWhere) {
  struct Case {
    std::string filter;
    const char* message;  // a part of the error
  } cases[] = {
      {"metrics.auc >", "position"},
      {"metrics.auc > 0.9 or params.x = '1'", "position"},
      {"bogus.auc > 1", "bogus"},
      {"params.x = 'unclosed", "position"},
      {"metrics.auc ~ 1", "position"},
      {"attributes.status IN ()", "position"},
      {std::string(4001, ' '), "4000 characters"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseRunFilter(c.filter);
    ASSERT_FALSE(parsed.ok()) << c.filter;
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << c.filter;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.filter << ": " << parsed.status();
  }
  std::string many;
  for (int i = 0; i < 51; ++i) absl::StrAppend(&many, i ? " and " : "", "metrics.m", i, " > 0");
  EXPECT_NE(ParseRunFilter(many).status().message().find("50 clauses"), std::string::npos);
}

TEST(RunFilterTest, OrderBy) {
  struct Case {
    const char* order_by;
    bool ok;
    const char* entity;
    const char* key;
    bool ascending;
  } cases[] = {
      {"metrics.auc DESC", true, "metric", "auc", false},
      {"metrics.auc", true, "metric", "auc", true},
      {"params.lr ASC", true, "param", "lr", true},
      {"attributes.start_time", true, "attribute", "start_time", true},
      {"metrics.`val loss` desc", true, "metric", "val loss", false},
      {"metrics.auc SIDEWAYS", false, "", "", false},
      {"", false, "", "", false},
  };
  for (const auto& c : cases) {
    auto o = ParseRunOrder(c.order_by);
    ASSERT_EQ(o.ok(), c.ok) << c.order_by << ": " << o.status();
    if (!c.ok) continue;
    EXPECT_EQ(o->entity, c.entity) << c.order_by;
    EXPECT_EQ(o->key, c.key) << c.order_by;
    EXPECT_EQ(o->ascending, c.ascending) << c.order_by;
  }
}

}  // namespace
}  // namespace kade
