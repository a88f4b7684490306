#include "core/cron.h"

#include "gtest/gtest.h"

namespace kade {
namespace {

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

std::string Next(const char* expr, const char* tz, const char* after) {
  auto c = CronSchedule::Parse(expr, tz);
  EXPECT_TRUE(c.ok()) << c.status();
  auto n = c->Next(At(after));
  EXPECT_TRUE(n.ok()) << n.status();
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *n, absl::UTCTimeZone());
}

TEST(CronTest, NextMatchingMinute) {
  EXPECT_EQ(Next("*/15 * * * *", "UTC", "2026-11-22T10:07:30Z"), "2026-11-22T10:15:00Z");
  EXPECT_EQ(Next("0 2 * * *", "UTC", "2026-11-22T02:00:00Z"), "2026-11-23T02:00:00Z");
  EXPECT_EQ(Next("30 9 * * mon-fri", "UTC", "2026-11-21T12:00:00Z"),  // a Saturday
            "2026-11-23T09:30:00Z");
  EXPECT_EQ(Next("0 0 1 jan *", "UTC", "2026-11-22T00:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Next("0 12 29 2 *", "UTC", "2026-11-22T00:00:00Z"), "2028-02-29T12:00:00Z");
  // Day of month OR day of week when both are restricted (the 13th, or any Friday).
  EXPECT_EQ(Next("0 0 13 * 5", "UTC", "2026-11-22T00:00:00Z"), "2026-11-27T00:00:00Z");
  EXPECT_EQ(Next("0 0 * * 7", "UTC", "2026-11-22T00:00:00Z"), "2026-11-29T00:00:00Z");
}

TEST(CronTest, TimeZonesAndDaylightSaving) {
  // 02:00 in Berlin is 01:00 UTC in winter.
  EXPECT_EQ(Next("0 2 * * *", "Europe/Berlin", "2026-11-22T12:00:00Z"), "2026-11-23T01:00:00Z");
  // 29 March 2026: Berlin skips 02:00-03:00; a run in the gap happens at the jump (03:00
  // CEST), as cron runs jobs of a skipped hour right after the change.
  EXPECT_EQ(Next("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(Next("0 9 * * *", "America/New_York", "2026-11-22T00:00:00Z"), "2026-11-22T14:00:00Z");
}

TEST(CronTest, BadExpressionsNameTheField) {
  auto bad = [](const char* expr, const char* tz, const char* needle) {
    auto c = CronSchedule::Parse(expr, tz);
    ASSERT_FALSE(c.ok()) << expr;
    EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status();
  };
  bad("* * * *", "UTC", "expected 5 fields");
  bad("60 * * * *", "UTC", "minute: '60'");
  bad("* 24 * * *", "UTC", "hour");
  bad("* * 0 * *", "UTC", "day of month");
  bad("* * * 13 *", "UTC", "month");
  bad("* * * * 8", "UTC", "day of week");
  bad("*/0 * * * *", "UTC", "step");
  bad("5-1 * * * *", "UTC", "backwards");
  bad("1,,2 * * * *", "UTC", "empty list item");
  bad("* * * * *", "Mars/Olympus", "time zone 'Mars/Olympus'");
  bad("* * * * *", "", "time zone");
  auto never = CronSchedule::Parse("0 0 30 2 *", "UTC");
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->Next(absl::Now()).ok());
}

}  // namespace
}  // namespace kade
