// Wall-clock helpers. All persisted times are Unix milliseconds (UTC); RFC 3339 strings
// are for display and JSON only.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kade {

int64_t NowMillis();
// "2026-11-22T06:53:00.123Z"
std::string FormatRfc3339Millis(int64_t unix_millis);
// A monitoring window in ms: "1h", "24h", "7d", "30d", "15m", or seconds ("3600"); one
// minute to 90 days. InvalidArgument names the accepted forms.
absl::StatusOr<int64_t> ParseWindow(absl::string_view text);

}  // namespace kade
