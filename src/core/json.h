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

// Parses `text` and requires a JSON object at the top level.
absl::StatusOr<Json> ParseJsonObject(absl::string_view text);

// Typed field access for request bodies: an absent field yields nullopt, a field of the
// wrong type is InvalidArgument naming the field and the expected type.
absl::StatusOr<std::optional<std::string>> OptionalString(const Json& obj, absl::string_view field);
absl::StatusOr<std::string> RequiredString(const Json& obj, absl::string_view field);
absl::StatusOr<std::optional<bool>> OptionalBool(const Json& obj, absl::string_view field);
absl::StatusOr<std::optional<int64_t>> OptionalInt(const Json& obj, absl::string_view field);
// Appends `s` as a quoted JSON string, escaping as RFC 8259 requires; bytes that are not
// valid UTF-8 become U+FFFD. For hot paths (access logs) where building a Json is too slow.
void AppendJsonString(std::string* out, absl::string_view s);

// Parses JSON text the store wrote itself (records' JSON columns); `fallback` when it does
// not parse, so a damaged record degrades instead of failing the read.
Json ParseJsonOr(absl::string_view text, Json fallback);

// Rejects any field of `obj` that is not in `allowed`, so typos do not pass silently.
absl::Status RejectUnknownFields(const Json& obj, std::initializer_list<absl::string_view> allowed);

}  // namespace kade
