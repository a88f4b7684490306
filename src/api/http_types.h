// Transport-neutral request and response types. Route handlers see only these, so route
// files do not include Boost.Beast (that keeps them quick to compile and easy to test).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/json.h"

namespace kade {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received, with query
  std::string path;    // without the query, still percent-encoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string authorization;
  std::string content_type;
  std::string body;
  std::string remote;
  std::string request_id;
  std::string model_version;  // X-Kade-Model-Version: pins a model version on predict

  // First value of a query parameter, if present.
  std::optional<std::string> Query(absl::string_view key) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, the body is this file, streamed from disk.
  std::string file_path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user;  // authenticated user, for the access log

  static HttpResponse MakeJson(int status, const Json& body);
  // A body that is already JSON text.
  static HttpResponse MakeJsonText(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static HttpResponse Error(const absl::Status& status);
  // The same error in MLflow's REST shape and codes (RESOURCE_DOES_NOT_EXIST, ...).
  static HttpResponse MlflowError(const absl::Status& status);
};

// Attaches an explicit HTTP status to an error (e.g. 413 for a too-large upload), for the
// few cases where the Status code alone is ambiguous.
absl::Status WithHttpStatus(absl::Status status, int http_status);
int HttpStatusOf(const absl::Status& status);
const char* ErrorCodeName(absl::StatusCode code);

// Percent-decodes `in`; InvalidArgument on a malformed escape.
absl::Status PercentDecode(absl::string_view in, std::string* out, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs.
absl::Status ParseQuery(absl::string_view query,
                        std::vector<std::pair<std::string, std::string>>* out);

}  // namespace kade
