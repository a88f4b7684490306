// Cron expressions with a time zone (first line: expression, second: zone); a schedule that
// parses can always say when it next runs (or that it never does).
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "core/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  absl::string_view expr = text.substr(0, nl);
  absl::string_view tz = nl == absl::string_view::npos ? "UTC" : text.substr(nl + 1);
  auto schedule = kade::CronSchedule::Parse(expr, tz);
  if (schedule.ok()) (void)schedule->Next(absl::FromUnixSeconds(1790000000));
  return 0;
}
