#include "core/time.h"

#include <chrono>
#include <ctime>

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

}  // namespace kade
