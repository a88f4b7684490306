// Experiment tracking: experiments (in a project), runs, params (immutable), metrics (full
// history, latest kept for search), tags, dataset inputs, and run search with MLflow's
// filter syntax. Every change is authorised against the experiment's project and audited in
// the same transaction.
//
// Thread safety: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/context.h"
#include "platform/policy.h"
#include "store/metadata.h"

namespace kade {

// Documented limits (as MLflow's).
inline constexpr size_t kMaxBatchMetrics = 1000;
inline constexpr size_t kMaxBatchParams = 100;
inline constexpr size_t kMaxBatchTags = 100;
inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 8000;

struct RunView {
  Run run;
  RunData data;
  Experiment experiment;
  std::string project;
};

struct RunSearch {
  std::vector<int64_t> experiment_ids;
  std::string filter;
  std::vector<std::string> order_by;
  std::string view = "active";
  int64_t max_results = 1000;
  std::string page_token;
};

class TrackingService {
 public:
  explicit TrackingService(MetadataStore* store) : store_(store) {}

  absl::StatusOr<Experiment> CreateExperiment(
      const RequestContext& ctx, const Project& project, absl::string_view name,
      const std::vector<std::pair<std::string, std::string>>& tags);
  absl::StatusOr<std::pair<Experiment, Project>> GetExperiment(const Principal& who, int64_t id);
  absl::StatusOr<Experiment> GetExperimentByName(const Principal& who, const Project& project,
                                                 absl::string_view name);
  // Experiments in `projects` the caller may see.
  absl::StatusOr<std::vector<std::pair<Experiment, std::string>>> ListExperiments(
      const Principal& who, const std::vector<Project>& projects, absl::string_view view);
  absl::Status RenameExperiment(const RequestContext& ctx, int64_t id, absl::string_view new_name);
  absl::Status SetExperimentLifecycle(const RequestContext& ctx, int64_t id, bool deleted);
  absl::Status SetExperimentTag(const RequestContext& ctx, int64_t id, absl::string_view key,
                                absl::string_view value);

  // `user_id`: MLflow's run user as the client gave it (default: the caller, who is kept as
  // the run's creator either way).
  absl::StatusOr<RunView> CreateRun(const RequestContext& ctx, int64_t experiment_id,
                                    absl::string_view name, std::optional<int64_t> start_time,
                                    const std::vector<std::pair<std::string, std::string>>& tags,
                                    absl::string_view user_id = {});
  absl::StatusOr<RunView> GetRun(const Principal& who, absl::string_view run_id);
  absl::StatusOr<Run> UpdateRun(const RequestContext& ctx, absl::string_view run_id,
                                std::optional<std::string> status, std::optional<int64_t> end_time,
                                std::optional<std::string> name);
  absl::Status SetRunLifecycle(const RequestContext& ctx, absl::string_view run_id, bool deleted);
  // Validates everything first; writes all of it or nothing.
  absl::Status LogBatch(const RequestContext& ctx, absl::string_view run_id,
                        const std::vector<MetricPoint>& metrics,
                        const std::vector<std::pair<std::string, std::string>>& params,
                        const std::vector<std::pair<std::string, std::string>>& tags);
  // The same checks, returning the change instead of writing it, for a caller that commits
  // it itself (the server's asynchronous group commit). The change re-checks the run and
  // the caller's role inside its transaction.
  using Change = std::function<absl::Status(Transaction&)>;
  absl::StatusOr<Change> PrepareLogBatch(RequestContext ctx, std::string run_id,
                                         std::vector<MetricPoint> metrics,
                                         std::vector<std::pair<std::string, std::string>> params,
                                         std::vector<std::pair<std::string, std::string>> tags);
  absl::Status DeleteTag(const RequestContext& ctx, absl::string_view run_id,
                         absl::string_view key);
  absl::Status LogInputs(const RequestContext& ctx, absl::string_view run_id,
                         const std::vector<RunInput>& inputs);
  absl::StatusOr<std::vector<MetricPoint>> MetricHistory(const Principal& who,
                                                         absl::string_view run_id,
                                                         absl::string_view key);
  // Returns the runs of one page and the next page token ("" when done).
  absl::StatusOr<std::pair<std::vector<RunView>, std::string>> SearchRuns(const Principal& who,
                                                                          const RunSearch& s);

 private:
  // The project of an experiment, checked against the caller's role (NotFound if hidden).
  absl::StatusOr<Project> Authorized(Transaction& tx, const Principal& who, int64_t project_id,
                                     Permission need);
  // An experiment and its project, if the caller holds `need` there (else NotFound or
  // PermissionDenied).
  absl::StatusOr<std::pair<Experiment, Project>> AccessibleExperiment(Transaction& tx,
                                                                      const Principal& who,
                                                                      int64_t id, Permission need);
  // A run and its experiment, if the caller holds `need` in its project (else NotFound or
  // PermissionDenied).
  absl::StatusOr<std::pair<Run, Experiment>> AccessibleRun(Transaction& tx, const Principal& who,
                                                           absl::string_view run_id,
                                                           Permission need, Project* project);
  MetadataStore* store_;
};

absl::Status ValidateTrackingKey(absl::string_view kind, absl::string_view key);

// A metric value as proto3 JSON writes it: a number, or "NaN" / "Infinity" / "-Infinity".
Json MetricValueJson(const MetricPoint& m);

}  // namespace kade
