// Wall-clock helpers. All persisted times are Unix milliseconds (UTC); RFC 3339 strings
// are for display and JSON only.
#pragma once

#include <cstdint>
#include <string>

namespace kade {

int64_t NowMillis();
// "2026-11-22T06:53:00.123Z"
std::string FormatRfc3339Millis(int64_t unix_millis);

}  // namespace kade
