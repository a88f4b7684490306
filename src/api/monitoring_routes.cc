// Monitoring of endpoints (docs/monitoring.md):
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/monitor      the monitor's configuration
//   PUT  /api/v1/projects/{p}/endpoints/{e}/monitoring/monitor      {reference, features, ...}
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/drift?window=1h&version=N
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/trend?window=24h&step=1h&version=N
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/quality?window=
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/health?window=
//   GET  /api/v1/projects/{p}/endpoints/{e}/monitoring/kpis?window=
//   POST /api/v1/projects/{p}/endpoints/{e}/monitoring/kpis        {name, value, time} | {points}
//   GET  /api/v1/projects/{p}/batch/schedules/{s}/monitoring        a schedule's runs vs training
//   data GET  /api/v1/monitoring/fleet                                   every visible endpoint and
//   schedule
// (…/monitoring/performance, the fit from ground truth, is with the serving routes.)
// Viewers read; editors change monitors and post KPIs.
#include "absl/strings/numbers.h"
#include "api/monitoring_json.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/platform.h"

namespace kade {

namespace S = schema;

namespace {

// ?version=N (0 when absent: the version that answered most).
absl::StatusOr<int64_t> VersionOf(RouteContext& rc) {
  int64_t version = 0;
  if (auto v = rc.request->Query("version")) {
    if (!absl::SimpleAtoi(*v, &version) || version < 1) {
      return absl::InvalidArgumentError("version: expected a version number");
    }
  }
  return version;
}

Json WindowDoc() { return Json{{"window", S::Str()}, {"from", S::Time()}, {"to", S::Time()}}; }

Json With(Json base, std::vector<std::pair<std::string, Json>> more) {
  std::vector<std::pair<std::string, Json>> all;
  for (const auto& [k, v] : base.items()) all.emplace_back(k, v);
  for (auto& kv : more) all.push_back(std::move(kv));
  return S::Obj(std::move(all));
}

absl::StatusOr<int64_t> WindowOf(const RouteContext& rc, const char* fallback) {
  return ParseWindow(rc.request->Query("window").value_or(fallback));
}

}  // namespace

void RegisterMonitoringRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string one = "/api/v1/projects/{project}/endpoints/{endpoint}/monitoring";
  const Json config_doc =
      S::Obj({{"reference", S::Enum({"training", "dataset"})},
              {"dataset", S::Str()},
              {"dataset_version", S::Any("a version number or \"latest\"")},
              {"features", S::Arr(S::Str())},
              {"windows", S::Arr(S::Str())},
              {"rules", S::Map(S::Obj({{"method", S::Str()}, {"threshold", S::Num()}}))},
              {"drift_share", S::Num()},
              {"max_null_rate", S::Num()}});
  const Json monitor_doc = S::Obj({{"endpoint", S::Str()},
                                   {"default", S::Bool()},
                                   {"config", config_doc},
                                   {"served_features", S::Arr(S::Str())},
                                   {"updated_by", S::Str()},
                                   {"updated_at", S::Time()}});

