#include "platform/batch_service.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/cron.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time.h"
#include "ml/batch_scorer.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

// A version given as a number or as text.
absl::StatusOr<std::string> Ref(const Json& j, const char* field) {
  if (j.is_string() && !j.get<std::string>().empty()) return j.get<std::string>();
  if (j.is_number_integer() && j.get<int64_t>() > 0) return absl::StrCat(j.get<int64_t>());
  return Bad(absl::StrCat("'", field, "' must be a version number or a name"));
}

absl::StatusOr<int64_t> NextRun(const std::string& cron, const std::string& tz, int64_t after_ms) {
  ASSIGN_OR_RETURN(CronSchedule c, CronSchedule::Parse(cron, tz));
  ASSIGN_OR_RETURN(absl::Time t, c.Next(absl::FromUnixMillis(after_ms)));
  return absl::ToUnixMillis(t);
}

}  // namespace

absl::StatusOr<BatchSpec> BatchSpec::FromJson(const Json& j) {
  if (!j.is_object()) return Bad("the batch spec must be a JSON object");
  RETURN_IF_ERROR(RejectUnknownFields(j, {"model", "version", "dataset", "dataset_version",
                                          "output", "threads", "force", "schedule"}));
  BatchSpec s;
  ASSIGN_OR_RETURN(s.model, RequiredString(j, "model"));
  ASSIGN_OR_RETURN(s.dataset, RequiredString(j, "dataset"));
  if (j.contains("version")) {
    ASSIGN_OR_RETURN(s.version, Ref(j["version"], "version"));
  }
  if (j.contains("dataset_version")) {
    ASSIGN_OR_RETURN(s.dataset_version, Ref(j["dataset_version"], "dataset_version"));
  }
  ASSIGN_OR_RETURN(auto out, OptionalString(j, "output"));
  s.output = out.value_or(s.dataset + "-scored");
  ASSIGN_OR_RETURN(auto threads, OptionalInt(j, "threads"));
  if (threads) {
    if (*threads < 1 || *threads > 64) return Bad("'threads' must be between 1 and 64");
    s.threads = static_cast<int>(*threads);
  }
  ASSIGN_OR_RETURN(auto force, OptionalBool(j, "force"));
  s.force = force.value_or(false);
  ASSIGN_OR_RETURN(auto schedule, OptionalString(j, "schedule"));
  s.schedule = schedule.value_or("");
  RETURN_IF_ERROR(ValidateName("model", s.model));
  RETURN_IF_ERROR(ValidateName("dataset", s.dataset));
  RETURN_IF_ERROR(ValidateName("dataset", s.output));
  if (s.output == s.dataset) {
    return Bad("'output' must be another dataset than the input (scored rows have more columns)");
  }
  return s;
}

Json BatchSpec::ToJson() const {
  Json j{{"model", model},     {"version", version},
         {"dataset", dataset}, {"dataset_version", dataset_version},
         {"output", output},   {"threads", threads},
         {"force", force}};
  if (!schedule.empty()) j["schedule"] = schedule;
  return j;
}

BatchService::BatchService(MetadataStore* store, JobService* jobs, RegistryService* registry,
                           DatasetService* datasets)
    : store_(store), jobs_(jobs), registry_(registry), datasets_(datasets) {
  jobs_->RegisterKind(
      "batch", [this](const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
                      const std::function<void(const std::string&)>& log) {
        return Run(job, ctx, cancel, log);
      });
}

BatchService::~BatchService() { Stop(); }

