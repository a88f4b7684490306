// The set of services behind one Kade server process, opened from a ServerConfig. Owns the
// stores; services hold raw pointers into them and live exactly as long.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "platform/alert_service.h"
#include "platform/artifact_service.h"
#include "platform/audit_log.h"
#include "platform/auth_service.h"
#include "platform/batch_service.h"
#include "platform/dataset_service.h"
#include "platform/explain_service.h"
#include "platform/job_service.h"
#include "platform/monitoring_service.h"
#include "platform/project_service.h"
#include "platform/registry_service.h"
#include "platform/serving_service.h"
#include "platform/tracking_service.h"
#include "platform/training_service.h"
#include "store/artifact_store.h"
#include "store/metadata.h"
#include "store/prediction_log.h"

namespace kade {

class Platform {
 public:
  // Creates the data directory if needed, opens and migrates the stores.
  static absl::StatusOr<std::unique_ptr<Platform>> Open(const ServerConfig& config);

  // Seeds a demo project with members and a few artifacts when the store holds no project
  // yet, so a newcomer has something to look at. Idempotent.
  absl::Status SeedDemo();

  // After a start that seeded the demo: waits for the demo's training jobs, registers their
  // models (champion and challenger), creates an endpoint with a 90/10 canary and sends it
  // traffic with ground truth for most requests. Returns early when `stop` is set.
  absl::Status FinishDemo(const std::atomic<bool>& stop);
  bool demo_pending() const { return !demo_jobs_.empty(); }

  void Close() {
    if (alerts) alerts->Stop();
    if (batch) batch->Stop();
    if (jobs) jobs->Stop();
    if (serving) serving->Stop();
    if (monitoring) monitoring->Stop();
    store->Close();
  }

 private:
  std::vector<std::string> demo_jobs_;  // training jobs the demo seeding queued
  absl::Status SeedDemoExperiment(const RequestContext& as_alice, const Project& demo);

 public:
  ServerConfig config;
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<ArtifactStore> blobs;
  std::unique_ptr<PredictionLog> predictions;  // <data dir>/predictions
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<AuthService> auth;
  std::unique_ptr<ProjectService> projects;
  std::unique_ptr<ArtifactService> artifacts;
  std::unique_ptr<DatasetService> datasets;
  std::unique_ptr<TrackingService> tracking;
  std::unique_ptr<JobService> jobs;  // workers start with Start(), in the server
  std::unique_ptr<TrainingService> training;
  std::unique_ptr<RegistryService> registry;
  std::unique_ptr<ServingService> serving;  // endpoints load with Start(), in the server
  std::unique_ptr<BatchService> batch;      // the scheduler starts with Start(), in the server
  // Observes serving and starts in the server (a replica's answers are summarised by the
  // server they are forwarded to).
  std::unique_ptr<MonitoringService> monitoring;
  std::unique_ptr<AlertService> alerts;  // evaluation and the outbox start in the server
  std::unique_ptr<ExplainService> explain;
};

}  // namespace kade
