#include "platform/job_service.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time.h"
#include "core/version.h"
#include "data/ingest.h"
#include "ml/train.h"
#include "ml/xgb.h"
#include "platform/audit_log.h"
#include "platform/policy.h"
#include "spdlog/spdlog.h"

namespace kade {
JobService::JobService(MetadataStore* store, TrackingService* tracking, JobOptions options)
    : store_(store),
      tracking_(tracking),
      options_(options),
      instance_(absl::StrCat("pid", ::getpid(), "-", HexEncode(RandomBytes(4)))) {}

JobService::~JobService() { Stop(); }

absl::StatusOr<Job> JobService::Get(const Project& project, absl::string_view id) {
  std::optional<Job> job;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(job, tx.jobs().Find(id));
    return absl::OkStatus();
  }));
  if (!job || job->project_id != project.id) {
    return absl::NotFoundError(absl::StrCat("no job '", id, "' in project ", project.name));
  }
  return *job;
}

absl::StatusOr<std::vector<Job>> JobService::List(const Project& project, int64_t limit) {
  std::vector<Job> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.jobs().List(project.id, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<JobLogLine>> JobService::Logs(const Project& project,
                                                         absl::string_view id, int64_t after_seq) {
  ASSIGN_OR_RETURN(Job job, Get(project, id));
  std::vector<JobLogLine> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.jobs().Logs(job.id, after_seq, 1000));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Project> JobService::ProjectOf(const Job& job) {
  std::optional<Project> p;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(p, tx.projects().FindById(job.project_id));
    return absl::OkStatus();
  }));
  if (!p) return absl::NotFoundError("the job's project is gone");
  return *p;
}

void JobService::Wake() {
  absl::MutexLock l(&mu_);
  ++wake_generation_;
}

void JobService::RegisterKind(const std::string& kind, Runner runner, bool retry) {
  absl::MutexLock l(&mu_);
  kinds_[kind] = Kind{std::move(runner), retry};
}

absl::StatusOr<Job> JobService::Enqueue(const RequestContext& ctx, const Project& project,
                                        const std::string& kind, const Json& spec,
                                        const std::string& action, const Json& detail,
                                        const std::string& first_log_line,
                                        const std::string& uuid) {
  Job job;
  job.uuid = uuid.empty() ? HexEncode(RandomBytes(8)) : uuid;
  job.project_id = project.id;
  job.kind = kind;
  job.spec = spec.dump();
  job.created_by = ctx.principal.user_name;
  job.created_at = NowMillis();
  Job created;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(created, tx.jobs().Create(job));
    Json d = detail;
    d["kind"] = kind;
    return AuditLog::AppendInTx(
        tx, ctx,
        {action, absl::StrCat("project/", project.name, "/job/", job.uuid), project.name, d});
  }));
  Log(created.id, first_log_line);
  Wake();
  return created;
}

absl::StatusOr<Job> JobService::Cancel(const RequestContext& ctx, const Project& project,
                                       absl::string_view id) {
  ASSIGN_OR_RETURN(Job job, Get(project, id));
  if (job.status != "queued" && job.status != "running") {
    return absl::FailedPreconditionError(
        absl::StrCat("job '", id, "' is ", job.status, "; only queued or running jobs cancel"));
  }
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.jobs().RequestCancel(job.id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"job.cancel", absl::StrCat("project/", project.name, "/job/", job.uuid), project.name});
  }));
  Log(job.id, absl::StrCat("cancel requested by ", ctx.principal.user_name));
  return Get(project, id);
}

void JobService::Log(int64_t job_id, const std::string& line) {
  absl::Status s = store_->Write(
      [&](Transaction& tx) { return tx.jobs().AppendLog(job_id, NowMillis(), line); });
  if (!s.ok()) spdlog::warn("job log: {}", s.ToString());
}

void JobService::Start() {
  absl::MutexLock lock(&mu_);
  stopping_ = false;
  stopping_now_ = false;
  for (int i = 0; i < options_.workers; ++i)
    workers_.emplace_back([this, i] {
      NameThread("kade-job");
      WorkerLoop(i);
    });
}

void JobService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // A running job stops between rounds and goes back to the queue (see RunJob), so a
  // server stops in about a second instead of waiting for training to end.
  stopping_now_ = true;
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void JobService::WorkerLoop(int index) {
  const std::string owner = absl::StrCat(instance_, "-w", index);
  for (;;) {
    uint64_t seen = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      seen = wake_generation_;
    }
    std::optional<Job> job;
    int64_t now = NowMillis();
    absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(int64_t recovered, tx.jobs().RecoverExpired(now));
      if (recovered > 0) spdlog::info("{} job(s) with an expired lease taken up again", recovered);
      ASSIGN_OR_RETURN(job, tx.jobs().Claim(owner, now, now + options_.lease_s * 1000LL));
      return absl::OkStatus();
    });
    if (!s.ok()) spdlog::warn("job queue: {}", s.ToString());
    if (s.ok() && job) {
      RunJob(*job, owner);
      continue;
    }
    // Idle until the poll interval passes (jobs queued by other servers), or this server
    // queues a job (no waiting for the poll), or it stops.
    absl::MutexLock lock(&mu_);
    auto woken = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || wake_generation_ != seen;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(options_.poll_ms));
  }
}