  r.Add("GET", one + "/monitor", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Monitor m,
                           p->monitoring->Get(rc.project_record(), rc.Param("endpoint")));
          return HttpResponse::MakeJson(200, MonitorToJson(m));
        })
      .Doc("The endpoint's monitor (the defaults until changed)", monitor_doc)
      .blocking = true;

  r.Add("PUT", one + "/monitor", Permission::kProjectEdit, "endpoint.monitor.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(MonitorConfig config, MonitorConfig::FromJson(body));
          ASSIGN_OR_RETURN(Monitor m, p->monitoring->Put(rc.ctx, rc.project_record(),
                                                         rc.Param("endpoint"), config));
          return HttpResponse::MakeJson(200, MonitorToJson(m));
        })
      .Doc(
          "Replace the monitor's configuration (reference, watched features, windows, drift "
          "methods and thresholds per feature)",
          monitor_doc, config_doc)
      .blocking = true;

  const Json feature_drift = S::Obj({{"name", S::Str()},
                                     {"type", S::Enum({"numeric", "categorical"})},
                                     {"method", S::Str()},
                                     {"threshold", S::Num()},
                                     {"value", S::Any()},
                                     {"p_value", S::Any()},
                                     {"drifted", S::Bool()},
                                     {"stats", S::Map(S::Any())},
                                     {"reference_count", S::Int()},
                                     {"current_count", S::Int()},
                                     {"histogram", S::Any()}});
  r.Add("GET", one + "/drift", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms, WindowOf(rc, "24h"));
          ASSIGN_OR_RETURN(int64_t version, VersionOf(rc));
          ASSIGN_OR_RETURN(
              DriftReport d,
              p->monitoring->Drift(rc.project_record(), rc.Param("endpoint"), window_ms, version));
          return HttpResponse::MakeJson(200, DriftToJson(d, window_ms));
        })
      .Doc(
          "Data and prediction drift over a window against the reference, per feature and as "
          "a dataset-drift verdict",
          With(WindowDoc(), {{"version", S::Int()},
                             {"reference", S::Str()},
                             {"rows", S::Int()},
                             {"features", S::Arr(feature_drift)},
                             {"outputs", S::Arr(feature_drift)},
                             {"drift", S::Obj({{"features_checked", S::Int()},
                                               {"features_drifted", S::Int()},
                                               {"share", S::Num()},
                                               {"drift_share", S::Num()},
                                               {"dataset_drift", S::Bool()}})},
                             {"multivariate", S::Obj({{"method", S::Str()},
                                                      {"available", S::Bool()},
                                                      {"rows", S::Int()},
                                                      {"error", S::Num()},
                                                      {"reference_error", S::Num()},
                                                      {"lower", S::Num()},
                                                      {"upper", S::Num()},
                                                      {"chunk_rows", S::Int()},
                                                      {"chunks", S::Int()},
                                                      {"components", S::Int()},
                                                      {"features", S::Int()},
                                                      {"explained_variance", S::Num()},
                                                      {"drifted", S::Bool()},
                                                      {"note", S::Str()}})},
                             {"note", S::Str()}}))
      .Query("window", S::Str(), "1h, 24h (default), 7d, 30d, or seconds")
      .Query("version", S::Int(), "the version compared (default: the one that answered most)")
      .blocking = true;

  r.Add("GET", one + "/trend", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms, WindowOf(rc, "24h"));
          int64_t step_ms = window_ms <= 86400000 ? 3600000 : 86400000;
          if (auto s = rc.request->Query("step")) {
            auto parsed = ParseWindow(*s);
            if (!parsed.ok()) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "step: expected 1m, 5m, 1h, 1d or seconds, got '", s->substr(0, 40), "'"));
            }
            step_ms = *parsed;
          }
          ASSIGN_OR_RETURN(int64_t version, VersionOf(rc));
          ASSIGN_OR_RETURN(TrendReport t,
                           p->monitoring->Trend(rc.project_record(), rc.Param("endpoint"),
                                                window_ms, step_ms, version));
          return HttpResponse::MakeJson(200, TrendToJson(t, window_ms));
        })
      .Doc(
          "Drift, multivariate drift, estimated (CBPE) and realised fit and the derived value "
          "per step of a window, for one version",
          With(WindowDoc(), {{"step", S::Str()},
                             {"version", S::Int()},
                             {"reference", S::Str()},
                             {"value_name", S::Str()},
                             {"points", S::Arr(S::Obj({{"start", S::Time()},
                                                       {"rows", S::Int()},
                                                       {"features_checked", S::Int()},
                                                       {"features_drifted", S::Int()},
                                                       {"share", S::Num()},
                                                       {"dataset_drift", S::Bool()},
                                                       {"feature_drift", S::Map(S::Num())},
                                                       {"drifted", S::Arr(S::Str())},
                                                       {"reconstruction_error", S::Num()},
                                                       {"reconstruction_band", S::Arr(S::Num())},
                                                       {"multivariate_drift", S::Bool()},
                                                       {"estimated_auc", S::Num()},
                                                       {"estimated_accuracy", S::Num()},
                                                       {"predictions", S::Int()},
                                                       {"labelled", S::Int()},
                                                       {"realised", S::Map(S::Any())},
                                                       {"value", S::Num()}}))}}))
      .Query("window", S::Str(), "1h, 24h (default), 7d, 30d, or seconds")
      .Query("step", S::Str(),
             "the width of a point (default 1h up to 24 h, else 1d); <= 500 points")
      .Query("version", S::Int(), "the version (default: the one that answered most)")
      .blocking = true;

  r.Add("GET", one + "/quality", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms, WindowOf(rc, "24h"));
          ASSIGN_OR_RETURN(
              QualityReport q,
              p->monitoring->Quality(rc.project_record(), rc.Param("endpoint"), window_ms));
          return HttpResponse::MakeJson(200, QualityToJson(q, window_ms));
        })
      .Doc("Data quality in production: per feature counts and the violations",
           With(WindowDoc(), {{"rows", S::Int()},
                              {"requests", S::Int()},
                              {"refused", S::Int()},
                              {"features", S::Arr(S::Any())},
                              {"violations", S::Arr(S::Obj({{"feature_name", S::Str()},
                                                            {"constraint_check_type", S::Str()},
                                                            {"description", S::Str()},
                                                            {"value", S::Any()}}))},
                              {"refusal_examples", S::Arr(S::Str())}}))
      .Query("window", S::Str(), "1h, 24h (default), 7d, 30d, or seconds")
      .blocking = true;

  r.Add("GET", one + "/health", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms, WindowOf(rc, "1h"));
          ASSIGN_OR_RETURN(HealthReport h, p->monitoring->Health(rc.project_record(),
                                                                 rc.Param("endpoint"), window_ms));
          return HttpResponse::MakeJson(200, HealthToJson(h, window_ms));
        })
      .Doc(
          "Service health as stored time series per version: requests, errors, availability, "
          "latency percentiles",
          With(WindowDoc(),
               {{"step", S::Str()},
                {"versions", S::Arr(S::Obj({{"version", S::Int()}, {"points", S::Arr(S::Any())}}))},
                {"total", S::Any()}}))
      .Query("window", S::Str(), "1h (default), 24h, 7d, 30d, or seconds")
      .blocking = true;

  r.Add("GET", one + "/kpis", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms, WindowOf(rc, "24h"));
          ASSIGN_OR_RETURN(KpiReport k, p->monitoring->Kpis(rc.project_record(),
                                                            rc.Param("endpoint"), window_ms));
          return HttpResponse::MakeJson(200, KpisToJson(k, window_ms));
        })
      .Doc("Business KPIs posted for the endpoint, per name with their sum",
           With(WindowDoc(), {{"kpis", S::Arr(S::Obj({{"name", S::Str()},
                                                      {"sum", S::Num()},
                                                      {"count", S::Int()},
                                                      {"source", S::Str()},
                                                      {"outcomes", S::Map(S::Int())},
                                                      {"points", S::Arr(S::Any())}}))}}))
      .Query("window", S::Str(), "1h, 24h (default), 7d, 30d, or seconds")
      .blocking = true;

  r.Add("POST", one + "/kpis", Permission::kProjectEdit, "endpoint.kpi.post",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(std::vector<KpiPoint> points,
                           ParseKpis(body, p->config.prediction_retention_days));
          const size_t n = points.size();
          RETURN_IF_ERROR(p->monitoring->PostKpis(rc.ctx, rc.project_record(), rc.Param("endpoint"),
                                                  std::move(points)));
          return HttpResponse::MakeJson(200, Json{{"accepted", n}});
        })
      .Doc(
          "Post KPI values (business value) for the endpoint", S::Obj({{"accepted", S::Int()}}),
          S::Obj({{"name", S::Str()},
                  {"value", S::Num()},
                  {"time", S::Any("RFC 3339 or Unix ms")},
                  {"points",
                   S::Arr(S::Obj({{"name", S::Str()}, {"value", S::Num()}, {"time", S::Any()}}))}}))
      .blocking = true;

  r.Add("GET", "/api/v1/projects/{project}/batch/schedules/{schedule}/monitoring",
        Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(BatchMonitorReport b, p->monitoring->BatchMonitoring(
                                                     rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(200, BatchMonitorToJson(b));
        })
      .Doc(
          "A batch schedule's recent runs, each input dataset version compared with the "
          "training data of the model version that scored it",
          S::Obj({{"schedule", S::Str()},
                  {"model", S::Str()},
                  {"runs", S::Arr(S::Obj({{"job", S::Str()},
                                          {"time", S::Time()},
                                          {"status", S::Str()},
                                          {"input", S::Str()},
                                          {"model_version", S::Int()},
                                          {"reference", S::Str()},
                                          {"rows", S::Int()},
                                          {"unseen_categories", S::Int()},
                                          {"drift", S::Any()},
                                          {"note", S::Str()}}))}}))
      .blocking = true;

  r.Add("GET", "/api/v1/monitoring/fleet", Permission::kAuthenticated, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto views, p->projects->List(rc.ctx.principal));
          std::vector<Project> projects;
          for (const auto& v : views) projects.push_back(v.project);
          std::vector<FleetEntry> fleet = p->monitoring->Fleet(projects);
          p->alerts->AnnotateFleet(projects, &fleet);
          return HttpResponse::MakeJson(200, FleetToJson(fleet));
        })
      .Doc(
          "Every endpoint and batch schedule of every project the caller can see, with health, "
          "drift, quality and fit as green/amber/red, value and firing alerts, most in need of "
          "attention first",
          S::Obj({{"endpoints", S::Arr(S::Obj({{"project", S::Str()},
                                               {"endpoint", S::Str()},
                                               {"model", S::Str()},
                                               {"ready", S::Bool()},
                                               {"status", S::Str()},
                                               {"health", S::Str()},
                                               {"drift", S::Str()},
                                               {"quality", S::Str()},
                                               {"requests_1h", S::Int()},
                                               {"error_rate_1h", S::Num()},
                                               {"p99_ms_1h", S::Num()},
                                               {"features_drifted", S::Int()},
                                               {"features_checked", S::Int()},
                                               {"violations", S::Int()},
                                               {"alerts_firing", S::Int()},
                                               {"fit", S::Str()},
                                               {"fit_label", S::Str()},
                                               {"multivariate_drift", S::Bool()},
                                               {"value_name", S::Str()},
                                               {"value", S::Num()},
                                               {"reason", S::Str()}}))}}))
      .Tag("monitoring")
      .blocking = true;
}

}  // namespace kade
