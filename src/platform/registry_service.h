// Model registry: registered models in a project, their versions (from a training run's
// model, or imported from an XGBoost model file trained elsewhere), aliases, archiving,
// comparison, and the quality gates an alias that serves traffic must pass before it moves.
//
// Moving an alias is the rollout; moving it back (Rollback, from the alias history) is the
// rollback. Observers (the serving manager) hear about every alias move after it commits.
//
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/json.h"
#include "ml/servable.h"
#include "ml/train.h"
#include "platform/artifact_service.h"
#include "platform/context.h"
#include "platform/dataset_service.h"
#include "platform/loading_cache.h"
#include "platform/tracking_service.h"
#include "store/metadata.h"

namespace kade {

// Quality gates of a registered model (docs/registry.md): what a version must pass before an
// alias that serves traffic moves to it.
struct GateConfig {
  struct MetricBound {
    std::string metric;
    std::optional<double> min, max;
  };
  // The version must score at least as well as the champion on a dataset version.
  struct BeatChampion {
    std::string dataset;
    std::string version = "latest";  // a version number or "latest"
    std::string metric;
    std::string alias = "champion";
  };
  std::vector<MetricBound> metrics;
  std::optional<BeatChampion> beat_champion;
  std::optional<double> latency_p99_ms;
  bool data_quality = false;
  std::optional<std::vector<std::string>> aliases;  // the gated aliases; unset: "champion"

  // The stored form (the models table's `gates`), which is also the wire form. Strict, so
  // a typo cannot switch a gate off: unknown fields and wrong types name the field.
  static absl::StatusOr<GateConfig> FromJson(const Json& j);
  Json ToJson() const;
};

using Tags = std::map<std::string, std::string>;

// A new registered model.
struct ModelSpec {
  std::string name;
  std::string description;
  Tags tags;
  GateConfig gates;
};

// A change to a registered model: what is set is replaced, the rest kept.
struct ModelChange {
  std::optional<std::string> description;
  std::optional<Tags> tags;
  std::optional<GateConfig> gates;
};

// A model file trained elsewhere, imported as a new version.
struct ImportSpec {
  std::string model_bytes;  // XGBoost JSON or UBJSON
  // The features, either given or read from a dataset version's schema and profile.
  struct FromDataset {
    std::string dataset;
    std::string version = "latest";
    std::string target;
  };
  std::optional<FromDataset> from_dataset;
  std::vector<ml::Feature> features;  // when not from a dataset
  std::string target;
  std::optional<std::string> task;                  // default: from the objective
  std::optional<std::vector<std::string>> classes;  // default: "0", "1", ...
  std::optional<std::vector<std::string>> null_tokens;
  std::map<std::string, double> metrics;
  std::string description;
  // Set when a client registers a model logged elsewhere (MLflow's model-versions/create).
  std::string run_id;      // the run it came from, in the same project
  std::string source_uri;  // as the client gave it
  Tags tags;
};

// A model directory in the project's artifact store (MLflow's `source`): a Kade-trained
// run's model (kade_model.json) or an MLflow-logged model (MLmodel with the xgboost flavor).
struct ArtifactModelSpec {
  std::string dir;         // artifact name prefix, e.g. runs/RUN/artifacts/model
  std::string run_id;      // optional
  std::string source_uri;  // as the client gave it
  std::string description;
  Tags tags;
};

// A change to a version: what is set is replaced.
struct VersionChange {
  std::optional<std::string> description;
  std::optional<Tags> tags;
};

// Versions side by side: manifests' metrics, params and lineage (documents as stored), and
// each version's signature changes against the first.
struct VersionComparison {
  struct SignatureChanges {
    int64_t against = 0;
    std::vector<std::string> added, removed, type_changed;
    bool task_changed = false;
  };
  ModelVersion version;
  Json metrics, params, lineage;
  std::optional<SignatureChanges> signature_changes;  // unset for the first
};

// Where a version came from and where it serves.
struct VersionLineage {
  std::string model;
  int64_t version = 0;
  std::string run_id;
  Json dataset;  // the manifest's lineage document
  std::vector<std::string> aliases;
  std::vector<std::string> endpoints;
};

struct ModelDetails {
  RegisteredModel model;
  std::vector<ModelVersion> versions;  // newest first
  std::vector<ModelAlias> aliases;
};

// Loaded model versions, by (model id, version).
using ServableKey = std::pair<int64_t, int64_t>;
using ServableCache = LoadingCache<ServableKey, ml::Servable>;

class RegistryService {
 public:
  // `servable_budget_bytes`: what loaded versions nobody holds may occupy (model file bytes).
  RegistryService(MetadataStore* store, ArtifactService* artifacts, TrackingService* tracking,
                  DatasetService* datasets, uint64_t servable_budget_bytes = 2ull << 30);

