#include "api/http_types.h"
#include "absl/strings/string_view.h"
#include "core/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kade {

namespace {
constexpr char kHttpStatusPayload[] = "kade/http-status";
}

std::optional<std::string> HttpRequest::Query(absl::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

HttpResponse HttpResponse::MakeJson(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

const char* ErrorCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    default:
      return "INTERNAL";
  }
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

int HttpStatusOf(const absl::Status& status) {
  if (auto p = status.GetPayload(kHttpStatusPayload)) {
    int v = 0;
    if (absl::SimpleAtoi(std::string(*p), &v)) return v;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpResponse HttpResponse::Error(const absl::Status& status) {
  HttpResponse r = MakeJson(
      HttpStatusOf(status),
      Json{{"error",
            {{"code", ErrorCodeName(status.code())}, {"message", std::string(status.message())}}}});
  if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"kade\"");
  if (int64_t wait = RetryAfterOf(status); wait >= 0) {
    r.headers.emplace_back("Retry-After", absl::StrCat(wait));
  }
  return r;
}

HttpResponse HttpResponse::MlflowError(const absl::Status& status) {
  int http = 500;
  const char* code = "INTERNAL_ERROR";
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      http = 404;
      code = "RESOURCE_DOES_NOT_EXIST";
      break;
    case absl::StatusCode::kInvalidArgument:
      http = 400;
      code = "INVALID_PARAMETER_VALUE";
      break;
    case absl::StatusCode::kAlreadyExists:
      http = 400;
      code = "RESOURCE_ALREADY_EXISTS";
      break;
    case absl::StatusCode::kFailedPrecondition:
      http = 400;
      code = "INVALID_STATE";
      break;
    case absl::StatusCode::kPermissionDenied:
      http = 403;
      code = "PERMISSION_DENIED";
      break;
    case absl::StatusCode::kUnauthenticated:
      http = 401;
      code = "UNAUTHENTICATED";
      break;
    case absl::StatusCode::kResourceExhausted:
      http = 429;
      code = "REQUEST_LIMIT_EXCEEDED";
      break;
    default:
      break;
  }
  if (int explicit_status = HttpStatusOf(status);
      explicit_status == 413 || explicit_status == 405) {
    http = explicit_status;
  }
  HttpResponse r =
      MakeJson(http, Json{{"error_code", code}, {"message", std::string(status.message())}});
  if (http == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"kade\"");
  if (int64_t wait = RetryAfterOf(status); wait >= 0) {
    r.headers.emplace_back("Retry-After", absl::StrCat(wait));
  }
  return r;
}

absl::Status PercentDecode(absl::string_view in, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = i + 1 < in.size() ? hex(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed percent-escape at position ", i + 1));
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  // Decoded text ends up in JSON (audit details, stored options), which must be UTF-8.
  if (!IsValidUtf8(*out)) {
    return absl::InvalidArgumentError("percent-escapes decode to bytes that are not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status ParseQuery(absl::string_view query,
                        std::vector<std::pair<std::string, std::string>>* out) {
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    std::string k, v;
    if (auto s = PercentDecode(part.substr(0, eq), &k, true); !s.ok()) return s;
    if (eq != absl::string_view::npos) {
      if (auto s = PercentDecode(part.substr(eq + 1), &v, true); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("query parameter '", k, "': ", s.message()));
      }
    }
    out->emplace_back(std::move(k), std::move(v));
  }
  return absl::OkStatus();
}

}  // namespace kade
