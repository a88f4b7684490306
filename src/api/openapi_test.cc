#include "api/openapi.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace kade {
namespace {

TEST(OpenApiTest, EveryRouteDeclaresItsSchemas) {
  Router router(nullptr);
  RegisterServerRoutes(router, nullptr, nullptr);
  auto missing = UndocumentedRoutes(router);
  EXPECT_TRUE(missing.empty()) << "routes without a summary, response or request schema:\n"
                               << absl::StrJoin(missing, "\n");
}

TEST(OpenApiTest, TheDocumentHasEveryRouteAndOnlyThose) {
  Router router(nullptr);
  RegisterServerRoutes(router, nullptr, nullptr);
  Json doc = OpenApiDocument(router);
  std::set<std::string> routed, documented;
  for (const auto& r : router.routes()) {
    std::string path = r->pattern;
    if (auto star = path.find("*}"); star != std::string::npos) path.erase(star, 1);
    routed.insert(absl::AsciiStrToLower(r->method) + " " + path);
  }
  for (auto it = doc["paths"].begin(); it != doc["paths"].end(); ++it) {
    for (auto m = it.value().begin(); m != it.value().end(); ++m) {
      documented.insert(m.key() + " " + it.key());
      EXPECT_FALSE(m.value()["summary"].get<std::string>().empty()) << it.key();
      EXPECT_TRUE(m.value()["responses"].is_object()) << it.key();
    }
  }
  EXPECT_EQ(routed, documented);
  // Every $ref names a component.
  const std::string text = doc.dump();
  const Json& components = doc["components"]["schemas"];
  for (size_t at = text.find("#/components/schemas/"); at != std::string::npos;
       at = text.find("#/components/schemas/", at + 1)) {
    size_t start = at + 21, end = text.find('"', start);
    EXPECT_TRUE(components.contains(text.substr(start, end - start)))
        << text.substr(start, end - start);
  }
}

}  // namespace
}  // namespace kade
