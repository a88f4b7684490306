#include "core/json.h"

#include "gtest/gtest.h"

namespace kade {
namespace {

TEST(AppendJsonStringTest, RoundTripsThroughAJsonParser) {
  const std::string cases[] = {"plain",
                               "quote \" and backslash \\",
                               "tab\tnewline\ncr\r",
                               std::string("nul\0byte", 8),
                               "unicode: données ✓ 🚀",
                               "\x7f"};
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(&out, c);
    Json parsed = Json::parse(out);                  // the reference parser must accept it...
    EXPECT_EQ(parsed.get<std::string>(), c) << out;  // ...and get the same string back
  }
}

TEST(AppendJsonStringTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  AppendJsonString(&out,
                   "a\xff"
                   "b\xc3");
  EXPECT_EQ(Json::parse(out).get<std::string>(),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
}

TEST(ParseJsonObjectTest, ReportsLineAndColumn) {
  auto r = ParseJsonObject("{\n  \"a\": 1,\n  \"b\": }");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 3, column"), absl::string_view::npos) << r.status();
}

TEST(ParseJsonObjectTest, TypedFieldErrorsNameTheField) {
  Json j = Json::parse(R"({"name": 3, "flag": "yes"})");
  EXPECT_EQ(RequiredString(j, "name").status().message(),
            "field 'name' must be a string, got number");
  EXPECT_EQ(OptionalBool(j, "flag").status().message(),
            "field 'flag' must be a boolean, got string");
  EXPECT_EQ(RequiredString(j, "missing").status().message(), "field 'missing' is required");
  EXPECT_NE(RejectUnknownFields(j, {"name"}).message().find("unknown field 'flag'"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace kade
