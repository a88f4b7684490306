// Records and repository of endpoint monitoring: each endpoint's monitor (its configuration
// as JSON, platform/monitoring_service.h), the stored summary buckets of what it served
// (data/window_summary.h, minute, hour and day buckets), and posted KPI values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kade {

struct MonitorRecord {
  int64_t endpoint_id = 0;
  std::string config;  // JSON
  std::string updated_by;
  int64_t updated_at = 0;
};

struct MonitorBucket {
  int64_t endpoint_id = 0;
  int64_t version = 0;
  int64_t width_ms = 0;
  int64_t start_ms = 0;
  std::string summary;  // WindowSummary::ToBytes
};

struct KpiPoint {
  int64_t endpoint_id = 0;
  std::string name;
  int64_t ts = 0;
  double value = 0;
  std::string actor;
};

class MonitoringRepository {
 public:
  virtual ~MonitoringRepository() = default;
  virtual absl::StatusOr<std::optional<MonitorRecord>> FindMonitor(int64_t endpoint_id) = 0;
  virtual absl::Status PutMonitor(const MonitorRecord& m) = 0;
  virtual absl::StatusOr<std::optional<MonitorBucket>> FindBucket(int64_t endpoint_id,
                                                                  int64_t version, int64_t width_ms,
                                                                  int64_t start_ms) = 0;
  // Inserts or replaces.
  virtual absl::Status PutBucket(const MonitorBucket& b) = 0;
  // An endpoint's buckets (every version, every width) starting in [from, to), oldest first.
  virtual absl::StatusOr<std::vector<MonitorBucket>> Buckets(int64_t endpoint_id, int64_t from,
                                                             int64_t to) = 0;
  // Buckets of every endpoint of width `width_ms` that start before `before`.
  virtual absl::StatusOr<std::vector<MonitorBucket>> BucketsBefore(int64_t width_ms,
                                                                   int64_t before) = 0;
  virtual absl::Status DeleteBucket(int64_t endpoint_id, int64_t version, int64_t width_ms,
                                    int64_t start_ms) = 0;
  // Deletes every bucket that starts before `before`; returns how many.
  virtual absl::StatusOr<int64_t> PruneBuckets(int64_t before) = 0;

  virtual absl::Status AddKpis(const std::vector<KpiPoint>& points) = 0;
  // An endpoint's KPI values in [from, to), oldest first.
  virtual absl::StatusOr<std::vector<KpiPoint>> Kpis(int64_t endpoint_id, int64_t from,
                                                     int64_t to) = 0;
  virtual absl::StatusOr<int64_t> PruneKpis(int64_t before) = 0;
};

}  // namespace kade