void JobService::RunJob(Job job, const std::string& owner) {
  if (job.cancel_requested) {
    job.status = "cancelled";
  }
  Log(job.id,
      absl::StrCat("started (attempt ", job.attempts, " of ", job.max_attempts, ") by ", owner));
  // The lease is renewed while the job runs; the renewal also brings a cancel request.
  std::atomic<bool> cancel{job.cancel_requested};
  absl::Notification done;
  std::thread heartbeat([&] {
    // Often enough that a cancel is noticed within a second; the lease itself is long.
    const int64_t every_ms = std::min<int64_t>(1000, options_.lease_s * 1000 / 3);
    while (!done.WaitForNotificationWithTimeout(
        absl::Milliseconds(stopping_now_.load() ? 50 : every_ms))) {
      if (stopping_now_.load()) {
        cancel = true;
        continue;
      }
      bool requested = false;
      absl::StatusOr<bool> held = false;
      absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
        held = tx.jobs().Renew(job.id, owner, NowMillis() + options_.lease_s * 1000LL, &requested);
        return held.status();
      });
      if (s.ok() && (!*held || requested)) cancel = true;
    }
  });
  RequestContext ctx;
  ctx.request_id = absl::StrCat("job-", job.uuid);
  ctx.remote = "job";
  absl::Status who = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(job.created_by));
    if (!user) return absl::FailedPreconditionError("the user who submitted the job is gone");
    // The job acts for its submitter: one who has since lost the editor role (left the
    // project, made a viewer) no longer gets it run.
    if (!user->is_admin) {
      ASSIGN_OR_RETURN(std::optional<Role> role, tx.members().RoleOf(job.project_id, user->id));
      if (!role || *role < Role::kEditor) {
        return absl::FailedPreconditionError(
            absl::StrCat("the submitter '", user->name,
                         "' no longer has the editor role in the project; the job does not run"));
      }
    }
    ctx.principal.user_id = user->id;
    ctx.principal.user_name = user->name;
    ctx.principal.is_admin = user->is_admin;
    return absl::OkStatus();
  });
  job.lease_owner = owner;
  if (who.ok() && !job.run_uuid.empty()) {
    // The run of an attempt whose worker died is closed, so only the finishing attempt's
    // run reads as finished.
    auto prev = tracking_->GetRun(ctx.principal, job.run_uuid);
    if (prev.ok() && prev->run.status == "RUNNING") {
      (void)tracking_->UpdateRun(ctx, job.run_uuid, std::string("FAILED"), NowMillis(),
                                 std::nullopt);
      Log(job.id, absl::StrCat("run ", job.run_uuid, " of the interrupted attempt marked FAILED"));
    }
  }
  Kind kind;
  {
    absl::MutexLock l(&mu_);
    auto it = kinds_.find(job.kind);
    if (it != kinds_.end()) kind = it->second;
  }
  // (A StatusOr cannot be built from an OK status: `who` goes in only when it failed.)
  absl::StatusOr<std::pair<std::string, Json>> r = absl::UnknownError("not run");
  if (!who.ok()) {
    r = who;
  } else if (kind.runner) {
    r = kind.runner(job, ctx, cancel, [&](const std::string& line) { Log(job.id, line); });
  } else {
    r = absl::UnimplementedError(absl::StrCat("no runner for jobs of kind '", job.kind, "'"));
  }
  done.Notify();
  heartbeat.join();
  if (!r.ok() && absl::IsCancelled(r.status()) && stopping_now_.load()) {
    // Interrupted by this server stopping, not by a user: back to the queue, attempt
    // not used up; the next attempt closes this attempt's run.
    bool user_cancelled = false;
    (void)store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto now, tx.jobs().Find(job.uuid));
      user_cancelled = now && now->cancel_requested;
      return absl::OkStatus();
    });
    if (!user_cancelled) {
      Log(job.id, "server stopping: the job goes back to the queue");
      absl::Status s =
          store_->Write([&](Transaction& tx) { return tx.jobs().Release(job.id, owner); });
      if (!s.ok()) spdlog::warn("job {}: {}", job.uuid, s.ToString());
      return;
    }
  }
  job.lease_owner = owner;
  job.finished_at = NowMillis();
  if (r.ok()) {
    job.status = "succeeded";
    job.run_uuid = r->first;
    job.result = r->second.dump();
    Log(job.id, "succeeded");
  } else {
    job.status = absl::IsCancelled(r.status()) ? "cancelled" : "failed";
    job.error = std::string(r.status().message());
    if (job.status == "failed" && kind.retry && job.attempts < job.max_attempts &&
        !absl::IsInvalidArgument(r.status()) && !absl::IsNotFound(r.status()) &&
        !absl::IsFailedPrecondition(r.status()) && !absl::IsPermissionDenied(r.status())) {
      // Retried: back to the queue after a backoff (a bad spec, a missing input or a refusal
      // would only fail again).
      const int64_t wait_ms = std::min<int64_t>(
          int64_t{options_.retry_backoff_ms} << std::min<int64_t>(job.attempts - 1, 20),
          5 * 60 * 1000);
      Log(job.id, absl::StrCat("attempt ", job.attempts, " failed: ", job.error,
                               "; queued again, next attempt in ", wait_ms / 1000.0, " s"));
      absl::Status s = store_->Write([&](Transaction& tx) {
        return tx.jobs().Requeue(job.id, owner, job.error, NowMillis() + wait_ms);
      });
      if (!s.ok()) spdlog::warn("job {}: {}", job.uuid, s.ToString());
      return;
    }
    Log(job.id, absl::StrCat(job.status, ": ", job.error));
  }
  absl::Status s = store_->Write([&](Transaction& tx) { return tx.jobs().Finish(job); });
  if (!s.ok()) spdlog::warn("job {}: {}", job.uuid, s.ToString());
}

}  // namespace kade
