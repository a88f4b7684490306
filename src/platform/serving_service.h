// Real-time endpoints: each serves a registered model through a traffic split over aliases
// or fixed versions (90/10 canary), with an optional shadow version that gets a copy of
// every request and whose answer is logged, never returned.
//
// Following TF Serving's manager: an endpoint's live state (its versions, loaded and
// ready) is an immutable object behind a shared_ptr. A request takes a reference and
// answers from it; an alias move or split change builds and loads the new state first, then
// swaps the pointer. In-flight requests finish on the old state, so a rollout drops nothing.
//
// The prediction log is a bounded queue drained by one writer thread (which also runs the
// shadow predictions) into the log files (store/prediction_log.h): the request path never
// waits on it; when it is full, entries are dropped and counted.
//
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/json.h"
#include "platform/context.h"
#include "platform/endpoint_transitions.h"
#include "platform/registry_service.h"
#include "store/metadata.h"

namespace kade {

class PredictionLog;

struct EndpointConfig {
  struct Target {
    std::string alias;    // follows the alias, or
    int64_t version = 0;  // a fixed version
    double weight = 100;  // share of traffic (the weights are normalised)
  };
  std::vector<Target> targets;
  std::optional<Target> shadow;
  double log_sample = 1.0;  // fraction of requests written to the prediction log

