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

  // The stored form (a job's and a schedule's `spec`), which is also the wire form.
  static absl::StatusOr<BatchSpec> FromJson(const Json& j);
  Json ToJson() const;
};

// A cron schedule that submits `spec` (the time zone is never implied).
struct ScheduleSpec {
  std::string name;
  std::string cron;
  std::string timezone;
  BatchSpec spec;
  bool enabled = true;
};

// A change to a schedule: what is set is replaced.
struct ScheduleChange {
  std::optional<std::string> cron, timezone;
  std::optional<bool> enabled;
  std::optional<BatchSpec> spec;
};

// A schedule with the jobs it submitted, newest first (at most 20).
struct ScheduleView {
  JobSchedule schedule;
  std::vector<Job> history;
};

class BatchService {
 public:
  BatchService(MetadataStore* store, JobService* jobs, RegistryService* registry,
               DatasetService* datasets);
  ~BatchService();

  absl::StatusOr<Job> Submit(const RequestContext& ctx, const Project& project,
                             const BatchSpec& spec);
  // The newest batch jobs.
  absl::StatusOr<std::vector<Job>> ListJobs(const Project& project, int64_t limit);

  absl::StatusOr<ScheduleView> CreateSchedule(const RequestContext& ctx, const Project& project,
                                              ScheduleSpec s);
  absl::StatusOr<ScheduleView> UpdateSchedule(const RequestContext& ctx, const Project& project,
                                              absl::string_view name, ScheduleChange change);
  absl::Status DeleteSchedule(const RequestContext& ctx, const Project& project,
                              absl::string_view name);
  absl::StatusOr<ScheduleView> GetSchedule(const Project& project, absl::string_view name);
  absl::StatusOr<std::vector<ScheduleView>> ListSchedules(const Project& project);
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
  // `s` with the jobs among `jobs` it submitted.
  static ScheduleView View(const JobSchedule& s, const std::vector<Job>& jobs);

  MetadataStore* store_;
  JobService* jobs_;
  RegistryService* registry_;
  DatasetService* datasets_;
  absl::Notification stop_;
  std::thread scheduler_;
};

}  // namespace kade
