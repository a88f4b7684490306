// Training jobs, a kind of job on the job queue (platform/job_service.h): XGBoost and
// linear models trained by Kade itself, and hyper-parameter searches over them. Each
// training is a tracked run: params, per-round metrics, holdout evaluation, the model and
// its manifest as artifacts, the dataset version as input; a search is a parent run with a
// child run per trial.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "ml/train.h"
#include "platform/artifact_service.h"
#include "platform/context.h"
#include "platform/dataset_service.h"
#include "platform/job_service.h"
#include "platform/tracking_service.h"
#include "store/metadata.h"

namespace kade {

class TrainingService {
 public:
  // Registers the "train" kind with `jobs`.
  TrainingService(MetadataStore* store, JobService* jobs, DatasetService* datasets,
                  TrackingService* tracking, ArtifactService* artifacts, int threads_per_job);

  // Checks a training spec as far as it can be checked without reading the data (dataset
  // and version exist, the version passed its blocking quality checks or `force`, target and
  // columns exist, the target has labels and two values at least) and queues the job.
  absl::StatusOr<Job> Submit(const RequestContext& ctx, const Project& project, ml::TrainSpec spec);
  // Submits again what produced a run: a training run's spec from its model manifest (a
  // search trial becomes one training), a search's parent run from its job.
  absl::StatusOr<Job> Reproduce(const RequestContext& ctx, const Project& project,
                                absl::string_view run_id);

 private:
  struct Trained {
    std::string run_id;
    Json metrics;
    int rounds = 0;
    std::string model_sha;
  };
  struct TrainContext;
  // The job kind's runner.
  absl::StatusOr<std::pair<std::string, Json>> RunJob(
      const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
      const std::function<void(const std::string&)>& log);
  // Trains `spec` on the context's table and records it as a run (a child of `parent_run`
  // when set): params, metrics, input, model, manifest, evaluation.
  absl::StatusOr<Trained> TrainAndRecord(const TrainContext& tc, const ml::TrainSpec& spec,
                                         const std::string& run_name, const std::string& parent_run,
                                         int threads,
                                         std::vector<std::pair<std::string, std::string>> tags);
  absl::StatusOr<std::pair<std::string, Json>> RunSearch(const TrainContext& tc);
  void RecordAttemptRun(const TrainContext& tc, const std::string& run_id);

  MetadataStore* store_;
  JobService* jobs_;
  DatasetService* datasets_;
  TrackingService* tracking_;
  ArtifactService* artifacts_;
  int threads_per_job_;
};

}  // namespace kade