  // The stored form (the endpoints table's `config`), which is also the wire form of
  // {"alias" | "targets", "shadow", "log_sample"}. Strict: unknown fields and wrong types
  // name the field.
  static absl::StatusOr<EndpointConfig> FromJson(const Json& j);
  Json ToJson() const;
};

// A new endpoint.
struct EndpointSpec {
  std::string name;
  std::string model;
  std::string description;
  EndpointConfig config;
  bool force = false;  // serve a version that failed its gates (maintainer; audited)
};

// A change to an endpoint: what is set is replaced, the rest kept.
struct EndpointChange {
  std::optional<std::vector<EndpointConfig::Target>> targets;
  std::optional<std::optional<EndpointConfig::Target>> shadow;  // set to nullopt: removed
  std::optional<double> log_sample;
  std::optional<std::string> description;
  bool force = false;
};

// The state of one version of an endpoint: "ready" (serving), "loading" or "failed" (a
// change not installed yet; with the reason and the next retry), "unloading" (just
// replaced; requests in flight still use it).
struct EndpointVersionState {
  int64_t version = 0;
  std::string alias;  // the alias it is served through, if any
  std::string state;
  std::string error;
  std::optional<int> failures;  // loads that failed in a row
  int64_t next_retry_at_ms = 0;
};

// Request counts and latency of one version (from the request histogram: a percentile is
// the upper bound of the bucket holding it; absent before the first request).
struct EndpointVersionStats {
  int64_t version = 0;
  uint64_t requests = 0, errors = 0, rows = 0;
  std::optional<double> p50_ms, p95_ms, p99_ms;
  double mean_latency_ms = 0;
  uint64_t model_load_ms = 0;
};

struct EndpointStatus {
  Endpoint record;
  EndpointConfig config;
  bool ready = false;
  std::vector<EndpointVersionState> serving;   // the versions taking traffic (version, alias)
  std::vector<EndpointVersionState> versions;  // every version with its state
  std::optional<int64_t> shadow_version;
  std::string error;  // why the endpoint is not ready
  // A change that could not be installed yet (a version failed to load): its version and
  // the reason; the current state keeps serving.
  int64_t pending_version = 0;
  std::string pending_error;
  // Get only:
  std::optional<std::vector<EndpointVersionStats>> stats;
  uint64_t log_dropped = 0;
};

// Ground truth for earlier requests: (request id, label as text).
using FeedbackItems = std::vector<std::pair<std::string, std::string>>;

// The newest prediction log entries of an endpoint, each with its label when one was fed
// back.
struct PredictionPage {
  std::vector<PredictionRecord> records;
  uint64_t dropped = 0;  // entries dropped since start (log queue full)
};

// Model fit of an endpoint's versions over a window, from the logged predictions joined with
// the ground truth fed back for them (docs/monitoring.md).
struct EndpointPerformance {
  struct Version {
    int64_t version = 0;
    std::string task;              // binary | multiclass | regression
    int64_t predictions = 0;       // logged single-row requests in the window
    int64_t labelled = 0;          // of those, with ground truth that matches the task
    int64_t unmatched_labels = 0;  // ground truth that is not one of the classes / a number
    Json metrics;                  // realised: ml/metrics' document (curves left out)
    Json holdout;                  // the version's training holdout metrics, as registered
    Json estimated = nullptr;      // CBPE's estimate (MonitoringService::Performance)
    // From an answer to its ground truth, over the labelled answers (seconds).
    std::optional<double> label_delay_p50_s, label_delay_p90_s;
    // Outcomes of the labelled answers: binary tp, fp, tn, fn (the second class positive,
    // at P >= 0.5); multi-class correct, incorrect. Regression: none.
    std::map<std::string, int64_t> outcomes;
    // With a step: the same per step of time (answers by when they were given), oldest first.
    struct Step {
      int64_t start_ms = 0;
      int64_t predictions = 0, labelled = 0;
      Json metrics;  // realised (curves left out); {} without labels
      std::map<std::string, int64_t> outcomes;
    };
    std::vector<Step> steps;
  };
  int64_t from_ms = 0, to_ms = 0;
  int64_t scanned = 0;  // log entries read (the newest `limit` at most)
  std::vector<Version> versions;
};

// What /metrics shows of serving, for the api layer to render (api/metrics.h).
struct ServingMetrics {
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
  struct Requests {
    std::string endpoint;  // PROJECT/ENDPOINT
    int64_t version = 0;
    uint64_t requests = 0, errors = 0;
    int64_t in_flight = 0;
    double model_load_seconds = 0;
    std::array<uint64_t, kLatencyBuckets.size()> latency_buckets{};  // per bucket, not cumulative
    uint64_t latency_count = 0;
    double latency_sum_seconds = 0;
  };
  struct Servable {
    std::string endpoint;  // PROJECT/ENDPOINT
    int64_t version = 0;
    std::string state;  // loading, ready, failed, unloading
    std::optional<uint64_t> load_failures_total;
    double load_seconds = 0;
  };
  std::vector<Requests> requests;
  std::vector<Servable> servables;
  uint64_t servable_cache_bytes = 0;
  uint64_t log_dropped = 0, log_written = 0;
};

// Told what endpoints served and refused, on the prediction log's writer thread (off the
// request path): monitoring keeps its live summaries from these (platform/monitoring_service.h).
// Calls must return quickly and never fail the log.
class PredictionObserver {
 public:
  virtual ~PredictionObserver() = default;
  struct Served {
    int64_t endpoint_id = 0;
    int64_t project_id = 0;
    int64_t model_id = 0;
    int64_t version = 0;
    bool shadow = false;
    int64_t ts = 0;  // ms
    int64_t latency_us = 0;
    const ml::Servable* servable = nullptr;
    const ml::Batch* batch = nullptr;
    const ml::Prediction* prediction = nullptr;
  };
  virtual void OnServed(const Served& s) = 0;
  // A request refused for its content (400): its text, and the servable that refused it.
  virtual void OnRefused(const Served& s, absl::string_view body, absl::string_view message) = 0;
};

// Every request an endpoint version answered or failed since start (monitoring's health).
struct RequestCounter {
  int64_t endpoint_id = 0;
  int64_t version = 0;
  uint64_t requests = 0, errors = 0;
};

struct ServingOptions {
  size_t log_queue = 10000;  // prediction log entries waiting to be written
  int retention_days = 30;   // older log entries and their ground truth are deleted; 0: kept
};

class ServingService {
 public:
  ServingService(MetadataStore* store, RegistryService* registry, PredictionLog* log,
                 ServingOptions options);
  ~ServingService();

  // Loads every endpoint (a version that fails to load leaves its endpoint not ready, with
  // the reason), moves a prediction log left in the metadata store by an older version into
  // the log files, and starts the prediction log writer.
  void Start();
  void Stop();

