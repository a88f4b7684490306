// The router's path matching, table-driven: which route a method and path reach, with which
// parameters, and what an unmatched request is told.
#include "api/router.h"

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_platform.h"

namespace kade {
namespace {

TEST(RouterTest, PathsMatchTheirRoutesAndParameters) {
  testing::TempDir dir;
  auto platform = testing::OpenTestPlatform(dir.path());
  ASSERT_TRUE(platform.ok()) << platform.status();
  Router r(platform->get());
  auto ok = [](RouteContext&) -> absl::StatusOr<HttpResponse> { return HttpResponse(); };
  for (const char* pattern :
       {"/api/v1/projects", "/api/v1/projects/{project}", "/api/v1/projects/{project}/members",
        "/api/v1/projects/{project}/members/{user}", "/api/v1/projects/{project}/artifacts/{name*}",
        "/api/v1/projects/{project}/endpoints/{endpoint}/predict", "/v2/models/{model}/ready"}) {
    r.Add("GET", pattern, Permission::kAuthenticated, "", ok);
  }
  r.Add("POST", "/api/v1/projects", Permission::kAuthenticated, "project.create", ok);

  struct Case {
    const char* method;
    const char* path;
    const char* pattern;  // empty: no route
    const char* params;   // k=v,... in order
    int status;           // when unmatched
  } cases[] = {
      {"GET", "/api/v1/projects", "/api/v1/projects", "", 0},
      {"POST", "/api/v1/projects", "/api/v1/projects", "", 0},
      {"GET", "/api/v1/projects/churn", "/api/v1/projects/{project}", "project=churn", 0},
      {"GET", "/api/v1/projects/churn/members", "/api/v1/projects/{project}/members",
       "project=churn", 0},
      {"GET", "/api/v1/projects/churn/members/ann", "/api/v1/projects/{project}/members/{user}",
       "project=churn,user=ann", 0},
      {"GET", "/api/v1/projects/churn/artifacts/a/b/c.txt",
       "/api/v1/projects/{project}/artifacts/{name*}", "project=churn,name=a/b/c.txt", 0},
      {"GET", "/api/v1/projects/churn/artifacts/a%20b",
       "/api/v1/projects/{project}/artifacts/{name*}", "project=churn,name=a b", 0},
      {"GET", "/api/v1/projects/ch%75rn", "/api/v1/projects/{project}", "project=churn", 0},
      {"GET", "/v2/models/demo:api/ready", "/v2/models/{model}/ready", "model=demo:api", 0},
      {"DELETE", "/api/v1/projects", "", "", 405},
      {"PUT", "/api/v1/projects/churn/members", "", "", 405},
      {"GET", "/api/v1/nothing", "", "", 404},
      {"GET", "/api/v1/projects/churn/members/ann/extra", "", "", 404},
      {"GET", "/api/v1/projects/a%2Fb/members", "/api/v1/projects/{project}/members", "project=a/b",
       0},
      {"GET", "/api/v1/projects/%zz", "", "", 400},
  };
  for (const auto& c : cases) {
    RouteMatch m = r.Match(c.method, c.path);
    if (*c.pattern == '\0') {
      EXPECT_EQ(m.route, nullptr) << c.method << " " << c.path;
      EXPECT_EQ(HttpStatusOf(m.error), c.status) << c.method << " " << c.path << ": " << m.error;
      continue;
    }
    ASSERT_NE(m.route, nullptr) << c.method << " " << c.path << ": " << m.error;
    EXPECT_EQ(m.route->pattern, c.pattern) << c.path;
    EXPECT_EQ(m.route->method, c.method) << c.path;
    std::vector<std::string> got;
    for (const auto& [k, v] : m.params) got.push_back(k + "=" + v);
    EXPECT_EQ(absl::StrJoin(got, ","), c.params) << c.path;
  }
}

}  // namespace
}  // namespace kade