absl::Status BatchService::Check(const Project& project, const BatchSpec& spec) {
  RETURN_IF_ERROR(registry_->GetVersion(project, spec.model, spec.version).status());
  ASSIGN_OR_RETURN(DatasetVersion v,
                   datasets_->GetVersion(project, spec.dataset, spec.dataset_version, false));
  // The quality guard, before anything is queued (the run records the use, and audits it
  // when forced).
  if (v.quality_status == "failed" && !spec.force) {
    return absl::FailedPreconditionError(
        absl::StrCat(spec.dataset, "@", v.version,
                     " failed a blocking quality check; score it only with force (audited)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Job> BatchService::Submit(const RequestContext& ctx, const Project& project,
                                         const BatchSpec& spec) {
  RETURN_IF_ERROR(Check(project, spec));
  return jobs_->Enqueue(
      ctx, project, "batch", spec.ToJson(), "batch.submit",
      Json{{"model", absl::StrCat(spec.model, "@", spec.version)},
           {"dataset", absl::StrCat(spec.dataset, "@", spec.dataset_version)},
           {"output", spec.output}},
      absl::StrCat("queued: score ", spec.dataset, "@", spec.dataset_version, " with ", spec.model,
                   "@", spec.version, " into ", spec.output,
                   spec.schedule.empty() ? "" : " (schedule " + spec.schedule + ")"));
}

absl::StatusOr<std::pair<std::string, Json>> BatchService::Run(
    const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
    const std::function<void(const std::string&)>& log) {
  ASSIGN_OR_RETURN(Project project, jobs_->ProjectOf(job));
  ASSIGN_OR_RETURN(BatchSpec spec, BatchSpec::FromJson(ParseJsonOr(job.spec, Json())));
  // The alias is resolved now: a scheduled job scores with whatever is champion today.
  ASSIGN_OR_RETURN(ModelVersion mv, registry_->GetVersion(project, spec.model, spec.version));
  ASSIGN_OR_RETURN(DatasetVersion input,
                   datasets_->GetVersion(project, spec.dataset, spec.dataset_version, false));
  RETURN_IF_ERROR(datasets_->RecordUsage(ctx, project, spec.dataset, absl::StrCat(input.version),
                                         "batch-job", job.uuid, spec.force));
  ASSIGN_OR_RETURN(auto servable, registry_->LoadServable(project, mv));
  log(absl::StrFormat("scoring %s@%d (%d rows) with %s version %d into %s", spec.dataset,
                      input.version, input.rows, spec.model, mv.version, spec.output));
  auto t0 = std::chrono::steady_clock::now();
  Json source{{"kind", "batch"},
              {"job", job.uuid},
              {"by", ctx.principal.user_name},
              {"model", spec.model},
              {"model_version", mv.version},
              {"input", absl::StrCat(spec.dataset, "@", input.version)},
              {"input_sha256", input.sha256}};
  if (!spec.schedule.empty()) source["schedule"] = spec.schedule;
  ASSIGN_OR_RETURN(auto upload, datasets_->BeginUpload(
                                    ctx, project, spec.output,
                                    absl::StrCat(spec.dataset, "-", input.version, "-scored-by-",
                                                 spec.model, "-", mv.version, ".csv"),
                                    "csv", DatasetSpec(), source));
  ml::BatchScorer scorer(
      servable,
      [&](absl::string_view chunk) -> absl::Status {
        if (cancel) return absl::CancelledError("cancelled");
        return upload->Append(chunk);
      },
      spec.threads);
  absl::Status scanned =
      datasets_->Scan(project, spec.dataset, absl::StrCat(input.version), &scorer);
  if (!scanned.ok()) {
    if (cancel) return absl::CancelledError("cancelled");
    return scanned;
  }
  ASSIGN_OR_RETURN(auto finished, upload->Finish());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log(absl::StrFormat("scored %d rows in %.2f s; wrote %s@%d%s", scorer.rows(), seconds,
                      spec.output, finished.first.version,
                      finished.second ? "" : " (identical to an existing version)"));
  if (scorer.unseen_categories() > 0) {
    log(absl::StrFormat("%d values were categories the model never saw (scored as missing)",
                        scorer.unseen_categories()));
  }
  return std::make_pair(std::string(),
                        Json{{"model", spec.model},
                             {"model_version", mv.version},
                             {"input", absl::StrCat(spec.dataset, "@", input.version)},
                             {"output", spec.output},
                             {"output_version", finished.first.version},
                             {"rows", scorer.rows()},
                             {"unseen_categories", scorer.unseen_categories()},
                             {"columns_added", scorer.added_columns()},
                             {"seconds", seconds}});
}

absl::StatusOr<std::vector<Job>> BatchService::ListJobs(const Project& project, int64_t limit) {
  ASSIGN_OR_RETURN(auto all, jobs_->List(project, std::min<int64_t>(limit * 4, 1000)));
  std::vector<Job> out;
  for (auto& j : all) {
    if (j.kind != "batch") continue;
    out.push_back(std::move(j));
    if (static_cast<int64_t>(out.size()) >= limit) break;
  }
  return out;
}

ScheduleView BatchService::View(const JobSchedule& s, const std::vector<Job>& jobs) {
  ScheduleView v{s, {}};
  for (const auto& j : jobs) {
    if (j.kind != "batch") continue;
    Json spec = ParseJsonOr(j.spec, Json::object());
    if (!spec.is_object() || spec.value("schedule", "") != s.name) continue;
    v.history.push_back(j);
    if (v.history.size() >= 20) break;
  }
  return v;
}

absl::StatusOr<ScheduleView> BatchService::CreateSchedule(const RequestContext& ctx,
                                                          const Project& project,
                                                          ScheduleSpec spec) {
  RETURN_IF_ERROR(ValidateName("schedule", spec.name));
  const std::string& name = spec.name;
  spec.spec.schedule = name;
  RETURN_IF_ERROR(Check(project, spec.spec));
  JobSchedule s;
  s.project_id = project.id;
  s.name = name;
  s.kind = "batch";
  s.cron = spec.cron;
  s.timezone = spec.timezone;
  s.spec = spec.spec.ToJson().dump();
  s.enabled = spec.enabled;
  s.created_by = ctx.principal.user_name;
  s.created_at = s.updated_at = NowMillis();
  ASSIGN_OR_RETURN(s.next_run_at, NextRun(s.cron, s.timezone, s.created_at));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.jobs().FindSchedule(project.id, name));
    if (existing) return absl::AlreadyExistsError(absl::StrCat("schedule '", name, "' exists"));
    ASSIGN_OR_RETURN(s, tx.jobs().CreateSchedule(s));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"batch.schedule.create", absl::StrCat("project/", project.name, "/schedule/", name),
         project.name,
         Json{{"cron", s.cron}, {"timezone", s.timezone}, {"spec", spec.spec.ToJson()}}});
  }));
  return View(s, {});
}

