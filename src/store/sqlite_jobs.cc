// SQLite JobRepository. Claiming is one UPDATE ... RETURNING on the oldest queued job, so
// concurrent workers never take the same job (SQLite serialises writers; a PostgreSQL
// backend would use SELECT ... FOR UPDATE SKIP LOCKED in the same statement).
#include "store/sqlite_repos.h"

namespace kade {
namespace {

constexpr const char* kJobCols =
    "id, uuid, project_id, kind, spec, status, attempts, max_attempts, lease_owner, "
    "lease_expires_at, cancel_requested, run_uuid, error, result, created_by, created_at, "
    "started_at, finished_at";

Job ReadJob(const SqliteStmt& s) {
  Job j;
  j.id = s.Int(0);
  j.uuid = s.Text(1);
  j.project_id = s.Int(2);
  j.kind = s.Text(3);
  j.spec = s.Text(4);
  j.status = s.Text(5);
  j.attempts = s.Int(6);
  j.max_attempts = s.Int(7);
  j.lease_owner = s.Text(8);
  j.lease_expires_at = s.Int(9);
  j.cancel_requested = s.Int(10) != 0;
  j.run_uuid = s.Text(11);
  j.error = s.Text(12);
  j.result = s.Text(13);
  j.created_by = s.Text(14);
  j.created_at = s.Int(15);
  j.started_at = s.OptInt(16);
  j.finished_at = s.OptInt(17);
  return j;
}

constexpr const char* kScheduleCols =
    "id, project_id, name, kind, cron, timezone, spec, enabled, next_run_at, last_job, "
    "created_by, created_at, updated_at";

JobSchedule ReadSchedule(const SqliteStmt& s) {
  JobSchedule j;
  j.id = s.Int(0);
  j.project_id = s.Int(1);
  j.name = s.Text(2);
  j.kind = s.Text(3);
  j.cron = s.Text(4);
  j.timezone = s.Text(5);
  j.spec = s.Text(6);
  j.enabled = s.Int(7) != 0;
  j.next_run_at = s.Int(8);
  j.last_job = s.Text(9);
  j.created_by = s.Text(10);
  j.created_at = s.Int(11);
  j.updated_at = s.Int(12);
  return j;
}

class SqliteJobs : public JobRepository {
 public:
  absl::StatusOr<JobSchedule> CreateSchedule(const JobSchedule& s) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO job_schedules (project_id, name, kind, cron, "
                                 "timezone, spec, enabled, next_run_at, created_by, "
                                 "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                                 "?, ?, ?)"));
    st.Bind(1, s.project_id)
        .Bind(2, s.name)
        .Bind(3, s.kind)
        .Bind(4, s.cron)
        .Bind(5, s.timezone)
        .Bind(6, s.spec)
        .Bind(7, static_cast<int64_t>(s.enabled))
        .Bind(8, s.next_run_at)
        .Bind(9, s.created_by)
        .Bind(10, s.created_at)
        .Bind(11, s.updated_at);
    RETURN_IF_ERROR(st.Run());
    JobSchedule out = s;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::optional<JobSchedule>> FindSchedule(int64_t project_id,
                                                          absl::string_view name) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kScheduleCols,
                                                       " FROM job_schedules WHERE project_id = ? "
                                                       "AND name = ?")));
    st.Bind(1, project_id).Bind(2, name);
    return FirstRow<JobSchedule>(st, ReadSchedule);
  }

  absl::StatusOr<std::vector<JobSchedule>> ListSchedules(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kScheduleCols,
                                                       " FROM job_schedules WHERE project_id = ? "
                                                       "ORDER BY name")));
    st.Bind(1, project_id);
    return CollectRows<JobSchedule>(st, ReadSchedule);
  }

  absl::StatusOr<std::vector<JobSchedule>> DueSchedules(int64_t now) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kScheduleCols,
                                                       " FROM job_schedules WHERE enabled = 1 AND "
                                                       "next_run_at <= ? ORDER BY next_run_at")));
    st.Bind(1, now);
    return CollectRows<JobSchedule>(st, ReadSchedule);
  }

  absl::StatusOr<bool> AdvanceSchedule(int64_t id, int64_t expected, int64_t next,
                                       absl::string_view last_job) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE job_schedules SET next_run_at = ?, last_job = ? "
                                          "WHERE id = ? AND next_run_at = ?"));
    st.Bind(1, next).Bind(2, last_job).Bind(3, id).Bind(4, expected);
    RETURN_IF_ERROR(st.Run());
    return c_->Changes() == 1;
  }

  absl::Status UpdateSchedule(const JobSchedule& s) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE job_schedules SET cron = ?, timezone = ?, spec = "
                                          "?, enabled = ?, next_run_at = ?, updated_at = ? WHERE "
                                          "id = ?"));
    st.Bind(1, s.cron)
        .Bind(2, s.timezone)
        .Bind(3, s.spec)
        .Bind(4, static_cast<int64_t>(s.enabled))
        .Bind(5, s.next_run_at)
        .Bind(6, s.updated_at)
        .Bind(7, s.id);
    return st.Run();
  }

  absl::Status DeleteSchedule(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM job_schedules WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  explicit SqliteJobs(SqliteConn* c) : c_(c) {}

  absl::StatusOr<Job> Create(const Job& job) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO jobs (uuid, project_id, kind, spec, "
                                          "status, max_attempts, created_by, created_at) "
                                          "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)"));
    st.Bind(1, job.uuid)
        .Bind(2, job.project_id)
        .Bind(3, job.kind)
        .Bind(4, job.spec)
        .Bind(5, job.max_attempts)
        .Bind(6, job.created_by)
        .Bind(7, job.created_at);
    RETURN_IF_ERROR(st.Run());
    Job out = job;
    out.id = c_->LastInsertId();
    out.status = "queued";
    return out;
  }

  absl::StatusOr<std::optional<Job>> Find(absl::string_view uuid) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kJobCols, " FROM jobs WHERE uuid = ?")));
    st.Bind(1, uuid);
    return FirstRow<Job>(st, ReadJob);
  }

  absl::StatusOr<std::vector<Job>> List(int64_t project_id, int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kJobCols,
                                                       " FROM jobs WHERE project_id = ? "
                                                       "ORDER BY id DESC LIMIT ?")));
    st.Bind(1, project_id).Bind(2, limit);
    return CollectRows<Job>(st, ReadJob);
  }

  absl::StatusOr<std::optional<Job>> Claim(absl::string_view owner, int64_t now,
                                           int64_t lease_until) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat(
                     "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
                     "attempts = attempts + 1, started_at = coalesce(started_at, ?) "
                     "WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND not_before <= ? "
                     "ORDER BY id LIMIT 1) RETURNING ",
                     kJobCols)));
    st.Bind(1, owner).Bind(2, lease_until).Bind(3, now).Bind(4, now);
    ASSIGN_OR_RETURN(std::optional<Job> j, FirstRow<Job>(st, ReadJob));
    st.Reset();  // finish the statement so the update is complete
    return j;
  }

  absl::StatusOr<bool> Renew(int64_t id, absl::string_view owner, int64_t lease_until,
                             bool* cancel_requested) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE jobs SET lease_expires_at = ? WHERE id = ? "
                                          "AND lease_owner = ? AND status = 'running' "
                                          "RETURNING cancel_requested"));
    st.Bind(1, lease_until).Bind(2, id).Bind(3, owner);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) *cancel_requested = st.Int(0) != 0;
    st.Reset();
    return row;
  }

  absl::Status Finish(const Job& job) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE jobs SET status = ?, error = ?, result = ?, "
                                          "run_uuid = ?, finished_at = ?, lease_expires_at = 0 "
                                          "WHERE id = ? AND lease_owner = ?"));
    st.Bind(1, job.status)
        .Bind(2, job.error)
        .Bind(3, job.result)
        .Bind(4, job.run_uuid)
        .Bind(5, job.finished_at)
        .Bind(6, job.id)
        .Bind(7, job.lease_owner);
    RETURN_IF_ERROR(st.Run());
    if (c_->Changes() == 0) {
      return absl::AbortedError("the job's lease was lost; another worker took it over");
    }
    return absl::OkStatus();
  }

  absl::Status SetRun(int64_t id, absl::string_view owner, absl::string_view run_uuid) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("UPDATE jobs SET run_uuid = ? WHERE id = ? AND lease_owner = ?"));
    st.Bind(1, run_uuid).Bind(2, id).Bind(3, owner);
    return st.Run();
  }

  absl::Status Release(int64_t id, absl::string_view owner) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("UPDATE jobs SET status = 'queued', lease_owner = '', "
                                 "lease_expires_at = 0, attempts = max(attempts - 1, 0) "
                                 "WHERE id = ? AND lease_owner = ? AND status = 'running'"));
    st.Bind(1, id).Bind(2, owner);
    return st.Run();
  }

  absl::Status Requeue(int64_t id, absl::string_view owner, absl::string_view error,
                       int64_t not_before) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("UPDATE jobs SET status = 'queued', lease_owner = '', "
                                 "lease_expires_at = 0, error = ?, not_before = ? "
                                 "WHERE id = ? AND lease_owner = ? AND status = 'running'"));
    st.Bind(1, error).Bind(2, not_before).Bind(3, id).Bind(4, owner);
    return st.Run();
  }

  absl::Status RequestCancel(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE jobs SET cancel_requested = 1, "
                                          "status = CASE WHEN status = 'queued' THEN "
                                          "'cancelled' ELSE status END WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  absl::StatusOr<int64_t> RecoverExpired(int64_t now) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("UPDATE jobs SET "
                    "status = CASE WHEN cancel_requested THEN 'cancelled' "
                    "WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
                    "error = CASE WHEN attempts >= max_attempts AND NOT cancel_requested THEN "
                    "'the worker stopped (crash or restart) on the last allowed attempt' "
                    "ELSE error END, "
                    "finished_at = CASE WHEN attempts >= max_attempts OR cancel_requested "
                    "THEN ? ELSE finished_at END, lease_owner = '', lease_expires_at = 0 "
                    "WHERE status = 'running' AND lease_expires_at < ?"));
    st.Bind(1, now).Bind(2, now);
    RETURN_IF_ERROR(st.Run());
    return static_cast<int64_t>(c_->Changes());
  }

  absl::Status AppendLog(int64_t job_id, int64_t ts, absl::string_view line) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO job_logs (job_id, seq, ts, line) "
                                          "VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM "
                                          "job_logs WHERE job_id = ?), ?, ?)"));
    st.Bind(1, job_id).Bind(2, job_id).Bind(3, ts).Bind(4, line);
    return st.Run();
  }

  absl::StatusOr<std::vector<JobLogLine>> Logs(int64_t job_id, int64_t after_seq,
                                               int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT seq, ts, line FROM job_logs WHERE job_id = ? "
                                          "AND seq > ? ORDER BY seq LIMIT ?"));
    st.Bind(1, job_id).Bind(2, after_seq).Bind(3, limit);
    return CollectRows<JobLogLine>(st, [](const SqliteStmt& s) {
      return JobLogLine{s.Int(0), s.Int(1), s.Text(2)};
    });
  }

 private:
  SqliteConn* c_;
};

}  // namespace

std::unique_ptr<JobRepository> NewSqliteJobs(SqliteConn* c) {
  return std::make_unique<SqliteJobs>(c);
}

}  // namespace kade
