// Monitoring of endpoints in production (docs/monitoring.md): every endpoint has a monitor
// (its configuration; the defaults until someone changes it), live summaries of what it
// serves, and the reports drawn from them: drift of features and predictions against the
// reference, data quality in production, service health over time, KPIs, and the fleet view.
//
// Live summaries: the prediction log's writer tells this service of every logged answer and
// refused request (PredictionObserver). They are added to per-minute buckets per endpoint and
// version (data/window_summary.h), merged into the metadata store every few seconds (read,
// merge, write: servers sharing a store add up), rolled up to hours after two hours and to
// days after eight days, and deleted with the prediction log's retention. A window's report
// is the merge of its buckets and of what is not stored yet: no log rescan.
//
// The reference of a served version is, by default, the profile of the dataset version it
// was trained on (lineage in its manifest: KLL sketches, top categories, min and max, no
// rescan), and its holdout predictions for the outputs; or a chosen dataset version.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "data/window_summary.h"
#include "ml/cbpe.h"
#include "ml/drift.h"
#include "ml/multivariate_drift.h"
#include "platform/batch_service.h"
#include "platform/context.h"
#include "platform/dataset_service.h"
#include "platform/registry_service.h"
#include "platform/serving_service.h"
#include "store/metadata.h"
#include "store/monitoring.h"

namespace kade {

// A monitor's configuration (stored as JSON with the endpoint).
struct MonitorConfig {
  // "training" (default): each version's training dataset version from its lineage;
  // "dataset": `dataset` at `dataset_version` for every version.
  std::string reference = "training";
  std::string dataset;
  std::string dataset_version;
  std::vector<std::string> features;  // watched; empty: every feature of the signature
  std::vector<std::string> windows = {"1h", "24h", "7d", "30d"};
  struct Rule {
    std::string method;    // empty: the default for the feature (ml::DefaultDriftMethod)
    double threshold = 0;  // 0: the method's default
  };
  std::map<std::string, Rule> rules;  // per feature
  double drift_share = 0.5;           // dataset drift when at least this share of features drift
  double max_null_rate = 0;  // a violation above the reference's null rate + this (0: +0.1)
  // Business value derived from ground truth: a value per outcome of a labelled answer
  // (binary: tp, fp, tn, fn; multi-class: correct, incorrect), summed as the KPI `name`.
  struct ValueModel {
    std::string name = "value";
    std::map<std::string, double> per_outcome;
  };
  std::optional<ValueModel> value;

