// Alerts on monitored figures (docs/monitoring.md#alerts), with Prometheus' semantics: a rule's
// condition (figure, comparator, threshold over a window) is evaluated every 15 s; true, the
// rule is pending; true for its `for` duration, firing; false again, resolved (inactive). Each
// change of state is kept in the rule's history; firing and resolving notify the rule's
// channels: a webhook (the body signed with HMAC-SHA256 in X-Kade-Signature, Alertmanager's
// webhook payload), an Alertmanager (its /api/v2/alerts), and always the in-app inbox (the
// alert list). Deliveries wait in an outbox and are retried with exponential backoff, so a
// receiver that is down loses nothing and blocks nothing. A firing rule can start
// retraining: the champion's training spec again on the newest dataset version, whose model
// then goes through the gates like any other (never promoted here).
//
// Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "platform/monitoring_service.h"
#include "platform/training_service.h"
#include "store/monitoring.h"

namespace kade {

// The HTTP POST the outbox delivers with (implemented over the project's HTTP client by the
// server; a fake in tests). Returns the HTTP status, or an error when nothing was answered.
using AlertPoster = std::function<absl::StatusOr<int>(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body)>;

struct AlertRuleSpec {
  std::string name;
  std::string endpoint;
  // dataset_drift (1 when drifting) | drift_share | feature_drift (the feature's drift
  // value: a distance, or a p-value) | feature_drifted (1 when drifting) | error_rate |
  // availability | p99_ms | requests | violations | kpi (sum of `feature`) | auc | accuracy |
  // rmse (realised, from ground truth) | estimated_auc | estimated_accuracy (CBPE) |
  // multivariate_drift (1 when the PCA reconstruction error leaves the reference's band) |
  // reconstruction_error (its mean in the window)
  std::string metric;
  std::string feature;           // for feature_drift, feature_drifted and kpi
  std::string comparator = ">";  // > >= < <=
  double threshold = 0;
  std::string window = "1h";
  int64_t for_ms = 0;
  std::string severity = "warning";   // info | warning | critical
  std::vector<std::string> channels;  // channel names
  bool retrain = false;
  std::string description;

  Json ToJson() const;
  // Strict; InvalidArgument names the field.
  static absl::StatusOr<AlertRuleSpec> FromJson(const Json& j);
};

struct AlertRule {
  AlertRuleRecord record;
  AlertRuleSpec spec;
  bool silenced = false;
  std::vector<AlertEvent> history;        // newest first
  std::vector<AlertDelivery> deliveries;  // newest first
};

struct ChannelSpec {
  std::string name, kind, url, secret;  // secret: empty to generate one (webhooks)
};

class AlertService {
 public:
  AlertService(MetadataStore* store, MonitoringService* monitoring, ServingService* serving,
               RegistryService* registry, TrainingService* training);
  ~AlertService();
  void SetPoster(AlertPoster poster) { poster_ = std::move(poster); }
  // Evaluates every `interval_s` seconds (15 by default) and works the outbox every second.
  void Start(double interval_s = 15);
  void Stop();

  absl::StatusOr<AlertRule> CreateRule(const RequestContext& ctx, const Project& project,
                                       const AlertRuleSpec& spec);
  absl::StatusOr<std::vector<AlertRule>> Rules(const Project& project);
  absl::StatusOr<AlertRule> Rule(const Project& project, absl::string_view name);
  absl::Status DeleteRule(const RequestContext& ctx, const Project& project,
                          absl::string_view name);
  // Silences notifications until `until_ms` (0: lifts the silence); the rule still changes
  // state and keeps its history.
  absl::StatusOr<AlertRule> Silence(const RequestContext& ctx, const Project& project,
                                    absl::string_view name, int64_t until_ms);
  absl::StatusOr<AlertRule> Acknowledge(const RequestContext& ctx, const Project& project,
                                        absl::string_view name);

  // The channel with its secret (shown once, at creation).
  absl::StatusOr<AlertChannel> CreateChannel(const RequestContext& ctx, const Project& project,
                                             const ChannelSpec& spec);
  absl::StatusOr<std::vector<AlertChannel>> Channels(const Project& project);  // no secrets
  absl::Status DeleteChannel(const RequestContext& ctx, const Project& project,
                             absl::string_view name);

  // Adds each endpoint's firing alerts to the fleet (a firing alert makes it at least amber,
  // a critical one red) and sorts it again.
  void AnnotateFleet(const std::vector<Project>& projects, std::vector<FleetEntry>* fleet);

  // One evaluation of every rule and one pass over the outbox (the loop runs these; tests
  // call them directly).
  absl::Status Evaluate();
  absl::Status Deliver();

  // The figure a rule watches, now (nullopt: no data in the window).
  absl::StatusOr<std::optional<double>> Figure(const Project& project, const AlertRuleSpec& spec);

 private:
  absl::StatusOr<AlertRule> Load(const Project& project, const AlertRuleRecord& r, bool detail);
  absl::StatusOr<AlertRuleRecord> Find(const Project& project, absl::string_view name);
  std::string Payload(const Project& project, const AlertRuleRecord& r, const AlertRuleSpec& spec,
                      const std::string& status, const std::string& receiver, bool alertmanager);
  void Loop(int64_t interval_ms);

  MetadataStore* store_;
  MonitoringService* monitoring_;
  ServingService* serving_;
  RegistryService* registry_;
  TrainingService* training_;
  AlertPoster poster_;
  std::mutex eval_mu_;
  std::thread thread_;
  absl::Notification stop_;
};

}  // namespace kade
