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

struct AlertChannel {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string kind;  // webhook | alertmanager
  std::string url;
  std::string secret;  // HMAC key of a webhook
  std::string created_by;
  int64_t created_at = 0;
};

struct AlertRuleRecord {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string spec;                // JSON (platform/alert_service.h)
  std::string state = "inactive";  // inactive | pending | firing
  int64_t state_since = 0;
  int64_t active_since = 0;  // when the condition last became true
  std::optional<double> value;
  int64_t evaluated_at = 0;
  int64_t silenced_until = 0;
  std::string acknowledged_by;
  std::string created_by;
  int64_t created_at = 0, updated_at = 0;
};

struct AlertEvent {
  int64_t id = 0;
  int64_t rule_id = 0;
  int64_t ts = 0;
  std::string state;  // pending | firing | resolved | silenced | acknowledged
  std::optional<double> value;
  std::string message;
};

struct AlertDelivery {
  int64_t id = 0;
  int64_t channel_id = 0;
  int64_t rule_id = 0;
  std::string body;
  int64_t attempts = 0;
  int64_t next_at = 0;
  std::string last_error;
  int64_t delivered_at = 0;  // 0: not yet; -1: given up
  int64_t created_at = 0;
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

  // Alerts. Names are unique per project (AlreadyExists).
  virtual absl::StatusOr<AlertChannel> CreateChannel(const AlertChannel& c) = 0;
  virtual absl::StatusOr<std::vector<AlertChannel>> Channels(int64_t project_id) = 0;
  virtual absl::Status DeleteChannel(int64_t id) = 0;
  virtual absl::StatusOr<AlertRuleRecord> CreateRule(const AlertRuleRecord& r) = 0;
  // project_id 0: every project's.
  virtual absl::StatusOr<std::vector<AlertRuleRecord>> Rules(int64_t project_id) = 0;
  // State, value, times, silence and acknowledgement (and spec, updated_at).
  virtual absl::Status UpdateRule(const AlertRuleRecord& r) = 0;
  virtual absl::Status DeleteRule(int64_t id) = 0;
  virtual absl::Status AddEvent(const AlertEvent& e) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<AlertEvent>> Events(int64_t rule_id, int64_t limit) = 0;
  virtual absl::Status AddDelivery(const AlertDelivery& d) = 0;
  // Not delivered, not given up, due at `now`.
  virtual absl::StatusOr<std::vector<AlertDelivery>> DueDeliveries(int64_t now, int64_t limit) = 0;
  virtual absl::Status UpdateDelivery(const AlertDelivery& d) = 0;
  // Newest first, of one rule.
  virtual absl::StatusOr<std::vector<AlertDelivery>> Deliveries(int64_t rule_id, int64_t limit) = 0;
};

}  // namespace kade