absl::StatusOr<ScheduleView> BatchService::UpdateSchedule(const RequestContext& ctx,
                                                          const Project& project,
                                                          absl::string_view name,
                                                          ScheduleChange change) {
  std::optional<JobSchedule> s;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(s, tx.jobs().FindSchedule(project.id, name));
    return absl::OkStatus();
  }));
  if (!s) return absl::NotFoundError(absl::StrCat("schedule '", name, "' does not exist"));
  Json detail = Json::object();
  if (change.cron) detail["cron"] = s->cron = *change.cron;
  if (change.timezone) detail["timezone"] = s->timezone = *change.timezone;
  if (change.enabled) detail["enabled"] = s->enabled = *change.enabled;
  if (change.spec) {
    change.spec->schedule = std::string(name);
    RETURN_IF_ERROR(Check(project, *change.spec));
    s->spec = change.spec->ToJson().dump();
    detail["spec"] = change.spec->ToJson();
  }
  s->updated_at = NowMillis();
  ASSIGN_OR_RETURN(s->next_run_at, NextRun(s->cron, s->timezone, s->updated_at));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.jobs().UpdateSchedule(*s));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"batch.schedule.update", absl::StrCat("project/", project.name, "/schedule/", name),
         project.name, detail});
  }));
  return GetSchedule(project, name);
}

absl::Status BatchService::DeleteSchedule(const RequestContext& ctx, const Project& project,
                                          absl::string_view name) {
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto s, tx.jobs().FindSchedule(project.id, name));
    if (!s) return absl::NotFoundError(absl::StrCat("schedule '", name, "' does not exist"));
    RETURN_IF_ERROR(tx.jobs().DeleteSchedule(s->id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"batch.schedule.delete", absl::StrCat("project/", project.name, "/schedule/", name),
         project.name});
  });
}

