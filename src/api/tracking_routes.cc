// Kade-native experiment tracking routes under /api/v1/projects/{project}/. Writes go through
// the MLflow-compatible routes (the same service); these serve listing, one run, and run
// comparison in Kade's JSON and error shapes.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {

namespace S = schema;

namespace {

Json RunSummary(const RunView& v) {
  Json params = Json::object(), metrics = Json::object(), tags = Json::object();
  for (const auto& [k, val] : v.data.params) params[k] = val;
  for (const auto& m : v.data.metrics) metrics[m.key] = MetricValueJson(m);
  for (const auto& [k, val] : v.data.tags) tags[k] = val;
  Json j{{"run_id", v.run.uuid},
         {"name", v.run.name},
         {"experiment_id", v.run.experiment_id},
         {"status", v.run.status},
         {"user", v.run.user},
         {"created_by", v.run.created_by},
         {"start_time", FormatRfc3339Millis(v.run.start_time)},
         {"end_time", nullptr},
         {"params", params},
         {"metrics", metrics},
         {"tags", tags}};
  if (v.run.end_time) j["end_time"] = FormatRfc3339Millis(*v.run.end_time);
  return j;
}

}  // namespace

void RegisterTrackingRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}";

  r.Add("GET", base + "/experiments", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto list, p->tracking->ListExperiments(
                                          rc.ctx.principal, {rc.project_record()},
                                          rc.request->Query("view").value_or("active")));
          Json arr = Json::array();
          for (const auto& [e, project] : list) {
            Json tags = Json::object();
            for (const auto& [k, v] : e.tags) tags[k] = v;
            arr.push_back(Json{{"id", e.id},
                               {"name", e.name},
                               {"lifecycle_stage", e.lifecycle_stage},
                               {"created_at", FormatRfc3339Millis(e.created_at)},
                               {"tags", tags}});
          }
          return HttpResponse::MakeJson(200, Json{{"experiments", arr}});
        })
      .Doc("Experiments of a project", S::Obj({{"experiments", S::Arr(S::Any())}}))
      .Query("view", S::Enum({"active", "deleted", "all"}), "");

  r.Add("GET", base + "/runs/{run}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, rc.Param("run")));
          if (v.project != rc.project_record().name) {
            return absl::NotFoundError(absl::StrCat("run '", rc.Param("run"), "' not found"));
          }
          return HttpResponse::MakeJson(200, RunSummary(v));
        })
      .Doc("A run: params, latest metrics, tags", S::Any());

  // ?run_ids=a,b,c[&metric=valid/logloss]: params that differ, params that agree, metrics side
  // by side, and the full history of the chosen metric for each run.
  r.Add("GET", base + "/runs-compare", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          auto ids_param = rc.request->Query("run_ids");
          if (!ids_param)
            return absl::InvalidArgumentError("give the runs as ?run_ids=ID,ID[,...]");
          std::vector<std::string> ids = absl::StrSplit(*ids_param, ',', absl::SkipEmpty());
          if (ids.size() < 2 || ids.size() > 50) {
            return absl::InvalidArgumentError("compare takes 2 to 50 run ids");
          }
          std::vector<RunView> runs;
          for (const auto& id : ids) {
            ASSIGN_OR_RETURN(RunView v, p->tracking->GetRun(rc.ctx.principal, id));
            if (v.project != rc.project_record().name) {
              return absl::NotFoundError(absl::StrCat("run '", id, "' not found"));
            }
            runs.push_back(std::move(v));
          }
          std::set<std::string> keys;
          for (const auto& v : runs) {
            for (const auto& [k, val] : v.data.params) keys.insert(k);
          }
          Json differ = Json::object(), same = Json::object();
          for (const auto& k : keys) {
            Json values = Json::array();
            std::set<std::string> distinct;
            for (const auto& v : runs) {
              Json val = nullptr;
              for (const auto& [pk, pv] : v.data.params) {
                if (pk == k) val = pv;
              }
              distinct.insert(val.dump());
              values.push_back(val);
            }
            (distinct.size() > 1 ? differ : same)[k] = values;
          }
          std::set<std::string> metric_keys;
          for (const auto& v : runs) {
            for (const auto& m : v.data.metrics) metric_keys.insert(m.key);
          }
          Json metrics = Json::object();
          for (const auto& k : metric_keys) {
            Json values = Json::array();
            for (const auto& v : runs) {
              Json val = nullptr;
              for (const auto& m : v.data.metrics) {
                if (m.key == k) val = MetricValueJson(m);
              }
              values.push_back(val);
            }
            metrics[k] = values;
          }
          Json out{{"runs", Json::array()},
                   {"params_differ", differ},
                   {"params_same", same},
                   {"metrics", metrics}};
          for (const auto& v : runs)
            out["runs"].push_back(Json{{"run_id", v.run.uuid}, {"name", v.run.name}});
          if (auto metric = rc.request->Query("metric")) {
            Json histories = Json::array();
            for (const auto& v : runs) {
              ASSIGN_OR_RETURN(auto points,
                               p->tracking->MetricHistory(rc.ctx.principal, v.run.uuid, *metric));
              Json series = Json::array();
              for (const auto& m : points)
                series.push_back(Json{{"step", m.step}, {"value", MetricValueJson(m)}});
              histories.push_back(series);
            }
            out["history"] = Json{{"metric", *metric}, {"series", histories}};
          }
          return HttpResponse::MakeJson(200, out);
        })
      .Doc("Runs side by side: params that differ and agree, metrics, one metric's history",
           S::Any())
      .Query("run_ids", S::Str(), "comma-separated, 2 to 50")
      .Query("metric", S::Str(), "");
}

}  // namespace kade
