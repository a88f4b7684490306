// Background jobs (training now; batch scoring later): submitted through the API, kept in
// the metadata store, run by an in-process worker pool.
//
// A worker claims the oldest queued job with a lease and renews the lease while it works;
// the renewal also brings cancellation requests. When a server dies mid-job its lease runs
// out, and the job is queued again (or failed after its last allowed attempt) by the next
// worker to look, here or on another server sharing the store. Each training job is a
// tracked run: params, per-round metrics, holdout evaluation, the model and its manifest as
// artifacts, the dataset version as input.
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
#include "ml/train.h"
#include "platform/artifact_service.h"
#include "platform/context.h"
#include "platform/dataset_service.h"
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
  JobService(MetadataStore* store, DatasetService* datasets, TrackingService* tracking,
             ArtifactService* artifacts, JobOptions options);
  ~JobService();

  // Checks a training spec as far as it can be checked without reading the data (dataset
  // and version exist, the version passed its blocking quality checks or `force`, target and
  // columns exist, the target has labels and two values at least) and queues the job.
  absl::StatusOr<Job> SubmitTraining(const RequestContext& ctx, const Project& project,
                                     const Json& spec);
  // Submits again what produced a run: a training run's spec from its model manifest (a
  // search trial becomes one training), a search's parent run from its job.
  absl::StatusOr<Job> Reproduce(const RequestContext& ctx, const Project& project,
                                absl::string_view run_id);
  // Other kinds of job (batch scoring) plug in their runner: it returns the job's run id
  // (or "") and result, and checks `cancel` between chunks of work. A failed attempt of such
  // a job is queued again until its attempts are used up.
  using Runner = std::function<absl::StatusOr<std::pair<std::string, Json>>(
      const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
      const std::function<void(const std::string&)>& log)>;
  void RegisterKind(const std::string& kind, Runner runner);
  // Queues a job of a registered kind whose spec the caller has checked; audited as
  // `action` with `detail`.
  absl::StatusOr<Job> Enqueue(const RequestContext& ctx, const Project& project,
                              const std::string& kind, const Json& spec, const std::string& action,
                              const Json& detail, const std::string& first_log_line);
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
  struct Trained {
    std::string run_id;
    Json metrics;
    int rounds = 0;
    std::string model_sha;
  };
  struct TrainContext;
  void WorkerLoop(int index);
  void RunJob(Job job, const std::string& owner);
  absl::StatusOr<std::pair<std::string, Json>> RunTraining(const Job& job,
                                                           const RequestContext& ctx,
                                                           const std::atomic<bool>& cancel);
  // Trains `spec` on the context's table and records it as a run (a child of `parent_run`
  // when set): params, metrics, input, model, manifest, evaluation.
  absl::StatusOr<Trained> TrainAndRecord(const TrainContext& tc, const ml::TrainSpec& spec,
                                         const std::string& run_name, const std::string& parent_run,
                                         int threads,
                                         std::vector<std::pair<std::string, std::string>> tags);
  absl::StatusOr<std::pair<std::string, Json>> RunSearch(const TrainContext& tc);
  void RecordAttemptRun(const TrainContext& tc, const std::string& run_id);
  void Log(int64_t job_id, const std::string& line);
  void Wake();  // an idle worker looks for work now

  MetadataStore* store_;
  DatasetService* datasets_;
  TrackingService* tracking_;
  ArtifactService* artifacts_;
  JobOptions options_;
  std::string instance_;  // lease owner prefix of this process
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> stopping_now_{false};  // read by running jobs: give the job back
  std::vector<std::thread> workers_;
  std::map<std::string, Runner> runners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
