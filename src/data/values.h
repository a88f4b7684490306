// Parsing of single cell values, shared by type inference, profiling and schema checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/json.h"  // FindInvalidUtf8

namespace kade {

enum class ColumnType { kBool, kInt64, kFloat64, kCategorical, kString, kTimestamp };
const char* ColumnTypeName(ColumnType t);
std::optional<ColumnType> ParseColumnType(absl::string_view name);
bool IsNumeric(ColumnType t);

// Default null tokens: "", "NA", "N/A", "null", "NULL", "NaN", "nan", "None".
const std::vector<std::string>& DefaultNullTokens();

std::optional<bool> ParseBool(absl::string_view s);      // true/false, any case
std::optional<int64_t> ParseInt64(absl::string_view s);  // decimal, optional sign
std::optional<double> ParseDouble(absl::string_view s);  // decimal or exponent; no inf/nan
// The same result as ParseDouble, faster on plain decimals ("-123.456789"); requires 16
// readable bytes after the end of `s` (RowBlock fields have them).
std::optional<double> ParseDoublePadded(absl::string_view s);
// ISO 8601: "2026-11-22", "2026-11-22T06:53:00", "…06:53:00.123Z", "…+01:00", space instead
// of T. Returns microseconds since the Unix epoch (UTC).
std::optional<int64_t> ParseTimestamp(absl::string_view s);
std::string FormatTimestampMicros(int64_t micros);

}  // namespace kade
