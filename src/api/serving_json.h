// The JSON of the endpoint routes: request bodies parsed into the serving service's typed
// requests (a 400 names the field), and its answers rendered in the shape docs/api.md and
// the web UI use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/serving_service.h"

namespace kade {

// {name, model, alias | targets, shadow, log_sample, description, force}
absl::StatusOr<EndpointSpec> ParseEndpointSpec(const Json& body);
// {alias | targets, shadow, log_sample, description, force}: what is given changes.
absl::StatusOr<EndpointChange> ParseEndpointChange(const Json& body);
Json EndpointStatusToJson(const EndpointStatus& s);

// {"request_id": ID, "label": VALUE} or {"items": [{...}, ...]} (1 to 10,000 items).
absl::StatusOr<FeedbackItems> ParseFeedback(const Json& body);

// {"predictions": [{request_id, time, version, shadow, latency_us, features, outputs,
// label}], "dropped"}.
Json PredictionPageToJson(const PredictionPage& page);
Json PerformanceToJson(const EndpointPerformance& perf, int64_t window_ms);

// A replica's forwarded log entries: {"records": [{request_id, ts, version, shadow,
// latency_us, features, outputs}], "replica"}.
struct ForwardedLog {
  std::vector<PredictionRecord> records;
  std::string replica;
};
absl::StatusOr<ForwardedLog> ParseForwardedLog(const Json& body);

}  // namespace kade