  // A version that starts taking traffic here (pinned, or through an alias no gate guards)
  // passes the model's quality gates first, as a gated alias move does; `"force": true`
  // overrides a failure for a maintainer and is audited with the report. `role` is the
  // caller's role in the project.
  absl::StatusOr<EndpointStatus> Create(const RequestContext& ctx, const Project& project,
                                        std::optional<Role> role, const EndpointSpec& spec);
  // Changes the traffic split, shadow, sampling or description.
  absl::StatusOr<EndpointStatus> Update(const RequestContext& ctx, const Project& project,
                                        std::optional<Role> role, absl::string_view name,
                                        const EndpointChange& change);
  absl::Status Delete(const RequestContext& ctx, const Project& project, absl::string_view name);
  // With the request statistics.
  absl::StatusOr<EndpointStatus> Get(const Project& project, absl::string_view name);
  absl::StatusOr<std::vector<EndpointStatus>> List(const Project& project);

  struct PredictRequest {
    std::string request_id;
    std::optional<int64_t> pinned_version;  // X-Kade-Model-Version
    absl::string_view raw_body;             // the request's text, logged as sent (else the body is)
  };
  // {"predictions", "probabilities", "classes", "model", "version", "request_id"}. The rows
  // come from `body`, or when it is null from the request's text (req.raw_body).
  absl::StatusOr<Json> Predict(const Project& project, absl::string_view endpoint, const Json* body,
                               const PredictRequest& req);
  // The same answer as JSON text, rows from req.raw_body (the predict route's path: no Json
  // tree is built for the answer).
  absl::StatusOr<std::string> PredictText(const Project& project, absl::string_view endpoint,
                                          const PredictRequest& req);
  // Per-row explanations of what the endpoint answers for `body` (the predict body): the
  // version chosen as for a prediction, each row's SHAP contributions by feature name, base
  // value and margin (per class for multi-class), and the prediction. Not logged, not
  // counted as traffic.
  absl::StatusOr<Json> Explain(const Project& project, absl::string_view endpoint, const Json& body,
                               const PredictRequest& req);
  // Open Inference Protocol: model metadata and readiness ("model" = endpoint name);
  // inference is Predict with the tensors as columns (api/oip.h).
  absl::StatusOr<Json> OipMetadata(const Project& project, absl::string_view endpoint,
                                   std::optional<int64_t> version);
  absl::StatusOr<bool> OipReady(const Project& project, absl::string_view endpoint);

  // Ground truth for earlier requests. Kept whether or not the request is in the log (it may
  // have been sampled out, or still be on its way from a replica); joined to the log when
  // read. Audited as one change.
  absl::Status StoreFeedback(const RequestContext& ctx, const Project& project,
                             absl::string_view endpoint, const FeedbackItems& items);
  absl::StatusOr<PredictionPage> Predictions(const Project& project, absl::string_view endpoint,
                                             int64_t limit);
  // Realised fit per version over the last `window_ms`, from at most the newest `limit` log
  // entries (shadow answers and multi-row requests are left out: a label belongs to one row).
  // `step_ms` > 0 also fills each version's `steps`.
  absl::StatusOr<EndpointPerformance> Performance(const Project& project,
                                                  absl::string_view endpoint, int64_t window_ms,
                                                  int64_t limit = 100000, int64_t step_ms = 0);
  // Prediction log entries answered elsewhere (a `kade replica` named `replica`), all or
  // nothing; their endpoint_id is set here.
  absl::Status IngestLog(const RequestContext& ctx, const Project& project,
                         absl::string_view endpoint, std::vector<PredictionRecord> records,
                         absl::string_view replica);
  // Waits until every queued log entry is written (tests, shutdown).
  void FlushLog();

  // Per endpoint and version requests, errors, latency, in-flight, model load time and
  // servable state, of the projects `visible` accepts (by project name); log counts.
  ServingMetrics Metrics(const std::function<bool(absl::string_view project)>& visible);

  // Monitoring: told of every logged answer and refused request; set before Start.
  void SetObserver(PredictionObserver* observer) { observer_ = observer; }
  std::vector<RequestCounter> RequestCounters();

  // Aliases followed by endpoints of `model_id` (for the registry's gates).
  std::vector<std::string> ServingAliases(int64_t model_id);

