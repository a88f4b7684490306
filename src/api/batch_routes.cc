// Batch inference jobs and their cron schedules.
//   POST   /api/v1/projects/{p}/batch/jobs                    {model, version, dataset,
//   dataset_version, output} GET    /api/v1/projects/{p}/batch/jobs[?limit=N]          (logs and
//   cancel: the /jobs routes) POST   /api/v1/projects/{p}/batch/schedules               {name,
//   cron, timezone, spec, enabled} GET    /api/v1/projects/{p}/batch/schedules GET
//   /api/v1/projects/{p}/batch/schedules/{s}           -> next run and history PATCH
//   /api/v1/projects/{p}/batch/schedules/{s}           {cron, timezone, enabled, spec} DELETE
//   /api/v1/projects/{p}/batch/schedules/{s} POST   /api/v1/projects/{p}/batch/schedules/{s}/run ->
//   201 job (now, out of turn)
#include "absl/strings/numbers.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/names.h"

namespace kade {

namespace S = schema;
namespace {

absl::StatusOr<ScheduleSpec> ParseScheduleSpec(const Json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "cron", "timezone", "spec", "enabled"}));
  ScheduleSpec s;
  ASSIGN_OR_RETURN(s.name, RequiredString(body, "name"));
  RETURN_IF_ERROR(ValidateName("schedule", s.name));
  ASSIGN_OR_RETURN(s.cron, RequiredString(body, "cron"));
  // The time zone is never implied: "0 2 * * *" means different hours in different places.
  ASSIGN_OR_RETURN(s.timezone, RequiredString(body, "timezone"));
  if (!body.contains("spec")) return absl::InvalidArgumentError("'spec': the batch job to run");
  ASSIGN_OR_RETURN(s.spec, BatchSpec::FromJson(body["spec"]));
  ASSIGN_OR_RETURN(auto enabled, OptionalBool(body, "enabled"));
  s.enabled = enabled.value_or(true);
  return s;
}

absl::StatusOr<ScheduleChange> ParseScheduleChange(const Json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(body, {"cron", "timezone", "enabled", "spec"}));
  ScheduleChange c;
  ASSIGN_OR_RETURN(c.cron, OptionalString(body, "cron"));
  ASSIGN_OR_RETURN(c.timezone, OptionalString(body, "timezone"));
  ASSIGN_OR_RETURN(c.enabled, OptionalBool(body, "enabled"));
  if (body.contains("spec")) {
    ASSIGN_OR_RETURN(c.spec, BatchSpec::FromJson(body["spec"]));
  }
  return c;
}

Json ScheduleToJson(const ScheduleView& v) {
  const JobSchedule& s = v.schedule;
  Json h = Json::array();
  for (const auto& j : v.history) {
    h.push_back(Json{{"id", j.uuid},
                     {"status", j.status},
                     {"created_at", FormatRfc3339Millis(j.created_at)},
                     {"result", ParseJsonOr(j.result, Json::object())},
                     {"error", j.error}});
  }
  return Json{{"name", s.name},
              {"kind", s.kind},
              {"cron", s.cron},
              {"timezone", s.timezone},
              {"spec", ParseJsonOr(s.spec, Json::object())},
              {"enabled", s.enabled},
              {"next_run_at", s.enabled ? Json(FormatRfc3339Millis(s.next_run_at)) : Json(nullptr)},
              {"last_job", s.last_job},
              {"created_by", s.created_by},
              {"created_at", FormatRfc3339Millis(s.created_at)},
              {"history", h}};
}

}  // namespace

void RegisterBatchRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/batch";

  r.Add("POST", base + "/jobs", Permission::kProjectEdit, "batch.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(BatchSpec spec, BatchSpec::FromJson(body));
          ASSIGN_OR_RETURN(Job job, p->batch->Submit(rc.ctx, rc.project_record(), spec));
          return HttpResponse::MakeJson(201, JobToJson(job));
        })
      .Doc("Submit a batch scoring job", S::Ref("Job"), S::Ref("BatchSpec"), 201)
      .blocking = true;

  r.Add("GET", base + "/jobs", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t limit = 100;
          if (auto l = rc.request->Query("limit")) {
            if (!absl::SimpleAtoi(*l, &limit) || limit < 1 || limit > 1000) {
              return absl::InvalidArgumentError("limit must be between 1 and 1000");
            }
          }
          ASSIGN_OR_RETURN(auto jobs, p->batch->ListJobs(rc.project_record(), limit));
          Json arr = Json::array();
          for (const auto& j : jobs) arr.push_back(JobToJson(j));
          return HttpResponse::MakeJson(200, Json{{"jobs", arr}});
        })
      .Doc("Batch scoring jobs", S::Obj({{"jobs", S::Arr(S::Ref("Job"))}}))
      .Query("limit", S::Int(), "");

  r.Add("POST", base + "/schedules", Permission::kProjectEdit, "batch.schedule.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(ScheduleSpec spec, ParseScheduleSpec(body));
          ASSIGN_OR_RETURN(ScheduleView s,
                           p->batch->CreateSchedule(rc.ctx, rc.project_record(), std::move(spec)));
          return HttpResponse::MakeJson(201, ScheduleToJson(s));
        })
      .Doc("Create a schedule (cron)", S::Ref("Schedule"),
           S::Obj({{"name", S::Str()},
                   {"cron", S::Str()},
                   {"timezone", S::Str()},
                   {"spec", S::Ref("BatchSpec")},
                   {"enabled", S::Bool()}}),
           201)
      .blocking = true;

  r.Add("GET", base + "/schedules", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto list, p->batch->ListSchedules(rc.project_record()));
          Json arr = Json::array();
          for (const auto& s : list) arr.push_back(ScheduleToJson(s));
          return HttpResponse::MakeJson(200, Json{{"schedules", arr}});
        })
      .Doc("Schedules of a project", S::Obj({{"schedules", S::Arr(S::Ref("Schedule"))}}));

  r.Add("GET", base + "/schedules/{schedule}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(ScheduleView s,
                           p->batch->GetSchedule(rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(200, ScheduleToJson(s));
        })
      .Doc("A schedule", S::Ref("Schedule"));

  r.Add("PATCH", base + "/schedules/{schedule}", Permission::kProjectEdit, "batch.schedule.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(ScheduleChange change, ParseScheduleChange(body));
          ASSIGN_OR_RETURN(ScheduleView s,
                           p->batch->UpdateSchedule(rc.ctx, rc.project_record(),
                                                    rc.Param("schedule"), std::move(change)));
          return HttpResponse::MakeJson(200, ScheduleToJson(s));
        })
      .Doc("Change a schedule", S::Ref("Schedule"),
           S::Obj({{"cron", S::Str()},
                   {"timezone", S::Str()},
                   {"enabled", S::Bool()},
                   {"spec", S::Ref("BatchSpec")}}))
      .blocking = true;

  r.Add("DELETE", base + "/schedules/{schedule}", Permission::kProjectEdit, "batch.schedule.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(
              p->batch->DeleteSchedule(rc.ctx, rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("schedule")}});
        })
      .Doc("Delete a schedule", S::Obj({{"deleted", S::Str()}}));

  r.Add("POST", base + "/schedules/{schedule}/run", Permission::kProjectEdit, "batch.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(
              Job job, p->batch->RunScheduleNow(rc.ctx, rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(201, JobToJson(job));
        })
      .Doc("Run a schedule now", S::Ref("Job"), S::Empty(), 201)
      .blocking = true;
}

}  // namespace kade
