// MLflow REST API 2.0 (tracking) compatibility, so existing MLflow clients log to Kade.
//
// Every endpoint is served twice:
//   /projects/{project}/api/2.0/mlflow/...  experiment names are plain ("churn-xgb");
//                                           use
//                                           mlflow.set_tracking_uri("http://kade/projects/demo")
//   /api/2.0/mlflow/...                     experiment names are "PROJECT/NAME"; calls by id
//                                           find the project from the experiment or run
// The bearer token comes from MLFLOW_TRACKING_TOKEN. Field names, string ids and error codes
// follow mlflow/protos/service.proto.
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/mlflow_common.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/policy.h"
#include "platform/run_filter.h"

namespace kade {

namespace S = schema;

namespace {

using mlflow::Fields;
using mlflow::KeyValues;
using mlflow::KvJson;
using mlflow::Scope;
using mlflow::ScopeOf;

// Experiment 0 resolves to the scope's Default experiment (created on first use by writes).
absl::StatusOr<int64_t> ExperimentIdField(Platform* p, const RouteContext& rc, const Fields& f,
                                          const Scope& scope, bool create) {
  ASSIGN_OR_RETURN(int64_t id, f.Id("experiment_id"));
  return mlflow::ExperimentId(p, rc, scope, id, create);
}

// A metric value: a JSON number, or "NaN" / "Infinity" / "-Infinity" as proto3 JSON writes them.
// `where` is "" for log-metric's own fields, or "metrics[i]." inside a batch; errors use
// MLflow's wording and name the field.
absl::StatusOr<MetricPoint> ParseMetric(const Json& m, const std::string& where) {
  auto field = [&](const char* f) {
    std::string name = absl::StrCat(where, f);
    if (!name.empty() && name.back() == '.') name.pop_back();
    return name;
  };
  auto missing = [&](const char* f) {
    return absl::InvalidArgumentError(
        absl::StrCat("Missing value for required parameter '", field(f), "'."));
  };
  auto invalid = [&](const Json& v, const char* f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid value ", v.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 200),
        " for parameter '", field(f), "' supplied"));
  };
  MetricPoint p;
  if (!m.is_object()) return invalid(m, "");
  if (!m.contains("key") || m["key"].is_null()) return missing("key");
  if (!m["key"].is_string()) return invalid(m["key"], "key");
  p.key = m["key"].get<std::string>();
  if (!m.contains("value") || m["value"].is_null()) return missing("value");
  const Json& v = m["value"];
  if (v.is_number()) {
    p.value = v.get<double>();
  } else if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s == "NaN" || s == "nan")
      p.kind = 1;
    else if (s == "Infinity" || s == "inf")
      p.kind = 2;
    else if (s == "-Infinity" || s == "-inf")
      p.kind = 3;
    else if (!absl::SimpleAtod(s, &p.value)) {
      return invalid(v, "value");
    }
  } else {
    return invalid(v, "value");
  }
  if (p.kind == 0 && !std::isfinite(p.value))
    p.kind = std::isnan(p.value) ? 1 : p.value > 0 ? 2 : 3;
  if (p.kind == 2) p.value = std::numeric_limits<double>::infinity();
  if (p.kind == 3) p.value = -std::numeric_limits<double>::infinity();
  // MLflow requires the timestamp (milliseconds); the step defaults to 0.
  if (!m.contains("timestamp") || m["timestamp"].is_null()) return missing("timestamp");
  int64_t ts = 0;
  if (m["timestamp"].is_number_integer()) {
    ts = m["timestamp"].get<int64_t>();
  } else if (!m["timestamp"].is_string() ||
             !absl::SimpleAtoi(m["timestamp"].get<std::string>(), &ts)) {
    return invalid(m["timestamp"], "timestamp");
  }
  p.timestamp = ts;
  p.step = 0;
  if (m.contains("step") && !m["step"].is_null()) {
    int64_t st = 0;
    if (m["step"].is_number_integer())
      st = m["step"].get<int64_t>();
    else if (!m["step"].is_string() || !absl::SimpleAtoi(m["step"].get<std::string>(), &st)) {
      return invalid(m["step"], "step");
    }
    p.step = st;
  }
  return p;
}

Json MetricJson(const MetricPoint& m) {
  return Json{
      {"key", m.key}, {"value", MetricValueJson(m)}, {"timestamp", m.timestamp}, {"step", m.step}};
}

Json ExperimentJson(const Scope& scope, const Experiment& e, const std::string& project) {
  const auto& tags = e.tags;
  return Json{
      {"experiment_id", std::to_string(e.id)},
      {"name", scope.DisplayName(e, project)},
      {"artifact_location", absl::StrCat("mlflow-artifacts:/", project, "/experiments/", e.id)},
      {"lifecycle_stage", e.lifecycle_stage},
      {"creation_time", e.created_at},
      {"last_update_time", e.updated_at},
      {"tags", KvJson(tags)}};
}

Json RunInfoJson(const RunView& v) {
  Json info{{"run_id", v.run.uuid},
            {"run_uuid", v.run.uuid},
            {"run_name", v.run.name},
            {"experiment_id", std::to_string(v.run.experiment_id)},
            {"user_id", v.run.user},
            {"status", v.run.status},
            {"start_time", v.run.start_time},
            {"artifact_uri",
             absl::StrCat("mlflow-artifacts:/", v.project, "/runs/", v.run.uuid, "/artifacts")},
            {"lifecycle_stage", v.run.lifecycle_stage}};
  if (v.run.end_time) info["end_time"] = *v.run.end_time;
  return info;
}

