// The JSON of the monitoring routes (api/monitoring_routes.cc): the monitoring service's
// typed reports rendered in the shape docs/monitoring.md and the web UI use, and KPI posts
// parsed (a 400 names the field).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/monitoring_service.h"

namespace kade {

Json MonitorToJson(const Monitor& m);
Json DriftToJson(const DriftReport& r, int64_t window_ms);
Json QualityToJson(const QualityReport& r, int64_t window_ms);
Json HealthToJson(const HealthReport& r, int64_t window_ms);
Json KpisToJson(const KpiReport& r, int64_t window_ms);
Json TrendToJson(const TrendReport& r, int64_t window_ms);
Json FleetToJson(const std::vector<FleetEntry>& fleet);
Json BatchMonitorToJson(const BatchMonitorReport& r);
// {name, value, time} or {"points": [{name, value, time}, ...]} (1 to 10,000); time is
// RFC 3339 or Unix ms, at most a day ahead and within the retention; absent: now.
absl::StatusOr<std::vector<KpiPoint>> ParseKpis(const Json& body, int retention_days);

}  // namespace kade
