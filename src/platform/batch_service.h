// Batch inference: a job scores a dataset version with a model version (or the version an
// alias points at when the job runs) and writes the input columns plus the predictions as a
// new version of an output dataset, whose lineage names the job, the model version and the
// input version. Jobs run on the job queue (leases, retries on failure, logs, cancel); the
// input is parsed in parallel pieces and scored in parallel chunks.
//
// Schedules submit such a job on a cron expression in an explicit time zone. A scheduler
// thread fires due schedules; with several servers on one store, each firing is claimed by
// one of them.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/json.h"
#include "platform/dataset_service.h"
#include "platform/job_service.h"
#include "platform/registry_service.h"

namespace kade {

struct BatchSpec {
  std::string model;
  std::string version = "champion";  // a version number or an alias, resolved at run time
  std::string dataset;
  std::string dataset_version = "latest";
  std::string output;  // dataset receiving the scored rows; default "<dataset>-scored"
  int threads = 2;
  bool force = false;    // score a version that failed a blocking quality check
  std::string schedule;  // set on jobs a schedule submitted

  static absl::StatusOr<BatchSpec> FromJson(const Json& j);
  Json ToJson() const;
};

class BatchService {
 public:
  BatchService(MetadataStore* store, JobService* jobs, RegistryService* registry,
               DatasetService* datasets);
  ~BatchService();

  absl::StatusOr<Job> Submit(const RequestContext& ctx, const Project& project, const Json& spec);
  absl::StatusOr<Json> ListJobs(const Project& project, int64_t limit);

  // {"name", "cron", "timezone", "spec": {...}, "enabled"}.
  absl::StatusOr<Json> CreateSchedule(const RequestContext& ctx, const Project& project,
                                      const Json& body);
  absl::StatusOr<Json> UpdateSchedule(const RequestContext& ctx, const Project& project,
                                      absl::string_view name, const Json& body);
  absl::Status DeleteSchedule(const RequestContext& ctx, const Project& project,
                              absl::string_view name);
  absl::StatusOr<Json> GetSchedule(const Project& project, absl::string_view name);
  absl::StatusOr<Json> ListSchedules(const Project& project);
  absl::StatusOr<Job> RunScheduleNow(const RequestContext& ctx, const Project& project,
                                     absl::string_view name);

  // The scheduler thread.
  void Start();
  void Stop();
  // Fires every schedule due at `now` (the scheduler's tick; tests call it directly).
  void Tick(int64_t now_ms);

 private:
  absl::StatusOr<std::pair<std::string, Json>> Run(
      const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
      const std::function<void(const std::string&)>& log);
  absl::Status Check(const Project& project, const BatchSpec& spec);
  Json ScheduleToJson(const JobSchedule& s, const std::vector<Job>& history);

  MetadataStore* store_;
  JobService* jobs_;
  RegistryService* registry_;
  DatasetService* datasets_;
  absl::Notification stop_;
  std::thread scheduler_;
};

}  // namespace kade