  absl::StatusOr<RegisteredModel> CreateModel(const RequestContext& ctx, const Project& project,
                                              const ModelSpec& spec);
  absl::StatusOr<std::vector<ModelDetails>> ListModels(const Project& project);
  absl::StatusOr<ModelDetails> GetModel(const Project& project, absl::string_view name);
  // Description, tags and gates (see docs/registry.md).
  absl::StatusOr<RegisteredModel> UpdateModel(const RequestContext& ctx, const Project& project,
                                              absl::string_view name, const ModelChange& change);
  // Models with their versions (without manifests and gate reports) and aliases, read in
  // two queries: for searches over many models.
  absl::StatusOr<std::vector<ModelDetails>> ListModelsBrief(const Project& project);
  // Endpoints keep serving a renamed model (they hold its id).
  absl::StatusOr<RegisteredModel> RenameModel(const RequestContext& ctx, const Project& project,
                                              absl::string_view name, absl::string_view new_name);
  // Refused while an endpoint serves the model; removes its versions and aliases.
  absl::Status DeleteModel(const RequestContext& ctx, const Project& project,
                           absl::string_view name);
  absl::StatusOr<ModelVersion> UpdateVersion(const RequestContext& ctx, const Project& project,
                                             absl::string_view model, int64_t version,
                                             const VersionChange& change);
  // Refused while an alias points at the version or an endpoint pins it. The number is not
  // reused.
  absl::Status DeleteVersion(const RequestContext& ctx, const Project& project,
                             absl::string_view model, int64_t version);
  // A new version from a model directory in the project's artifact store.
  absl::StatusOr<ModelVersion> RegisterArtifactModel(const RequestContext& ctx,
                                                     const Project& project,
                                                     absl::string_view model,
                                                     const ArtifactModelSpec& spec);

  // A new version from a finished training run's model (the model is created when missing).
  absl::StatusOr<ModelVersion> RegisterRun(const RequestContext& ctx, const Project& project,
                                           absl::string_view model, absl::string_view run_id,
                                           absl::string_view description);
  // A new version from an XGBoost model file (JSON or UBJSON); features from a dataset
  // version take their types and categories from its schema and profile.
  absl::StatusOr<ModelVersion> Import(const RequestContext& ctx, const Project& project,
                                      absl::string_view model, const ImportSpec& spec);
  // A project artifact's bytes (verified against its hash), e.g. a model file uploaded as an
  // artifact for an import too large for a JSON body. Larger than `max_bytes`:
  // InvalidArgument, nothing read.
  static constexpr uint64_t kMaxModelBytes = 2ull << 30;
  absl::StatusOr<std::string> ReadArtifact(const Project& project, const std::string& path,
                                           uint64_t max_bytes = kMaxModelBytes);
  // `ref`: a version number or an alias.
  absl::StatusOr<ModelVersion> GetVersion(const Project& project, absl::string_view model,
                                          absl::string_view ref);
  absl::StatusOr<ModelVersion> SetArchived(const RequestContext& ctx, const Project& project,
                                           absl::string_view model, int64_t version, bool archived);
  // Metrics, params and signature of several versions side by side.
  absl::StatusOr<std::vector<VersionComparison>> Compare(const Project& project,
                                                         absl::string_view model,
                                                         const std::vector<int64_t>& versions);