  Json ToJson() const;
  // Strict: unknown fields, wrong types and bad values are InvalidArgument naming the field.
  static absl::StatusOr<MonitorConfig> FromJson(const Json& j);
};

struct Monitor {
  std::string endpoint;
  MonitorConfig config;
  bool is_default = true;                    // never changed
  std::vector<std::string> served_features;  // of the versions the endpoint serves
  std::string updated_by;
  int64_t updated_at = 0;
};

// A feature's or output's drift in a window.
struct FeatureDriftReport {
  std::string name;
  bool numeric = true;
  ml::DriftTest test;
  int64_t reference_count = 0, current_count = 0;
  // Shares of reference and current values on the same bins (numeric: the reference's
  // deciles, `edges` the inner bin edges; categorical: `categories`), for overlaid charts.
  std::vector<double> edges;
  std::vector<std::string> categories;
  std::vector<double> reference_shares, current_shares;
};

// Multivariate drift of a window: the mean PCA reconstruction error of its rows against the
// band the reference's chunks of as many rows give (NannyML's data reconstruction drift).
struct MultivariateDriftReport {
  bool available = false;
  std::string note;  // why there is none
  int64_t rows = 0;  // rows of the window with an error
  double error = 0;  // their mean reconstruction error
  double reference_error = 0, lower = 0, upper = 0;
  int64_t chunk_rows = 0, chunks = 0;  // the reference chunks behind the band
  int components = 0, features = 0;
  double explained_variance = 0;
  bool drifted = false;  // outside [lower, upper]
};

struct DriftReport {
  int64_t from_ms = 0, to_ms = 0;
  int64_t version = 0;    // the version compared (the one that answered most, unless chosen)
  std::string reference;  // what it was compared with ("churn@2 (training data)")
  int64_t rows = 0;       // current rows in the window
  std::vector<FeatureDriftReport> features;
  std::vector<FeatureDriftReport> outputs;  // prediction drift
  int features_checked = 0, features_drifted = 0;
  double share = 0;
  double drift_share = 0.5;
  bool dataset_drift = false;
  MultivariateDriftReport multivariate;
  std::string note;  // why nothing was compared (no traffic, no reference)
};

// Data quality in production: one violation per feature and check (SageMaker's report
// shape), and per feature the counts behind them.
struct QualityViolation {
  std::string feature;
  std::string check;  // null_rate | type_error | unseen_category | out_of_range |
                      // missing_column | extra_column
  std::string description;
  double value = 0;  // the rate or count that broke the check
};
struct FeatureQuality {
  std::string name;
  int64_t count = 0, nulls = 0, out_of_range = 0, type_errors = 0, unseen = 0, missing = 0;
  double null_rate = 0, reference_null_rate = 0;
  std::optional<double> reference_min, reference_max, min, max;
};
struct QualityReport {
  int64_t from_ms = 0, to_ms = 0;
  int64_t rows = 0, requests = 0, refused = 0;
  std::vector<FeatureQuality> features;
  std::vector<QualityViolation> violations;
  std::vector<std::string> refusals;  // examples of refusal messages
};

// Service health as a time series (per minute, hour or day, as stored).
struct HealthPoint {
  int64_t start_ms = 0, width_ms = 0;
  int64_t requests = 0, errors = 0, refused = 0;
  double error_rate = 0, availability = 1;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;  // of the logged requests
};
struct HealthReport {
  int64_t from_ms = 0, to_ms = 0;
  int64_t step_ms = 0;
  std::map<int64_t, std::vector<HealthPoint>> versions;  // version -> points, oldest first
  HealthPoint total;                                     // the whole window, all versions
};

struct KpiReport {
  int64_t from_ms = 0, to_ms = 0;
  struct Series {
    std::string name;
    // Derived from ground truth by the monitor's value per outcome (else posted); the
    // outcome counts behind the sum.
    bool derived = false;
    std::map<std::string, int64_t> outcomes;
    double sum = 0;
    int64_t count = 0;
    std::vector<std::pair<int64_t, double>> points;  // (ts, value), oldest first
  };
  std::vector<Series> series;
};

// Drift, fit and value over time: one point per step of the window (buckets land in the
// step their start falls in; hour and day buckets of older data are as fine as it gets).
struct TrendPoint {
  int64_t start_ms = 0;
  int64_t rows = 0;
  int features_checked = 0, features_drifted = 0;
  double share = 0;
  bool dataset_drift = false;
  std::vector<std::pair<std::string, double>> feature_drift;  // the method's figure
  std::vector<std::string> drifted;                           // features that drift
  MultivariateDriftReport multivariate;
  std::optional<double> estimated_auc, estimated_accuracy;  // CBPE, binary models
  int64_t predictions = 0, labelled = 0;                    // of the logged single-row answers
  Json realised = Json::object();  // fit from ground truth (auc, accuracy, rmse…)
  std::optional<double> value;     // the monitor's value per outcome, summed
};
struct TrendReport {
  int64_t from_ms = 0, to_ms = 0, step_ms = 0;
  int64_t version = 0;
  std::string reference;
  std::string value_name;          // the derived KPI, when the monitor has a value model
  std::vector<TrendPoint> points;  // oldest first
};

// A batch schedule's runs, each input compared with the training data of the model version
// that scored it (from the two versions' stored profiles).
struct BatchRunDrift {
  std::string job;
  int64_t created_at = 0;
  std::string status;  // the job's
  std::string input;   // dataset@version scored
  int64_t model_version = 0;
  std::string reference;  // dataset@version the model was trained on
  int64_t rows = 0, unseen_categories = 0;
  int columns_checked = 0, columns_drifted = 0;
  bool dataset_drift = false;
  std::vector<std::string> drifted;
  std::string note;  // why nothing was compared
};
struct BatchMonitorReport {
  std::string schedule, model;
  std::vector<BatchRunDrift> runs;  // newest first
};

// One row of the fleet dashboard.
struct FleetEntry {
  std::string kind = "endpoint";  // endpoint | batch (a schedule; `endpoint` holds its name)
  std::string project, endpoint, model;
  bool ready = false;
  std::string health, drift, quality, fit;  // green | amber | red | grey (no data)
  std::string fit_label;                    // "auc 0.71 (holdout 0.83)", "estimated auc …"
  bool multivariate_drift = false;
  std::string value_name;  // the endpoint's KPI (derived from ground truth first), 24 h
  std::optional<double> value;
  std::string status;    // the worst of them
  int64_t requests = 0;  // in the last hour
  double error_rate = 0, p99_ms = 0;
  int features_drifted = 0, features_checked = 0;
  int violations = 0;
  int alerts_firing = 0;
  std::string reason;  // what needs attention, in words
};

// What /metrics shows of monitoring (api/metrics.h renders it): per endpoint, drift, quality
// and KPIs over the last 24 hours, health over the last hour, realised fit over 24 hours.
struct MonitorGauges {
  struct Endpoint {
    std::string project, endpoint;
    DriftReport drift;
    HealthPoint health;
    int violations = 0;
    std::vector<std::pair<std::string, double>> kpis;  // name, sum
    std::map<std::string, double> fit;                 // auc, accuracy, rmse...
  };
  std::vector<Endpoint> endpoints;
};

class MonitoringService : public PredictionObserver {
 public:
  MonitoringService(MetadataStore* store, RegistryService* registry, DatasetService* datasets,
                    ServingService* serving, BatchService* batch, int retention_days);
  ~MonitoringService() override;
  void Start();  // the flusher (every 5 s) and roll-ups
  void Stop();

