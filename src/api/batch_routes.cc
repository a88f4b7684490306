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
#include "api/router.h"
#include "core/status.h"

namespace kade {

void RegisterBatchRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/batch";

  r.Add("POST", base + "/jobs", Permission::kProjectEdit, "batch.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(Job job, p->batch->Submit(rc.ctx, rc.project_record(), body));
          return HttpResponse::MakeJson(201, JobService::ToJson(job));
        })
      .blocking = true;

  r.Add("GET", base + "/jobs", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t limit = 100;
          if (auto l = rc.request->Query("limit")) {
            if (!absl::SimpleAtoi(*l, &limit) || limit < 1 || limit > 1000) {
              return absl::InvalidArgumentError("limit must be between 1 and 1000");
            }
          }
          ASSIGN_OR_RETURN(Json jobs, p->batch->ListJobs(rc.project_record(), limit));
          return HttpResponse::MakeJson(200, jobs);
        });

  r.Add("POST", base + "/schedules", Permission::kProjectEdit, "batch.schedule.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(Json s, p->batch->CreateSchedule(rc.ctx, rc.project_record(), body));
          return HttpResponse::MakeJson(201, s);
        })
      .blocking = true;

  r.Add("GET", base + "/schedules", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json s, p->batch->ListSchedules(rc.project_record()));
          return HttpResponse::MakeJson(200, s);
        });

  r.Add("GET", base + "/schedules/{schedule}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json s,
                           p->batch->GetSchedule(rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(200, s);
        });

  r.Add("PATCH", base + "/schedules/{schedule}", Permission::kProjectEdit, "batch.schedule.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(Json s, p->batch->UpdateSchedule(rc.ctx, rc.project_record(),
                                                            rc.Param("schedule"), body));
          return HttpResponse::MakeJson(200, s);
        })
      .blocking = true;

  r.Add("DELETE", base + "/schedules/{schedule}", Permission::kProjectEdit, "batch.schedule.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(
              p->batch->DeleteSchedule(rc.ctx, rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("schedule")}});
        });

  r.Add("POST", base + "/schedules/{schedule}/run", Permission::kProjectEdit, "batch.submit",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(
              Job job, p->batch->RunScheduleNow(rc.ctx, rc.project_record(), rc.Param("schedule")));
          return HttpResponse::MakeJson(201, JobService::ToJson(job));
        })
      .blocking = true;
}

}  // namespace kade