// Where log-inputs keeps a dataset input's tags inside its stored detail.
constexpr const char* kInputTagsKey = "__input_tags";

Json RunJson(const RunView& v) {
  Json metrics = Json::array();
  for (const auto& m : v.data.metrics) metrics.push_back(MetricJson(m));
  auto tags = v.data.tags;
  tags.emplace_back("mlflow.runName", v.run.name);
  Json inputs = Json::array();
  for (const auto& in : v.data.inputs) {
    // The dataset as the client logged it (source_type, schema, profile…), and every tag;
    // inputs Kade recorded itself (training jobs) have the source type "kade".
    Json ds{{"name", in.name}, {"digest", in.digest}, {"source", in.source}};
    Json detail = Json::parse(in.detail, nullptr, false);
    Json tags = KvJson({{"mlflow.data.context", in.role}});
    if (detail.is_object()) {
      for (auto it = detail.begin(); it != detail.end(); ++it) {
        if (it.key() == kInputTagsKey) {
          if (it.value().is_array()) tags = it.value();
        } else if (!ds.contains(it.key())) {
          ds[it.key()] = it.value();
        }
      }
    }
    if (!ds.contains("source_type")) ds["source_type"] = "kade";
    inputs.push_back(Json{{"dataset", ds}, {"tags", tags}});
  }
  return Json{
      {"info", RunInfoJson(v)},
      {"data", {{"metrics", metrics}, {"params", KvJson(v.data.params)}, {"tags", KvJson(tags)}}},
      {"inputs", {{"dataset_inputs", inputs}}}};
}

void AppendKey(std::string* out, absl::string_view key) {
  AppendJsonString(out, key);
  out->push_back(':');
}

// A double as JSON the way the JSON library writes it: shortest round-trip digits, and
// ".0" on integral values so clients read a float.
void AppendDouble(std::string* out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) {
    out->append("null");
    return;
  }
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out->append(text);
  if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");
}

void AppendKvArray(std::string* out, const std::vector<std::pair<std::string, std::string>>& kvs,
                   const std::pair<std::string, std::string>* extra = nullptr) {
  out->push_back('[');
  bool first = true;
  auto one = [&](const std::pair<std::string, std::string>& kv) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"key\":");
    AppendJsonString(out, kv.first);
    out->append(",\"value\":");
    AppendJsonString(out, kv.second);
    out->push_back('}');
  };
  for (const auto& kv : kvs) one(kv);
  if (extra != nullptr) one(*extra);
  out->push_back(']');
}