  absl::StatusOr<Monitor> Get(const Project& project, absl::string_view endpoint);
  // Replaces the configuration; features and rules are checked against what the endpoint
  // serves. Audited.
  absl::StatusOr<Monitor> Put(const RequestContext& ctx, const Project& project,
                              absl::string_view endpoint, const MonitorConfig& config);

  // Reports over [now - window_ms, now]; `version` 0: the version that answered most.
  absl::StatusOr<DriftReport> Drift(const Project& project, absl::string_view endpoint,
                                    int64_t window_ms, int64_t version = 0);
  absl::StatusOr<QualityReport> Quality(const Project& project, absl::string_view endpoint,
                                        int64_t window_ms);
  absl::StatusOr<HealthReport> Health(const Project& project, absl::string_view endpoint,
                                      int64_t window_ms);
  absl::Status PostKpis(const RequestContext& ctx, const Project& project,
                        absl::string_view endpoint, std::vector<KpiPoint> points);
  // Realised fit per version (ServingService::Performance) with, for binary models, the fit
  // estimated from the window's scores by CBPE (`estimated`: auc, accuracy, rows), with or
  // without ground truth.
  absl::StatusOr<EndpointPerformance> Performance(const Project& project,
                                                  absl::string_view endpoint, int64_t window_ms);
  absl::StatusOr<KpiReport> Kpis(const Project& project, absl::string_view endpoint,
                                 int64_t window_ms);
  // Drift, multivariate drift, estimated and realised fit and derived value per step of
  // the window, for one version (0: the one that answered most). At most 500 points.
  absl::StatusOr<TrendReport> Trend(const Project& project, absl::string_view endpoint,
                                    int64_t window_ms, int64_t step_ms, int64_t version = 0);
  // A batch schedule's recent runs (at most 20) against their models' training data.
  absl::StatusOr<BatchMonitorReport> BatchMonitoring(const Project& project,
                                                     absl::string_view schedule);
  // Every endpoint and batch schedule of the given projects, most in need of attention first.
  std::vector<FleetEntry> Fleet(const std::vector<Project>& projects);
  // For /metrics: computed at most every 15 s (a scrape reads the cached figures).
  MonitorGauges Gauges(const std::vector<Project>& projects);

  // Writes what is pending now (tests, shutdown) and runs the roll-ups.
  absl::Status Flush();

  // PredictionObserver (the log writer's thread; replicas' forwarded answers).
  void OnServed(const Served& s) override;
  void OnRefused(const Served& s, absl::string_view body, absl::string_view message) override;

  // The summary of an endpoint's window per version (stored and pending), for reports.
  absl::StatusOr<std::map<int64_t, WindowSummary>> Window(int64_t endpoint_id, int64_t from,
                                                          int64_t to);

