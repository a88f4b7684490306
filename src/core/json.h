// JSON for the whole project is nlohmann::json. ParseJsonObject turns a parse failure into
// an InvalidArgument that names the byte offset, line and column, so API callers can fix it.
#pragma once

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kade {

using Json = nlohmann::json;

// Limits on the shape of a request body, checked by a byte scan before the body is parsed:
// nlohmann's parser is iterative, but dump(), copies and comparisons recurse, so a body
// nested 100,000 levels deep overflowed the stack; and a body of tiny values costs about 50
// bytes of heap per value once parsed.
struct JsonLimits {
  int max_depth = 64;
  // Values (scalars, arrays and objects) in the whole document. 1,000,000 keeps a parsed
  // body under about 100 MB; predict bodies, bounded by the 8 MiB body limit, pass more.
  size_t max_elements = 1000000;
};

// Predict and inference bodies: 100,000 rows of many features are legitimate; the body
// limit (8 MiB by default) bounds them.
inline constexpr JsonLimits kPredictJsonLimits{64, 16u << 20};

// Checks `text` against `limits` without parsing it (strings are skipped, escapes
// honoured). InvalidArgument naming the limit and the line and column where it was passed;
// `first_line` numbers the text's first line (a JSON Lines reader passes the file's line).
absl::Status CheckJsonShape(absl::string_view text, const JsonLimits& limits, int first_line = 1);

// Parses `text` and requires a JSON object at the top level; the shape is checked first.
absl::StatusOr<Json> ParseJsonObject(absl::string_view text, const JsonLimits& limits = {});

// Typed field access for request bodies: an absent field yields nullopt, a field of the
// wrong type is InvalidArgument naming the field and the expected type.
absl::StatusOr<std::optional<std::string>> OptionalString(const Json& obj, absl::string_view field);
absl::StatusOr<std::string> RequiredString(const Json& obj, absl::string_view field);
absl::StatusOr<std::optional<bool>> OptionalBool(const Json& obj, absl::string_view field);
absl::StatusOr<std::optional<int64_t>> OptionalInt(const Json& obj, absl::string_view field);
// Appends `s` as a quoted JSON string, escaping as RFC 8259 requires; bytes that are not
// valid UTF-8 become U+FFFD. For hot paths (access logs) where building a Json is too slow.
void AppendJsonString(std::string* out, absl::string_view s);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF): text that nlohmann::json can dump without throwing.
// First byte offset in `s` where it stops being valid UTF-8 (overlong forms, surrogates and
// values past U+10FFFF included), or npos when valid.
size_t FindInvalidUtf8(absl::string_view s);
bool IsValidUtf8(absl::string_view s);

// Parses JSON text the store wrote itself (records' JSON columns); `fallback` when it does
// not parse, so a damaged record degrades instead of failing the read.
Json ParseJsonOr(absl::string_view text, Json fallback);

// Rejects any field of `obj` that is not in `allowed`, so typos do not pass silently.
absl::Status RejectUnknownFields(const Json& obj, std::initializer_list<absl::string_view> allowed);

}  // namespace kade
