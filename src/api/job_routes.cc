// Jobs: training submissions, their status, logs and cancellation.
//   POST /api/v1/projects/{p}/jobs/train        {training spec}      -> 201 job
//   GET  /api/v1/projects/{p}/jobs[?limit=N]                         -> jobs, newest first
//   GET  /api/v1/projects/{p}/jobs/{id}                              -> job
//   GET  /api/v1/projects/{p}/jobs/{id}/logs[?after=SEQ]             -> log lines after SEQ
//   POST /api/v1/projects/{p}/jobs/{id}/cancel                       -> job
//   POST /api/v1/projects/{p}/jobs/reproduce    {"run_id": RUN}      -> 201 job
#include "absl/strings/numbers.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {

namespace S = schema;

Json JobToJson(const Job& j) {
  Json out{{"id", j.uuid},
           {"kind", j.kind},
           {"status", j.status},
           {"attempts", j.attempts},
           {"max_attempts", j.max_attempts},
           {"spec", ParseJsonOr(j.spec, Json::object())},
           {"run_id", j.run_uuid},
           {"error", j.error},
           {"result", ParseJsonOr(j.result, Json::object())},
           {"cancel_requested", j.cancel_requested},
           {"created_by", j.created_by},
           {"created_at", FormatRfc3339Millis(j.created_at)},
           {"started_at", nullptr},
           {"finished_at", nullptr}};
  if (j.started_at) out["started_at"] = FormatRfc3339Millis(*j.started_at);
  if (j.finished_at) out["finished_at"] = FormatRfc3339Millis(*j.finished_at);
  return out;
}

void RegisterJobRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/jobs";

  r.Add("POST", base + "/train", Permission::kProjectEdit, "job.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          // The job's stored spec is also the wire form, so its codec parses the body.
          ASSIGN_OR_RETURN(ml::TrainSpec spec, ml::TrainSpec::FromJson(body));
          ASSIGN_OR_RETURN(Job job,
                           p->training->Submit(rc.ctx, rc.project_record(), std::move(spec)));
          return HttpResponse::MakeJson(201, JobToJson(job));
        })
      .Doc("Submit a training job (or a hyper-parameter search)", S::Ref("Job"),
           S::Obj({{"dataset", S::Str()},
                   {"version", S::Any()},
                   {"target", S::Str()},
                   {"include", S::Arr(S::Str())},
                   {"exclude", S::Arr(S::Str())},
                   {"task", S::Str()},
                   {"algorithm", S::Enum({"xgboost", "linear"})},
                   {"params", S::Map(S::Any())},
                   {"num_rounds", S::Int()},
                   {"early_stopping_rounds", S::Int()},
                   {"experiment", S::Str()},
                   {"search", S::Any()}},
                  {"dataset", "target"}),
           201)
      .blocking = true;

  r.Add("POST", base + "/reproduce", Permission::kProjectEdit, "job.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          if (!body.contains("run_id") || !body["run_id"].is_string()) {
            return absl::InvalidArgumentError("give the run to reproduce as 'run_id'");
          }
          ASSIGN_OR_RETURN(Job job, p->training->Reproduce(rc.ctx, rc.project_record(),
                                                           body["run_id"].get<std::string>()));
          return HttpResponse::MakeJson(201, JobToJson(job));
        })
      .Doc("Re-run the training of a run", S::Ref("Job"),
           S::Obj({{"run_id", S::Str()}}, {"run_id"}), 201)
      .blocking = true;

  r.Add("GET", base, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t limit = 100;
          if (auto l = rc.request->Query("limit")) {
            if (!absl::SimpleAtoi(*l, &limit) || limit < 1 || limit > 1000) {
              return absl::InvalidArgumentError("limit must be between 1 and 1000");
            }
          }
          ASSIGN_OR_RETURN(auto jobs, p->jobs->List(rc.project_record(), limit));
          Json arr = Json::array();
          for (const auto& j : jobs) arr.push_back(JobToJson(j));
          return HttpResponse::MakeJson(200, Json{{"jobs", arr}});
        })
      .Doc("Jobs of a project, newest first", S::Obj({{"jobs", S::Arr(S::Ref("Job"))}}))
      .Query("limit", S::Int(), "")
      .Query("kind", S::Str(), "")
      .Query("status", S::Str(), "");

  r.Add("GET", base + "/{job}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Job job, p->jobs->Get(rc.project_record(), rc.Param("job")));
          return HttpResponse::MakeJson(200, JobToJson(job));
        })
      .Doc("A job", S::Ref("Job"));

  r.Add("GET", base + "/{job}/logs", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t after = 0;
          if (auto a = rc.request->Query("after")) {
            if (!absl::SimpleAtoi(*a, &after) || after < 0) {
              return absl::InvalidArgumentError("after must be a line number (0 or more)");
            }
          }
          ASSIGN_OR_RETURN(Job job, p->jobs->Get(rc.project_record(), rc.Param("job")));
          ASSIGN_OR_RETURN(auto lines, p->jobs->Logs(rc.project_record(), rc.Param("job"), after));
          Json arr = Json::array();
          for (const auto& l : lines) {
            arr.push_back(
                Json{{"seq", l.seq}, {"time", FormatRfc3339Millis(l.ts)}, {"line", l.line}});
          }
          bool ended = job.status != "queued" && job.status != "running";
          return HttpResponse::MakeJson(
              200, Json{{"lines", arr}, {"status", job.status}, {"ended", ended}});
        })
      .Doc("A job's log lines", S::Obj({{"lines", S::Arr(S::Any())}, {"next", S::Int()}}))
      .Query("after", S::Int(), "lines after this sequence number");

  r.Add("POST", base + "/{job}/cancel", Permission::kProjectEdit, "job.cancel",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Job job, p->jobs->Cancel(rc.ctx, rc.project_record(), rc.Param("job")));
          return HttpResponse::MakeJson(200, JobToJson(job));
        })
      .Doc("Cancel a job", S::Ref("Job"), S::Empty());
}

}  // namespace kade