  struct ReferenceFeature {
    bool numeric = true;
    int64_t count = 0, nulls = 0;
    double distinct = 0;
    std::optional<double> min, max;
    KllSketch kll;
    std::map<std::string, int64_t> categories;  // top categories and "(other)"
  };
  struct Reference {
    std::string description;
    std::string error;  // why there is none
    int64_t rows = 0;
    std::map<std::string, ReferenceFeature> features, outputs;
    // Binary models: the holdout's scores calibrated against its labels (CBPE).
    ml::IsotonicCalibrator calibration;
    // Multivariate drift: a PCA model of a sample of the reference rows in the served
    // version's encoding. Categorical inputs are frequency-encoded (a category's share in the
    // sample; a missing one is the most frequent's share), numeric missing values take the
    // sample's mean.
    struct Pca {
      ml::PcaDriftModel model;
      std::vector<size_t> columns;                 // signature position of each input
      std::vector<std::vector<double>> frequency;  // per input: code -> share (empty: numeric)
      std::vector<double> missing;                 // per categorical input: its missing value
      std::vector<double> row_errors;              // of the sample, in sample order
    };
    std::optional<Pca> pca;
    std::string pca_note;  // why there is no PCA model
    int64_t built_ms = 0;
  };

 private:
  struct Key {
    int64_t endpoint_id, version, start_ms;
    auto operator<=>(const Key&) const = default;
  };
  // `wait` false (the log writer): a reference not built yet is queued for the builder
  // thread and a placeholder without figures is returned meanwhile.
  std::shared_ptr<const Reference> ReferenceFor(int64_t project_id, int64_t endpoint_id,
                                                int64_t model_id, int64_t version,
                                                bool wait = true);
  void BuildLoop();
  absl::StatusOr<std::shared_ptr<const Reference>> BuildReference(const Project& project,
                                                                  int64_t model_id, int64_t version,
                                                                  const MonitorConfig& config);
  absl::StatusOr<MonitorConfig> ConfigOf(int64_t endpoint_id);
  // A window's drift against a reference (the body of Drift, per step for Trend).
  static void CompareWindow(const Reference& ref, const MonitorConfig& config,
                            const WindowSummary& w, DriftReport* out);
  // The summaries per version and step of [from, to) (step 0: one step).
  absl::StatusOr<std::map<int64_t, std::map<int64_t, WindowSummary>>> Steps(int64_t endpoint_id,
                                                                            int64_t from,
                                                                            int64_t to,
                                                                            int64_t step_ms);
  // (version, signature) of each version the endpoint serves.
  std::vector<std::pair<int64_t, Json>> ServedSignatures(const Project& project,
                                                         const EndpointStatus& e);
  std::vector<std::string> ServedFeatures(const Project& project, const EndpointStatus& e);
  // Features that are categories (or booleans) in a served version's signature.
  std::set<std::string> CategoricalFeatures(const Project& project, const EndpointStatus& e);
  absl::StatusOr<EndpointStatus> Endpoint(const Project& project, absl::string_view name);
  absl::Status RollUp(int64_t now);
  void Loop();

  MetadataStore* store_;
  RegistryService* registry_;
  DatasetService* datasets_;
  ServingService* serving_;
  BatchService* batch_;
  const int retention_days_;

  std::mutex mu_;
  std::map<Key, WindowSummary> pending_;  // minute buckets not merged into the store yet
  struct Slots {
    const ml::Servable* servable = nullptr;  // one version's: the same signature always
    std::shared_ptr<const Reference> reference;
    std::vector<FeatureSummary*> features;            // in pending_[key].features
    std::vector<const ReferenceFeature*> references;  // in the reference (kept alive below)
  };
  std::map<Key, Slots> slots_;  // cleared whenever pending_ is taken
  // References by (endpoint, version); rebuilt when the monitor changes or after an error.
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const Reference>> references_;
  std::map<std::pair<int64_t, int64_t>, RequestCounter> counters_;  // last seen
  std::mutex flush_mu_;                                             // one flush at a time
  std::mutex gauges_mu_;
  // Per project: when computed, and the figures.
  std::map<int64_t, std::pair<int64_t, std::vector<MonitorGauges::Endpoint>>> gauges_;
  int64_t next_rollup_ = 0;

  struct BuildTask {
    int64_t project_id = 0, endpoint_id = 0, model_id = 0, version = 0;
  };
  std::deque<BuildTask> build_queue_;               // under mu_
  std::set<std::pair<int64_t, int64_t>> building_;  // queued or being built, under mu_
  std::condition_variable build_cv_, built_cv_;
  bool builder_running_ = false;  // under mu_ when read; set by Start/Stop
  std::thread builder_;

  std::thread thread_;
  absl::Notification stop_;
};

}  // namespace kade
