#include "core/time.h"

#include <chrono>
#include <ctime>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kade {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatRfc3339Millis(int64_t unix_millis) {
  time_t secs = static_cast<time_t>(unix_millis / 1000);
  int ms = static_cast<int>(unix_millis % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
                         tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min,
                         tm_utc.tm_sec, ms);
}

absl::StatusOr<int64_t> ParseWindow(absl::string_view text) {
  int64_t n = 0;
  int64_t unit = 1000;
  std::string digits(text);
  if (!digits.empty() && (digits.back() == 'h' || digits.back() == 'd' || digits.back() == 'm' ||
                          digits.back() == 's')) {
    const char u = digits.back();
    unit = u == 'd' ? 86400000 : u == 'h' ? 3600000 : u == 'm' ? 60000 : 1000;
    digits.pop_back();
  }
  if (!absl::SimpleAtoi(digits, &n) || n <= 0 || n > 90LL * 86400000 / unit || n * unit < 60000) {
    return absl::InvalidArgumentError(
        absl::StrCat("window: expected 1h, 24h, 7d, 30d or seconds between 60 and 7776000, got '",
                     std::string(text).substr(0, 40), "'"));
  }
  return n * unit;
}

}  // namespace kade