// RunJson(v).dump(), written directly.
void AppendRunJson(std::string* out, const RunView& v) {
  out->append("{\"info\":{");
  AppendKey(out, "run_id");
  AppendJsonString(out, v.run.uuid);
  out->push_back(',');
  AppendKey(out, "run_uuid");
  AppendJsonString(out, v.run.uuid);
  out->push_back(',');
  AppendKey(out, "run_name");
  AppendJsonString(out, v.run.name);
  out->push_back(',');
  AppendKey(out, "experiment_id");
  AppendJsonString(out, std::to_string(v.run.experiment_id));
  out->push_back(',');
  AppendKey(out, "user_id");
  AppendJsonString(out, v.run.user);
  out->push_back(',');
  AppendKey(out, "status");
  AppendJsonString(out, v.run.status);
  out->push_back(',');
  AppendKey(out, "start_time");
  absl::StrAppend(out, v.run.start_time);
  if (v.run.end_time) {
    out->push_back(',');
    AppendKey(out, "end_time");
    absl::StrAppend(out, *v.run.end_time);
  }
  out->push_back(',');
  AppendKey(out, "artifact_uri");
  AppendJsonString(
      out, absl::StrCat("mlflow-artifacts:/", v.project, "/runs/", v.run.uuid, "/artifacts"));
  out->push_back(',');
  AppendKey(out, "lifecycle_stage");
  AppendJsonString(out, v.run.lifecycle_stage);
  out->append("},\"data\":{\"metrics\":[");
  for (size_t i = 0; i < v.data.metrics.size(); ++i) {
    const MetricPoint& m = v.data.metrics[i];
    if (i > 0) out->push_back(',');
    out->append("{\"key\":");
    AppendJsonString(out, m.key);
    out->append(",\"value\":");
    if (m.kind == 0) {
      AppendDouble(out, m.value);
    } else {
      out->append(MetricValueJson(m).dump());
    }
    absl::StrAppend(out, ",\"timestamp\":", m.timestamp, ",\"step\":", m.step, "}");
  }
  out->append("],\"params\":");
  AppendKvArray(out, v.data.params);
  out->append(",\"tags\":");
  const std::pair<std::string, std::string> run_name{"mlflow.runName", v.run.name};
  AppendKvArray(out, v.data.tags, &run_name);
  out->append("},\"inputs\":");
  if (v.data.inputs.empty()) {
    out->append("{\"dataset_inputs\":[]}");
  } else {
    out->append(RunJson(v)["inputs"].dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  out->push_back('}');
}

std::string ViewType(const std::string& t) {
  if (t == "DELETED_ONLY" || t == "2") return "deleted";
  if (t == "ALL" || t == "3") return "all";
  if (t.empty() || t == "ACTIVE_ONLY" || t == "1") return "active";
  return "invalid";
}

// "PROJECT/rest/of/path" -> the project (checked for `need`) and the artifact name in it.
absl::StatusOr<std::pair<ProjectView, std::string>> ArtifactTarget(Platform* p,
                                                                   const RouteContext& rc,
                                                                   Permission need) {
  const std::string& path = rc.Param("path");
  size_t slash = path.find('/');
  if (slash == std::string::npos || slash == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact path '", path, "' must be PROJECT/NAME"));
  }
  ASSIGN_OR_RETURN(ProjectView v, p->projects->Resolve(rc.ctx.principal, path.substr(0, slash)));
  RETURN_IF_ERROR(Authorize(rc.ctx.principal, need, v.role, v.project.name));
  return std::make_pair(v, path.substr(slash + 1));
}

class ProxySink : public UploadSink {
 public:
  ProxySink(std::unique_ptr<ArtifactUpload> up, RequestContext ctx)
      : up_(std::move(up)), ctx_(std::move(ctx)) {}
  absl::Status Append(absl::string_view chunk) override {
    absl::Status s = up_->Append(chunk);
    return absl::IsResourceExhausted(s) ? WithHttpStatus(s, 413) : s;
  }
  absl::StatusOr<HttpResponse> Finish() override {
    RETURN_IF_ERROR(up_->Finish(ctx_).status());
    return HttpResponse::MakeJson(200, Json::object());
  }

 private:
  std::unique_ptr<ArtifactUpload> up_;
  RequestContext ctx_;
};

}  // namespace

void RegisterMlflowRoutes(Router& r) {
  Platform* p = r.platform();
  // One handler, two paths; state-changing endpoints name their audit action.
  // Logging routes: checked on the event loop, committed by the store's group commit
  // without holding a thread while the commit is pending.
  auto add_log = [&r](const std::string& path, DeferredHandler h) {
    RouteGroup group;
    for (const std::string& prefix :
         {std::string("/api/2.0/mlflow"), std::string("/projects/{project}/api/2.0/mlflow")}) {
      Route& route = r.AddDeferred("POST", prefix + path, Permission::kAuthenticated, "run.log", h);
      route.mlflow_errors = true;
      group.routes.push_back(&route);
    }
    return group;
  };
  auto logged =
      [p](absl::StatusOr<TrackingService::Change> change) -> absl::StatusOr<DeferredWrite> {
    if (!change.ok()) return change.status();
    return DeferredWrite{*std::move(change),
                         [] { return HttpResponse::MakeJson(200, Json::object()); }};
  };
  auto add = [&r](const std::string& method, const std::string& path, const std::string& action,
                  Handler h) { return mlflow::AddBoth(r, method, path, action, std::move(h)); };

  // The artifact proxy: mlflow-artifacts:/PROJECT/runs/RUN/artifacts/... maps to the project
  // artifact runs/RUN/artifacts/... (same store, roles, streaming and audit as /api/v1).
  for (const std::string& prefix :
       {std::string("/api/2.0/mlflow-artifacts/artifacts"),
        std::string("/projects/{project}/api/2.0/mlflow-artifacts/artifacts")}) {
    Route& put =
        r.AddUpload("PUT", prefix + "/{path*}", Permission::kAuthenticated, "artifact.put",
                    [p](RouteContext& rc) -> absl::StatusOr<std::unique_ptr<UploadSink>> {
                      ASSIGN_OR_RETURN(auto target,
                                       ArtifactTarget(p, rc, Permission::kProjectEdit));
                      ASSIGN_OR_RETURN(
                          auto up, p->artifacts->BeginUpload(target.first.project, target.second,
                                                             rc.request->content_type));
                      return std::unique_ptr<UploadSink>(new ProxySink(std::move(up), rc.ctx));
                    })
            .Doc("MLflow artifact proxy: upload (PROJECT/path; streamed)", S::Empty(), S::Binary())
            .Consumes("application/octet-stream");
    put.mlflow_errors = true;
    Route& get =
        r.Add("GET", prefix + "/{path*}", Permission::kAuthenticated, "",
              [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
                ASSIGN_OR_RETURN(auto target, ArtifactTarget(p, rc, Permission::kProjectView));
                ASSIGN_OR_RETURN(ArtifactDownload d, p->artifacts->OpenForDownload(
                                                         target.first.project, target.second));
                HttpResponse resp;
                resp.content_type = d.artifact.content_type;
                resp.file_path = d.local_path;
                resp.headers.emplace_back("Content-Disposition", "attachment");
                return resp;
              })
            .Doc("MLflow artifact proxy: download", S::Binary())
            .Produces("application/octet-stream");
    get.mlflow_errors = true;
    get.blocking = true;
    Route& list =
        r.Add("GET", prefix, Permission::kAuthenticated, "",
              [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
                std::string dir = rc.request->Query("path").value_or("");
                while (!dir.empty() && dir.back() == '/') dir.pop_back();
                size_t slash = dir.find('/');
                std::string project_name = dir.substr(0, slash);
                if (project_name.empty())
                  return absl::InvalidArgumentError("give ?path=PROJECT/DIRECTORY");
                ASSIGN_OR_RETURN(ProjectView v,
                                 p->projects->Resolve(rc.ctx.principal, project_name));
                std::string prefix_name =
                    slash == std::string::npos ? "" : dir.substr(slash + 1) + "/";
                ASSIGN_OR_RETURN(auto all, p->artifacts->List(v.project, prefix_name));
                // One level: files directly in the directory, and sub-directories once each.
                Json files = Json::array();
                std::set<std::string> dirs;
                for (const auto& a : all) {
                  std::string rest = a.name.substr(prefix_name.size());
                  size_t sub = rest.find('/');
                  if (sub == std::string::npos) {
                    files.push_back(Json{{"path", rest}, {"is_dir", false}, {"file_size", a.size}});
                  } else if (dirs.insert(rest.substr(0, sub)).second) {
                    files.push_back(Json{{"path", rest.substr(0, sub)}, {"is_dir", true}});
                  }
                }
                return HttpResponse::MakeJson(200, Json{{"files", files}});
              })
            .Doc("MLflow artifact proxy: list one directory",
                 S::Obj({{"files", S::Arr(S::Obj({{"path", S::Str()},
                                                  {"is_dir", S::Bool()},
                                                  {"file_size", S::Int()}}))},
                         {"root_uri", S::Str()}}))
            .Query("path", S::Str(), "PROJECT/DIRECTORY");
    list.mlflow_errors = true;
  }

  add("POST", "/experiments/create", "experiment.create",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(std::string name, f.Str("name", true));
        ASSIGN_OR_RETURN(auto pn, mlflow::ProjectAndName(p, rc, scope, name, /*create=*/true));
        ASSIGN_OR_RETURN(auto tags, KeyValues(f.body(), "tags"));
        ASSIGN_OR_RETURN(Experiment e,
                         p->tracking->CreateExperiment(rc.ctx, pn.first.project, pn.second, tags));
        return HttpResponse::MakeJson(200, Json{{"experiment_id", std::to_string(e.id)}});
      })
      .Doc("Create an experiment", S::Obj({{"experiment_id", S::Str()}}),
           S::Obj({{"name", S::Str()},
                   {"artifact_location", S::Str()},
                   {"tags", S::Arr(S::Ref("KeyValue"))}},
                  {"name"}));

  add("GET", "/experiments/get", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(int64_t id, ExperimentIdField(p, rc, f, scope, false));
        ASSIGN_OR_RETURN(auto ep, p->tracking->GetExperiment(rc.ctx.principal, id));
        if (scope.project && scope.project->id != ep.second.id) {
          return absl::NotFoundError(absl::StrCat("experiment ", id, " not found"));
        }
        return HttpResponse::MakeJson(
            200, Json{{"experiment", ExperimentJson(scope, ep.first, ep.second.name)}});
      })
      .Doc("An experiment (0: the Default experiment)",
           S::Obj({{"experiment", S::Ref("MlflowExperiment")}}),
           S::Obj({{"experiment_id", S::Str()}}, {"experiment_id"}));

  add("GET", "/experiments/get-by-name", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(std::string name, f.Str("experiment_name", true));
        auto pn = mlflow::ProjectAndName(p, rc, scope, name, /*create=*/false);
        if (!pn.ok() && absl::IsNotFound(pn.status())) {
          return absl::NotFoundError(absl::StrCat("Could not find experiment with name ", name));
        }
        RETURN_IF_ERROR(pn.status());
        auto e = p->tracking->GetExperimentByName(rc.ctx.principal, pn->first.project, pn->second);
        if (!e.ok() && absl::IsNotFound(e.status())) {
          return absl::NotFoundError(absl::StrCat("Could not find experiment with name ", name));
        }
        RETURN_IF_ERROR(e.status());
        return HttpResponse::MakeJson(
            200, Json{{"experiment", ExperimentJson(scope, *e, pn->first.project.name)}});
      })
      .Doc("An experiment by name", S::Obj({{"experiment", S::Ref("MlflowExperiment")}}),
           S::Obj({{"experiment_name", S::Str()}}, {"experiment_name"}));

  add("POST", "/experiments/search", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(std::string view_type, f.Str("view_type", false));
        std::string view = ViewType(view_type);
        if (view == "invalid")
          return absl::InvalidArgumentError("view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL");
        ASSIGN_OR_RETURN(auto max, f.Int("max_results"));
        constexpr int64_t kMaxExperiments = 50000;
        if (max && (*max <= 0 || *max > kMaxExperiments)) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid value for max_results. It must be at most ", kMaxExperiments,
                           ", but got value ", *max));
        }
        const int64_t limit = max.value_or(1000);
        ASSIGN_OR_RETURN(std::string filter, f.Str("filter", false));
        ASSIGN_OR_RETURN(auto clauses, ParseFilter(filter, ExperimentVocabulary()));
        ASSIGN_OR_RETURN(std::string token, f.Str("page_token", false));
        size_t offset = 0;
        if (!token.empty() && !absl::SimpleAtoi(token, &offset)) {
          return absl::InvalidArgumentError(absl::StrCat("Invalid page token '", token, "'"));
        }
        std::vector<RunOrder> orders;
        if (f.body().contains("order_by") && !f.body()["order_by"].is_null()) {
          const Json& ob = f.body()["order_by"];
          for (const auto& o : ob.is_array() ? ob : Json::array({ob})) {
            if (!o.is_string()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("Invalid value ", o.dump(), " for parameter 'order_by' supplied"));
            }
            ASSIGN_OR_RETURN(RunOrder ro, ParseOrder(o.get<std::string>(), ExperimentVocabulary()));
            if (ro.entity != "attribute") {
              return absl::InvalidArgumentError("experiments are ordered by attributes only");
            }
            orders.push_back(std::move(ro));
          }
        }
        // MLflow's default order: newest first, ties by id.
        if (orders.empty()) orders.push_back(RunOrder{"attribute", "creation_time", false});
        orders.push_back(RunOrder{"attribute", "experiment_id", true});
        std::vector<Project> projects;
        if (scope.project) {
          projects.push_back(*scope.project);
        } else {
          ASSIGN_OR_RETURN(auto views, p->projects->List(rc.ctx.principal));
          for (auto& v : views) projects.push_back(v.project);
        }
        ASSIGN_OR_RETURN(auto list, p->tracking->ListExperiments(rc.ctx.principal, projects, view));
        struct Row {
          const Experiment* e;
          const std::string* project;
          std::string shown;
        };
        std::vector<Row> rows;
        for (const auto& [e, project] : list) {
          Row row{&e, &project, scope.DisplayName(e, project)};
          bool ok = true;
          for (const auto& c : clauses) {
            if (c.entity == "tag") {
              std::optional<std::string> v;
              for (const auto& [k, val] : e.tags) {
                if (k == c.key) v = val;
              }
              ok = ClauseMatches(c, v);
            } else if (c.key == "name") {
              ok = ClauseMatches(c, row.shown);
            } else {
              const double x = static_cast<double>(c.key == "creation_time"      ? e.created_at
                                                   : c.key == "last_update_time" ? e.updated_at
                                                                                 : e.id);
              ok = ClauseMatches(c, std::nullopt, x);
            }
            if (!ok) break;
          }
          if (ok) rows.push_back(std::move(row));
        }
        auto key = [](const Row& r, const std::string& k) -> std::pair<std::string, double> {
          if (k == "name") return {r.shown, 0};
          return {"", static_cast<double>(k == "creation_time"      ? r.e->created_at
                                          : k == "last_update_time" ? r.e->updated_at
                                                                    : r.e->id)};
        };
        std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
          for (const auto& o : orders) {
            auto ka = key(a, o.key), kb = key(b, o.key);
            if (ka != kb) return o.ascending ? ka < kb : ka > kb;
          }
          return false;
        });
        Json arr = Json::array();
        for (size_t i = offset; i < rows.size() && static_cast<int64_t>(arr.size()) < limit; ++i) {
          arr.push_back(ExperimentJson(scope, *rows[i].e, *rows[i].project));
        }
        Json out{{"experiments", arr}};
        if (offset + arr.size() < rows.size()) {
          out["next_page_token"] = std::to_string(offset + arr.size());
        }
        return HttpResponse::MakeJson(200, out);
      })
      .Doc("Search experiments",
           S::Obj({{"experiments", S::Arr(S::Ref("MlflowExperiment"))},
                   {"next_page_token", S::Str()}}),
           S::Obj({{"filter", S::Str()},
                   {"max_results", S::Int()},
                   {"order_by", S::Arr(S::Str())},
                   {"page_token", S::Str()},
                   {"view_type", S::Enum({"ACTIVE_ONLY", "DELETED_ONLY", "ALL"})}}));

  add("POST", "/experiments/update", "experiment.update",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(int64_t id, ExperimentIdField(p, rc, f, scope, false));
        ASSIGN_OR_RETURN(std::string name, f.Str("new_name", true));
        RETURN_IF_ERROR(p->tracking->RenameExperiment(rc.ctx, id, name));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Rename an experiment", S::Empty(),
           S::Obj({{"experiment_id", S::Str()}, {"new_name", S::Str()}},
                  {"experiment_id", "new_name"}));

  for (const auto& [path, deleted] :
       {std::pair<std::string, bool>{"/experiments/delete", true},
        std::pair<std::string, bool>{"/experiments/restore", false}}) {
    bool del = deleted;
    add("POST", path, del ? "experiment.delete" : "experiment.restore",
        [p, del](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
          ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
          ASSIGN_OR_RETURN(int64_t id, f.Id("experiment_id"));
          if (id == 0 && del) {
            return absl::InvalidArgumentError(
                "Cannot delete the default experiment '0'. "
                "This is an internally reserved experiment.");
          }
          ASSIGN_OR_RETURN(id, mlflow::ExperimentId(p, rc, scope, id, false));
          RETURN_IF_ERROR(p->tracking->SetExperimentLifecycle(rc.ctx, id, del));
          return HttpResponse::MakeJson(200, Json::object());
        })
        .Doc(del ? "Delete an experiment" : "Restore a deleted experiment", S::Empty(),
             S::Obj({{"experiment_id", S::Str()}}, {"experiment_id"}));
  }

  add("POST", "/experiments/set-experiment-tag", "experiment.tag",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(int64_t id, ExperimentIdField(p, rc, f, scope, false));
        ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
        ASSIGN_OR_RETURN(std::string value, f.Str("value", false));
        RETURN_IF_ERROR(p->tracking->SetExperimentTag(rc.ctx, id, key, value));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Set an experiment tag", S::Empty(),
           S::Obj({{"experiment_id", S::Str()}, {"key", S::Str()}, {"value", S::Str()}},
                  {"experiment_id", "key"}));

  add("POST", "/runs/create", "run.create",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        ASSIGN_OR_RETURN(int64_t id, ExperimentIdField(p, rc, f, scope, true));
        if (scope.project) {
          ASSIGN_OR_RETURN(auto ep, p->tracking->GetExperiment(rc.ctx.principal, id));
          if (ep.second.id != scope.project->id)
            return absl::NotFoundError(absl::StrCat("experiment ", id, " not found"));
        }
        ASSIGN_OR_RETURN(std::string name, f.Str("run_name", false));
        ASSIGN_OR_RETURN(auto start, f.Int("start_time"));
        ASSIGN_OR_RETURN(auto tags, KeyValues(f.body(), "tags"));
        // MLflow clients send the run name as a tag too; keep it as the run's name.
        for (auto it = tags.begin(); it != tags.end();) {
          if (it->first == "mlflow.runName") {
            if (name.empty()) name = it->second;
            it = tags.erase(it);
          } else {
            ++it;
          }
        }
        ASSIGN_OR_RETURN(std::string user_id, f.Str("user_id", false));
        ASSIGN_OR_RETURN(RunView v, p->tracking->CreateRun(rc.ctx, id, name, start, tags, user_id));
        return HttpResponse::MakeJson(200, Json{{"run", RunJson(v)}});
      })
      .Doc("Create a run (experiment 0: the Default experiment)",
           S::Obj({{"run", S::Ref("MlflowRun")}}),
           S::Obj({{"experiment_id", S::Str()},
                   {"user_id", S::Str()},
                   {"run_name", S::Str()},
                   {"start_time", S::Int()},
                   {"tags", S::Arr(S::Ref("KeyValue"))}}));

  add("GET", "/runs/get", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.RunId());
        ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, id));
        return HttpResponse::MakeJson(200, Json{{"run", RunJson(v)}});
      })
      .Doc("A run", S::Obj({{"run", S::Ref("MlflowRun")}}),
           S::Obj({{"run_id", S::Str()}, {"run_uuid", S::Str()}}));

  add("POST", "/runs/update", "run.update",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.RunId());
        ASSIGN_OR_RETURN(std::string status, f.Str("status", false));
        ASSIGN_OR_RETURN(auto end, f.Int("end_time"));
        ASSIGN_OR_RETURN(std::string name, f.Str("run_name", false));
        ASSIGN_OR_RETURN(Run run,
                         p->tracking->UpdateRun(
                             rc.ctx, id, status.empty() ? std::nullopt : std::optional(status), end,
                             name.empty() ? std::nullopt : std::optional(name)));
        ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, id));
        return HttpResponse::MakeJson(200, Json{{"run_info", RunInfoJson(v)}});
      })
      .Doc("Update a run's status, end time or name",
           S::Obj({{"run_info", S::Ref("MlflowRunInfo")}}),
           S::Obj({{"run_id", S::Str()},
                   {"status", S::Str()},
                   {"end_time", S::Int()},
                   {"run_name", S::Str()}}));

  for (const auto& [path, deleted] : {std::pair<std::string, bool>{"/runs/delete", true},
                                      std::pair<std::string, bool>{"/runs/restore", false}}) {
    bool del = deleted;
    add("POST", path, del ? "run.delete" : "run.restore",
        [p, del](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
          ASSIGN_OR_RETURN(std::string id, f.Str("run_id", true));
          RETURN_IF_ERROR(p->tracking->SetRunLifecycle(rc.ctx, id, del));
          return HttpResponse::MakeJson(200, Json::object());
        })
        .Doc(del ? "Delete a run" : "Restore a deleted run", S::Empty(),
             S::Obj({{"run_id", S::Str()}}, {"run_id"}));
  }

  add_log("/runs/log-metric",
          [p, logged](RouteContext& rc) -> absl::StatusOr<DeferredWrite> {
            ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
            ASSIGN_OR_RETURN(std::string id, f.RunId());
            ASSIGN_OR_RETURN(MetricPoint m, ParseMetric(f.body(), ""));
            return logged(p->tracking->PrepareLogBatch(rc.ctx, id, {m}, {}, {}));
          })
      .Doc("Log a metric", S::Empty(),
           S::Obj({{"run_id", S::Str()},
                   {"key", S::Str()},
                   {"value", S::Any()},
                   {"timestamp", S::Int()},
                   {"step", S::Int()}},
                  {"run_id", "key", "value", "timestamp"}));

  add_log("/runs/log-parameter",
          [p, logged](RouteContext& rc) -> absl::StatusOr<DeferredWrite> {
            ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
            ASSIGN_OR_RETURN(std::string id, f.RunId());
            ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
            ASSIGN_OR_RETURN(std::string value, f.Str("value", true));
            return logged(p->tracking->PrepareLogBatch(rc.ctx, id, {}, {{key, value}}, {}));
          })
      .Doc("Log a param", S::Empty(),
           S::Obj({{"run_id", S::Str()}, {"key", S::Str()}, {"value", S::Str()}},
                  {"run_id", "key", "value"}));

  add_log("/runs/set-tag",
          [p, logged](RouteContext& rc) -> absl::StatusOr<DeferredWrite> {
            ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
            ASSIGN_OR_RETURN(std::string id, f.RunId());
            ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
            ASSIGN_OR_RETURN(std::string value, f.Str("value", false));
            return logged(p->tracking->PrepareLogBatch(rc.ctx, id, {}, {}, {{key, value}}));
          })
      .Doc("Set a run tag", S::Empty(),
           S::Obj({{"run_id", S::Str()}, {"key", S::Str()}, {"value", S::Str()}},
                  {"run_id", "key"}));

  add("POST", "/runs/delete-tag", "run.tag.delete",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.Str("run_id", true));
        ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
        RETURN_IF_ERROR(p->tracking->DeleteTag(rc.ctx, id, key));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Delete a run tag", S::Empty(),
           S::Obj({{"run_id", S::Str()}, {"key", S::Str()}}, {"run_id", "key"}));

  add_log("/runs/log-batch",
          [p, logged](RouteContext& rc) -> absl::StatusOr<DeferredWrite> {
            ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
            ASSIGN_OR_RETURN(std::string id, f.Str("run_id", true));
            std::vector<MetricPoint> metrics;
            const Json& body = f.body();
            if (body.contains("metrics") && !body["metrics"].is_null()) {
              if (!body["metrics"].is_array())
                return absl::InvalidArgumentError("'metrics' must be a list");
              if (body["metrics"].size() > kMaxBatchMetrics) {
                return absl::InvalidArgumentError(absl::StrCat("a batch holds at most ",
                                                               kMaxBatchMetrics, " metrics; got ",
                                                               body["metrics"].size()));
              }
              for (size_t i = 0; i < body["metrics"].size(); ++i) {
                ASSIGN_OR_RETURN(MetricPoint m, ParseMetric(body["metrics"][i],
                                                            absl::StrCat("metrics[", i, "].")));
                metrics.push_back(std::move(m));
              }
            }
            ASSIGN_OR_RETURN(auto params, KeyValues(body, "params"));
            ASSIGN_OR_RETURN(auto tags, KeyValues(body, "tags"));
            return logged(p->tracking->PrepareLogBatch(rc.ctx, id, std::move(metrics),
                                                       std::move(params), std::move(tags)));
          })
      .Doc("Log metrics, params and tags at once (all or nothing)", S::Empty(),
           S::Obj({{"run_id", S::Str()},
                   {"metrics", S::Arr(S::Ref("MlflowMetric"))},
                   {"params", S::Arr(S::Ref("KeyValue"))},
                   {"tags", S::Arr(S::Ref("KeyValue"))}},
                  {"run_id"}));

  add("POST", "/runs/log-inputs", "run.inputs",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.Str("run_id", true));
        std::vector<RunInput> inputs;
        const Json& body = f.body();
        if (!body.contains("datasets") || body["datasets"].is_null()) {
          return absl::InvalidArgumentError("Missing value for required parameter 'datasets'.");
        }
        if (!body["datasets"].is_array()) {
          return absl::InvalidArgumentError(absl::StrCat("Invalid value ",
                                                         body["datasets"].dump().substr(0, 200),
                                                         " for parameter 'datasets' supplied"));
        }
        {
          for (size_t i = 0; i < body["datasets"].size(); ++i) {
            const Json& di = body["datasets"][i];
            if (!di.is_object() || !di.contains("dataset") || !di["dataset"].is_object()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("datasets[", i, "] needs a 'dataset' object"));
            }
            const Json& ds = di["dataset"];
            RunInput in;
            in.name = ds.value("name", "");
            in.digest = ds.value("digest", "");
            in.source = ds.value("source", "");
            if (in.name.empty() || in.digest.empty()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("datasets[", i, "].dataset needs 'name' and 'digest'"));
            }
            ASSIGN_OR_RETURN(auto tags, KeyValues(di, "tags"));
            for (const auto& [k, v] : tags) {
              if (k == "mlflow.data.context") in.role = v;
            }
            Json detail = ds;
            detail.erase(kInputTagsKey);
            if (!tags.empty()) detail[kInputTagsKey] = KvJson(tags);
            in.detail = detail.dump(-1, ' ', false, Json::error_handler_t::replace);
            inputs.push_back(std::move(in));
          }
        }
        RETURN_IF_ERROR(p->tracking->LogInputs(rc.ctx, id, inputs));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Log the datasets a run used", S::Empty(),
           S::Obj({{"run_id", S::Str()},
                   {"datasets", S::Arr(S::Obj({{"dataset", S::Map(S::Any())},
                                               {"tags", S::Arr(S::Ref("KeyValue"))}}))}},
                  {"run_id", "datasets"}));

  // mlflow.<flavor>.log_model records the logged model on the run: MLflow keeps the list in
  // the run tag mlflow.log-model.history, and so does Kade.
  add("POST", "/runs/log-model", "run.log",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.RunId());
        ASSIGN_OR_RETURN(std::string text, f.Str("model_json", true));
        auto model = ParseJsonObject(text, JsonLimits{});
        if (!model.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid value for parameter 'model_json': ", model.status().message()));
        }
        for (const char* k : {"artifact_path", "flavors"}) {
          if (!model->contains(k)) {
            return absl::InvalidArgumentError(
                absl::StrCat("Model json is missing mandatory fields: ['", k, "']"));
          }
        }
        ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, id));
        Json history = Json::array();
        for (const auto& [k, val] : v.data.tags) {
          if (k == "mlflow.log-model.history") {
            Json old = ParseJsonOr(val, Json::array());
            if (old.is_array()) history = std::move(old);
          }
        }
        history.push_back(*std::move(model));
        std::string tag = history.dump(-1, ' ', false, Json::error_handler_t::replace);
        // The tag is bounded like every tag: the oldest entries go first.
        while (tag.size() > kMaxTagValueLength && history.size() > 1) {
          history.erase(history.begin());
          tag = history.dump(-1, ' ', false, Json::error_handler_t::replace);
        }
        RETURN_IF_ERROR(
            p->tracking->LogBatch(rc.ctx, id, {}, {}, {{"mlflow.log-model.history", tag}}));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Record a logged model on the run (mlflow.log-model.history)", S::Empty(),
           S::Obj({{"run_id", S::Str()}, {"model_json", S::Str()}}, {"run_id", "model_json"}));

  // Lists a run's artifacts one directory at a time; paths are relative to the run's root.
  add("GET", "/artifacts/list", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.RunId());
        ASSIGN_OR_RETURN(std::string dir, f.Str("path", false));
        while (absl::StartsWith(dir, "./")) dir.erase(0, 2);
        if (dir == ".") dir.clear();
        while (!dir.empty() && dir.back() == '/') dir.pop_back();
        if (dir.find("..") != std::string::npos || absl::StartsWith(dir, "/")) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid value ", dir, " for parameter 'path' supplied"));
        }
        ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, id));
        ASSIGN_OR_RETURN(ProjectView pv, p->projects->Resolve(rc.ctx.principal, v.project));
        const std::string root = absl::StrCat("runs/", v.run.uuid, "/artifacts/");
        const std::string prefix = root + (dir.empty() ? "" : dir + "/");
        ASSIGN_OR_RETURN(auto all, p->artifacts->List(pv.project, prefix));
        Json files = Json::array();
        std::set<std::string> dirs;
        for (const auto& a : all) {
          std::string rest = a.name.substr(prefix.size());
          size_t sub = rest.find('/');
          const std::string rel = dir.empty() ? "" : dir + "/";
          if (sub == std::string::npos) {
            files.push_back(Json{{"path", rel + rest}, {"is_dir", false}, {"file_size", a.size}});
          } else if (dirs.insert(rest.substr(0, sub)).second) {
            files.push_back(Json{{"path", rel + rest.substr(0, sub)}, {"is_dir", true}});
          }
        }
        return HttpResponse::MakeJson(
            200, Json{{"root_uri", absl::StrCat("mlflow-artifacts:/", v.project, "/runs/",
                                                v.run.uuid, "/artifacts")},
                      {"files", files}});
      })
      .Doc(
          "List a run's artifacts, one directory",
          S::Obj({{"files",
                   S::Arr(S::Obj(
                       {{"path", S::Str()}, {"is_dir", S::Bool()}, {"file_size", S::Int()}}))},
                  {"root_uri", S::Str()}}),
          S::Obj({{"run_id", S::Str()}, {"path", S::Str()}, {"page_token", S::Str()}}, {"run_id"}));

  add("GET", "/metrics/get-history", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string id, f.RunId());
        ASSIGN_OR_RETURN(std::string key, f.Str("metric_key", true));
        ASSIGN_OR_RETURN(auto history, p->tracking->MetricHistory(rc.ctx.principal, id, key));
        Json arr = Json::array();
        for (const auto& m : history) arr.push_back(MetricJson(m));
        return HttpResponse::MakeJson(200, Json{{"metrics", arr}});
      })
      .Doc("A metric's whole history", S::Obj({{"metrics", S::Arr(S::Ref("MlflowMetric"))}}),
           S::Obj({{"run_id", S::Str()}, {"metric_key", S::Str()}}, {"run_id", "metric_key"}));

  add("POST", "/runs/search", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(Scope scope, ScopeOf(p, rc));
        const Json& body = f.body();
        RunSearch s;
        if (body.contains("experiment_ids")) {
          Json ids = body["experiment_ids"].is_array() ? body["experiment_ids"]
                                                       : Json::array({body["experiment_ids"]});
          for (const auto& v : ids) {
            int64_t id = 0;
            std::string text = v.is_string() ? v.get<std::string>() : v.dump();
            if (!absl::SimpleAtoi(text, &id)) {
              return absl::InvalidArgumentError(
                  absl::StrCat("experiment id '", text, "' is not valid"));
            }
            auto resolved = mlflow::ExperimentId(p, rc, scope, id, false);
            if (!resolved.ok() && absl::IsNotFound(resolved.status())) continue;  // no Default yet
            RETURN_IF_ERROR(resolved.status());
            s.experiment_ids.push_back(*resolved);
          }
        }
        if (s.experiment_ids.empty()) {
          if (body.contains("experiment_ids") && !body["experiment_ids"].empty()) {
            return HttpResponse::MakeJson(200, Json{{"runs", Json::array()}});  // only a missing 0
          }
          return absl::InvalidArgumentError("give at least one experiment id in 'experiment_ids'");
        }
        ASSIGN_OR_RETURN(s.filter, f.Str("filter", false));
        ASSIGN_OR_RETURN(std::string view_type, f.Str("run_view_type", false));
        s.view = ViewType(view_type);
        ASSIGN_OR_RETURN(auto max, f.Int("max_results"));
        s.max_results = max.value_or(1000);
        ASSIGN_OR_RETURN(s.page_token, f.Str("page_token", false));
        if (body.contains("order_by")) {
          Json ob =
              body["order_by"].is_array() ? body["order_by"] : Json::array({body["order_by"]});
          for (const auto& o : ob) {
            if (!o.is_string())
              return absl::InvalidArgumentError("order_by entries must be strings");
            s.order_by.push_back(o.get<std::string>());
          }
        }
        ASSIGN_OR_RETURN(auto result, p->tracking->SearchRuns(rc.ctx.principal, s));
        // A page holds up to thousands of runs: written straight to text, which is several
        // times faster than building the JSON tree (same fields as RunJson).
        HttpResponse resp;
        resp.status = 200;
        std::string& out = resp.body;
        out.reserve(result.first.size() * 1024 + 64);
        out += "{\"runs\":[";
        bool first = true;
        for (const auto& v : result.first) {
          if (scope.project && v.project != scope.project->name) continue;
          if (!first) out.push_back(',');
          first = false;
          AppendRunJson(&out, v);
        }
        out.push_back(']');
        if (!result.second.empty()) {
          out += ",\"next_page_token\":";
          AppendJsonString(&out, result.second);
        }
        out.push_back('}');
        return resp;
      })
      .Doc("Search runs",
           S::Obj({{"runs", S::Arr(S::Ref("MlflowRun"))}, {"next_page_token", S::Str()}}),
           S::Obj({{"experiment_ids", S::Arr(S::Str())},
                   {"filter", S::Str()},
                   {"run_view_type", S::Str()},
                   {"max_results", S::Int()},
                   {"order_by", S::Arr(S::Str())},
                   {"page_token", S::Str()}},
                  {"experiment_ids"}));
}

}  // namespace kade