 private:
  // Predict's work for both answer forms: choose the version, decode, predict, count; then
  // `render` writes the answer, and the log entry is queued (taking the prediction).
  absl::Status Serve(const Project& project, absl::string_view endpoint, const Json* body,
                     const PredictRequest& req,
                     absl::FunctionRef<void(const ml::Servable&, const ml::Prediction&, int64_t,
                                            const std::string&)>
                         render);
  struct Live {
    int64_t version = 0;
    std::string alias;
    double weight = 0;  // cumulative, in [0, 1]
    std::shared_ptr<const ml::Servable> servable;
  };
  struct State {
    Endpoint record;
    EndpointConfig config;
    std::vector<Live> targets;
    std::optional<Live> shadow;
    std::string error;          // why the endpoint is not ready
    int64_t error_version = 0;  // the version that could not be loaded, if that was why
    std::string fingerprint;    // what it was built from (see Sync)
    // A newer config or alias move that could not be installed (a version failed to load):
    // this state keeps serving and the change is retried (see Rebuild).
    std::string pending_error;
    int64_t pending_version = 0;
  };
  struct Stats;
  struct LogEntry {
    PredictionRecord record;
    int64_t endpoint_created = 0;                  // with record.endpoint_id, the log's key
    std::shared_ptr<const ml::Servable> servable;  // set when the request is logged
    ml::Prediction prediction;
    std::shared_ptr<const ml::Servable> shadow;
    int64_t shadow_version = 0;
    std::shared_ptr<const ml::Batch> batch;
    int64_t project_id = 0, model_id = 0;
    std::string refusal;  // why the request was refused (not logged; monitoring only)
  };

  absl::StatusOr<std::shared_ptr<const State>> Build(const Project& project, const Endpoint& e);
  // Gates every version `fresh` sends answers from that `current` (if any) does not, unless
  // it comes through a gated alias. The overrides made, for the audit log.
  absl::StatusOr<Json> ClearNewTargets(const RequestContext& ctx, const Project& project,
                                       std::optional<Role> role, const State* current,
                                       const State& fresh, bool force);
  std::shared_ptr<const State> Find(int64_t project_id, absl::string_view name);
  absl::StatusOr<std::shared_ptr<const State>> Require(const Project& project,
                                                       absl::string_view name);
  void Install(std::shared_ptr<const State> s);
  // Brings endpoint `e`'s live state up to date: the new state is installed only when every
  // version it needs has loaded; otherwise the serving state stays, with the failure
  // noted, and the next Sync retries (the loader's backoff paces the loads). One transition
  // per endpoint at a time; a deleted endpoint is never brought back.
  void Rebuild(const Endpoint& e);
  void OnAliasMoved(int64_t model_id);
  // Brings the live states in line with the store: endpoints created, changed or deleted
  // and aliases moved by another server sharing it (run every 2 s).
  void Sync();
  Project ProjectById(int64_t id);
  EndpointStatus Describe(const State& s);
  // The version for one request: pinned, or drawn by the traffic split.
  absl::StatusOr<const Live*> Choose(const State& s, std::optional<int64_t> pinned,
                                     std::shared_ptr<const ml::Servable>* pinned_servable,
                                     const Project& project);
  void Enqueue(LogEntry e);
  void WriterLoop();
  Stats& StatsFor(const std::string& endpoint, int64_t version);

  // Moves the rows of the metadata store's old `predictions` table into the log files.
  void MoveLegacyLog(const std::vector<Endpoint>& endpoints);

  MetadataStore* store_;
  RegistryService* registry_;
  PredictionLog* log_;
  ServingOptions options_;
  PredictionObserver* observer_ = nullptr;

  absl::Mutex mu_;
  std::map<std::pair<int64_t, std::string>, std::shared_ptr<const State>> states_
      ABSL_GUARDED_BY(mu_);
  // States replaced while requests may still hold them: their versions are "unloading".
  std::vector<std::weak_ptr<const State>> retiring_ ABSL_GUARDED_BY(mu_);
  EndpointTransitions transitions_;

  std::mutex log_mu_;
  std::condition_variable log_cv_, log_idle_cv_;
  std::deque<LogEntry> log_queue_;
  bool log_stop_ = false;
  size_t log_busy_ = 0;
  int log_flushes_ = 0;  // callers waiting in FlushLog
  std::thread writer_;
  std::thread follower_;
  absl::Notification follow_stop_;
  std::atomic<uint64_t> log_dropped_{0}, log_written_{0};

  absl::Mutex stats_mu_;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<Stats>> stats_
      ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace kade