  // Points `alias` at `version`. Aliases that serve traffic (the gated ones, "champion" by
  // default, and every alias an endpoint follows) pass the model's quality gates first; a
  // failed gate is FailedPrecondition unless `force`, which needs the maintainer role and is
  // audited with the report.
  absl::StatusOr<ModelAlias> SetAlias(const RequestContext& ctx, const Project& project,
                                      std::optional<Role> role, absl::string_view model,
                                      absl::string_view alias, int64_t version, bool force);
  // Whether `version` may start taking traffic outside an alias move (an endpoint pinned to
  // it, or following an ungated alias): the same gates, roles and override rules as a gated
  // alias move. `what` names the change for the error ("endpoint 'e' targets[0]").
  struct Clearance {
    bool overridden = false;
    Json report;  // the gate report (null when no gates ran)
  };
  absl::StatusOr<Clearance> ClearForServing(const Project& project, std::optional<Role> role,
                                            const RequestContext& ctx, int64_t model_id,
                                            int64_t version, bool force, absl::string_view what);
  // Whether moves of `alias` are gated: configured ("champion" by default) or followed by an
  // endpoint.
  bool IsGatedAlias(int64_t model_id, absl::string_view alias);
  // Moves `alias` back to the version it pointed at before its last move.
  absl::StatusOr<ModelAlias> Rollback(const RequestContext& ctx, const Project& project,
                                      absl::string_view model, absl::string_view alias);
  absl::Status DeleteAlias(const RequestContext& ctx, const Project& project,
                           absl::string_view model, absl::string_view alias);
  absl::StatusOr<std::vector<AliasChange>> AliasHistory(const Project& project,
                                                        absl::string_view model);
  // Evaluates the gates for `version` and stores the report with it. The report is a stored
  // document ({version, passed, checks: [{gate, passed, ...detail}], evaluated_at}) shown as
  // stored, like a version's manifest.
  absl::StatusOr<Json> EvaluateGates(const Project& project, absl::string_view model,
                                     int64_t version);
  // Dataset version -> run -> model version -> endpoints.
  absl::StatusOr<VersionLineage> Lineage(const Project& project, absl::string_view model,
                                         int64_t version);

  // The servable of a version, loaded once and shared (by model id and version); a load
  // running elsewhere is waited for up to `wait`. A failed load is answered from memory
  // until its retry time (see LoadingCache).
  absl::StatusOr<std::shared_ptr<const ml::Servable>> LoadServable(
      const Project& project, const ModelVersion& version,
      absl::Duration wait = absl::InfiniteDuration());
  // Starts loading on the cache's loader thread (for callers that must not block).
  void LoadServableInBackground(const Project& project, const ModelVersion& version);
  ServableCache& servables() { return servables_; }

  // Called after an alias of model `model_id` moved (on the caller's thread).
  void AddAliasObserver(std::function<void(int64_t model_id)> fn);
  // Aliases followed by endpoints (gated like "champion"); set by the serving manager.
  void SetServingAliases(std::function<std::vector<std::string>(int64_t model_id)> fn);

 private:
  absl::StatusOr<RegisteredModel> FindModel(const Project& project, absl::string_view name);
  absl::StatusOr<ModelVersion> CreateVersion(const RequestContext& ctx, const Project& project,
                                             absl::string_view model_name, ModelVersion v,
                                             bool create_model);
  absl::StatusOr<Json> Gates(const Project& project, const RegisteredModel& m,
                             const ModelVersion& v);
  std::set<std::string> GatedAliases(const RegisteredModel& m);
  // Runs the gates for `v`; a failure is stored with the version and refused unless `force`
  // by a maintainer. `v.gate_report` holds the report afterwards.
  absl::StatusOr<Clearance> Judge(const RequestContext& ctx, const Project& project,
                                  std::optional<Role> role, const RegisteredModel& m,
                                  ModelVersion& v, bool force, absl::string_view what);
  absl::StatusOr<double> Rescore(const Project& project, const ModelVersion& v,
                                 const std::string& dataset, const std::string& ref,
                                 const std::string& metric);
  void NotifyAlias(int64_t model_id);

  MetadataStore* store_;
  ArtifactService* artifacts_;
  TrackingService* tracking_;
  DatasetService* datasets_;
  absl::Mutex mu_;
  ServableCache servables_;
  std::vector<std::function<void(int64_t)>> observers_ ABSL_GUARDED_BY(mu_);
  std::function<std::vector<std::string>(int64_t)> serving_aliases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