absl::StatusOr<ScheduleView> BatchService::GetSchedule(const Project& project,
                                                       absl::string_view name) {
  std::optional<JobSchedule> s;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(s, tx.jobs().FindSchedule(project.id, name));
    return absl::OkStatus();
  }));
  if (!s) return absl::NotFoundError(absl::StrCat("schedule '", name, "' does not exist"));
  ASSIGN_OR_RETURN(auto history, jobs_->List(project, 1000));
  return View(*s, history);
}

absl::StatusOr<std::vector<ScheduleView>> BatchService::ListSchedules(const Project& project) {
  std::vector<JobSchedule> all;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(all, tx.jobs().ListSchedules(project.id));
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(auto history, jobs_->List(project, 1000));
  std::vector<ScheduleView> out;
  for (const auto& s : all) out.push_back(View(s, history));
  return out;
}

absl::StatusOr<Job> BatchService::RunScheduleNow(const RequestContext& ctx, const Project& project,
                                                 absl::string_view name) {
  std::optional<JobSchedule> s;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(s, tx.jobs().FindSchedule(project.id, name));
    return absl::OkStatus();
  }));
  if (!s) return absl::NotFoundError(absl::StrCat("schedule '", name, "' does not exist"));
  ASSIGN_OR_RETURN(BatchSpec spec, BatchSpec::FromJson(ParseJsonOr(s->spec, Json::object())));
  return Submit(ctx, project, spec);
}

void BatchService::Tick(int64_t now_ms) {
  std::vector<JobSchedule> due;
  absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(due, tx.jobs().DueSchedules(now_ms));
    return absl::OkStatus();
  });
  if (!s.ok()) {
    spdlog::warn("scheduler: {}", s.ToString());
    return;
  }
  for (const auto& sched : due) {
    auto next = NextRun(sched.cron, sched.timezone, now_ms);
    // A schedule that can no longer fire (its zone vanished) is switched off, not retried.
    int64_t next_ms = next.ok() ? *next : std::numeric_limits<int64_t>::max();
    bool won = false;
    s = store_->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(won, tx.jobs().AdvanceSchedule(sched.id, sched.next_run_at, next_ms, ""));
      return absl::OkStatus();
    });
    if (!s.ok() || !won) continue;  // another server fired it
    RequestContext ctx;
    ctx.request_id = absl::StrCat("schedule-", sched.name);
    ctx.remote = "scheduler";
    Project project;
    s = store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto user, tx.users().FindByName(sched.created_by));
      if (!user || user->disabled) {
        return absl::FailedPreconditionError("the schedule's owner is gone or disabled");
      }
      ctx.principal = Principal{user->id, user->name, user->is_admin, 0};
      ASSIGN_OR_RETURN(auto p, tx.projects().FindById(sched.project_id));
      if (!p) return absl::NotFoundError("project gone");
      project = *p;
      // A schedule submits as its owner: only while the owner may still submit (editor).
      ASSIGN_OR_RETURN(auto role, tx.members().RoleOf(p->id, user->id));
      if (!user->is_admin && (!role || *role < Role::kEditor)) {
        return absl::PermissionDeniedError(absl::StrCat("the schedule's owner '", user->name,
                                                        "' is no longer an editor of the project"));
      }
      return absl::OkStatus();
    });
    absl::StatusOr<BatchSpec> spec =
        s.ok() ? BatchSpec::FromJson(ParseJsonOr(sched.spec, Json::object()))
               : absl::StatusOr<BatchSpec>(s);
    absl::StatusOr<Job> job =
        spec.ok() ? Submit(ctx, project, *spec) : absl::StatusOr<Job>(spec.status());
    if (!job.ok()) {
      spdlog::warn("schedule {}: {}", sched.name, job.status().ToString());
      continue;
    }
    (void)store_->Write([&](Transaction& tx) -> absl::Status {
      return tx.jobs().AdvanceSchedule(sched.id, next_ms, next_ms, job->uuid).status();
    });
  }
}

void BatchService::Start() {
  if (scheduler_.joinable()) return;
  scheduler_ = std::thread([this] {
    NameThread("kade-schedule");
    while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(1))) Tick(NowMillis());
  });
}

void BatchService::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (scheduler_.joinable()) scheduler_.join();
}

}  // namespace kade
