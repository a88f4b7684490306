// Background jobs of any registered kind (training: platform/training_service.h; batch
// scoring: platform/batch_service.h): submitted through the API, kept in the metadata
// store, run by an in-process worker pool.
//
// A worker claims the oldest queued job with a lease and renews the lease while it works;
// the renewal also brings cancellation requests. When a server dies mid-job its lease runs
// out, and the job is queued again (or failed after its last allowed attempt) by the next
// worker to look, here or on another server sharing the store. A job's run (if it has one)
// of an attempt whose worker died is closed before the next attempt.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/json.h"
#include "platform/context.h"
#include "platform/tracking_service.h"
#include "store/metadata.h"

namespace kade {

struct JobOptions {
  int workers = 1;
  int threads_per_job = 2;
  int lease_s = 30;
  int poll_ms = 500;  // how often an idle worker looks for work
  // A failed attempt of a retried job waits this long before the next (doubled for each
  // further attempt, at most 5 minutes), so a passing outage is not met three times in a row.
  int retry_backoff_ms = 10000;
};

class JobService {
 public:
  // `tracking`: to close the run of an attempt whose worker died.
  JobService(MetadataStore* store, TrackingService* tracking, JobOptions options);
  ~JobService();

  // Each kind of job (training, batch scoring) plugs in its runner: it returns the job's run
  // id (or "") and result, and checks `cancel` between chunks of work. With `retry`, a
  // failed attempt is queued again (after a backoff) until its attempts are used up.
  using Runner = std::function<absl::StatusOr<std::pair<std::string, Json>>(
      const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
      const std::function<void(const std::string&)>& log)>;
  void RegisterKind(const std::string& kind, Runner runner, bool retry = true);
  // Queues a job of a registered kind whose spec the caller has checked; audited as
  // `action` with `detail`. `uuid`: the job's id when the caller needed it before (else new).
  absl::StatusOr<Job> Enqueue(const RequestContext& ctx, const Project& project,
                              const std::string& kind, const Json& spec, const std::string& action,
                              const Json& detail, const std::string& first_log_line,
                              const std::string& uuid = "");
  absl::StatusOr<Job> Get(const Project& project, absl::string_view id);
  // The project a job belongs to (for runners).
  absl::StatusOr<Project> ProjectOf(const Job& job);
  absl::StatusOr<std::vector<Job>> List(const Project& project, int64_t limit);
  absl::StatusOr<std::vector<JobLogLine>> Logs(const Project& project, absl::string_view id,
                                               int64_t after_seq);
  absl::StatusOr<Job> Cancel(const RequestContext& ctx, const Project& project,
                             absl::string_view id);

  // Starts and stops the workers (Stop waits for running jobs to notice; their leases let
  // another server take them up if this one is killed instead).
  void Start();
  void Stop();

 private:
  void WorkerLoop(int index);
  void RunJob(Job job, const std::string& owner);
  void Log(int64_t job_id, const std::string& line);
  void Wake();  // an idle worker looks for work now

  MetadataStore* store_;
  TrackingService* tracking_;
  JobOptions options_;
  std::string instance_;  // lease owner prefix of this process
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> stopping_now_{false};  // read by running jobs: give the job back
  std::vector<std::thread> workers_;
  struct Kind {
    Runner runner;
    bool retry = true;
  };
  std::map<std::string, Kind> kinds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
