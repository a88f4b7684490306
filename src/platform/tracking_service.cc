#include "platform/tracking_service.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/audit_log.h"
#include "platform/run_filter.h"

namespace kade {

Json MetricValueJson(const MetricPoint& m) {
  switch (m.kind) {
    case 1:
      return "NaN";
    case 2:
      return "Infinity";
    case 3:
      return "-Infinity";
    default:
      return m.value;
  }
}

absl::Status ValidateTrackingKey(absl::string_view kind, absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(kind, " key is empty"));
  if (key.size() > kMaxKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat(kind, " key '", key.substr(0, 40), "…' is ",
                                                   key.size(), " characters; the limit is ",
                                                   kMaxKeyLength));
  }
  if (key.front() == '/' || key.find("..") != absl::string_view::npos ||
      key.find("//") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " key '", key,
                     "' is not allowed: it may not start with '/' or contain '..' or '//'"));
  }
  for (char c : key) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
              c == ' ' || c == '/' || c == ':';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " key '", key,
          "' has an invalid character; use letters, digits, '_', '-', '.', ' ', '/' and ':'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Project> TrackingService::Authorized(Transaction& tx, const Principal& who,
                                                    int64_t project_id, Permission need) {
  ASSIGN_OR_RETURN(auto project, tx.projects().FindById(project_id));
  if (!project) return absl::NotFoundError("experiment not found");
  ASSIGN_OR_RETURN(auto role, tx.members().RoleOf(project_id, who.user_id));
  absl::Status s = Authorize(who, need, role, project->name);
  if (absl::IsNotFound(s))
    return absl::NotFoundError("not found");  // hidden project: do not leak it
  RETURN_IF_ERROR(s);
  return *project;
}

absl::StatusOr<std::pair<Experiment, Project>> TrackingService::AccessibleExperiment(
    Transaction& tx, const Principal& who, int64_t id, Permission need) {
  ASSIGN_OR_RETURN(auto e, tx.tracking().FindExperiment(id));
  if (!e) return absl::NotFoundError(absl::StrCat("experiment ", id, " not found"));
  absl::StatusOr<Project> p = Authorized(tx, who, e->project_id, need);
  if (absl::IsNotFound(p.status()))
    return absl::NotFoundError(absl::StrCat("experiment ", id, " not found"));
  RETURN_IF_ERROR(p.status());
  return std::make_pair(*e, *p);
}

absl::StatusOr<Experiment> TrackingService::CreateExperiment(
    const RequestContext& ctx, const Project& project, absl::string_view name,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  if (name.empty() || name.size() > 500)
    return absl::InvalidArgumentError("experiment name must be 1 to 500 characters");
  for (const auto& [k, v] : tags) RETURN_IF_ERROR(ValidateTrackingKey("tag", k));
  Experiment created;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(Authorized(tx, ctx.principal, project.id, Permission::kProjectEdit).status());
    Experiment e;
    e.project_id = project.id;
    e.name = std::string(name);
    e.created_at = e.updated_at = NowMillis();
    e.tags = tags;
    ASSIGN_OR_RETURN(created, tx.tracking().CreateExperiment(e));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"experiment.create", absl::StrCat("project/", project.name, "/experiment/", created.id),
         project.name, Json{{"name", name}}});
  }));
  return created;
}

absl::StatusOr<std::pair<Experiment, Project>> TrackingService::GetExperiment(const Principal& who,
                                                                              int64_t id) {
  std::pair<Experiment, Project> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, AccessibleExperiment(tx, who, id, Permission::kProjectView));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Experiment> TrackingService::GetExperimentByName(const Principal& who,
                                                                const Project& project,
                                                                absl::string_view name) {
  std::optional<Experiment> e;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(Authorized(tx, who, project.id, Permission::kProjectView).status());
    ASSIGN_OR_RETURN(e, tx.tracking().FindExperimentByName(project.id, name));
    return absl::OkStatus();
  }));
  if (!e)
    return absl::NotFoundError(
        absl::StrCat("experiment '", name, "' not found in project '", project.name, "'"));
  return *e;
}

absl::StatusOr<std::vector<std::pair<Experiment, std::string>>> TrackingService::ListExperiments(
    const Principal& who, const std::vector<Project>& projects, absl::string_view view) {
  std::vector<std::pair<Experiment, std::string>> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    std::vector<int64_t> ids;
    absl::flat_hash_map<int64_t, std::string> names;
    for (const auto& p : projects) {
      if (Authorized(tx, who, p.id, Permission::kProjectView).ok()) {
        ids.push_back(p.id);
        names[p.id] = p.name;
      }
    }
    ASSIGN_OR_RETURN(auto list, tx.tracking().ListExperiments(ids, view));
    for (auto& e : list) out.emplace_back(std::move(e), names[e.project_id]);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status TrackingService::RenameExperiment(const RequestContext& ctx, int64_t id,
                                               absl::string_view new_name) {
  if (new_name.empty() || new_name.size() > 500)
    return absl::InvalidArgumentError("new_name must be 1 to 500 characters");
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto ep,
                     AccessibleExperiment(tx, ctx.principal, id, Permission::kProjectEdit));
    Experiment& e = ep.first;
    const Project& p = ep.second;
    std::string old = e.name;
    e.name = std::string(new_name);
    e.updated_at = NowMillis();
    RETURN_IF_ERROR(tx.tracking().UpdateExperiment(e));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"experiment.update", absl::StrCat("project/", p.name, "/experiment/", id), p.name,
         Json{{"from", old}, {"to", new_name}}});
  });
}

absl::Status TrackingService::SetExperimentLifecycle(const RequestContext& ctx, int64_t id,
                                                     bool deleted) {
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto ep,
                     AccessibleExperiment(tx, ctx.principal, id, Permission::kProjectEdit));
    Experiment& e = ep.first;
    const Project& p = ep.second;
    e.lifecycle_stage = deleted ? "deleted" : "active";
    e.updated_at = NowMillis();
    RETURN_IF_ERROR(tx.tracking().UpdateExperiment(e));
    return AuditLog::AppendInTx(tx, ctx,
                                {deleted ? "experiment.delete" : "experiment.restore",
                                 absl::StrCat("project/", p.name, "/experiment/", id), p.name});
  });
}

absl::Status TrackingService::SetExperimentTag(const RequestContext& ctx, int64_t id,
                                               absl::string_view key, absl::string_view value) {
  RETURN_IF_ERROR(ValidateTrackingKey("tag", key));
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto ep,
                     AccessibleExperiment(tx, ctx.principal, id, Permission::kProjectEdit));
    const Project& p = ep.second;
    RETURN_IF_ERROR(tx.tracking().SetExperimentTag(id, key, value));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"experiment.tag", absl::StrCat("project/", p.name, "/experiment/", id), p.name,
         Json{{"key", key}}});
  });
}

absl::StatusOr<RunView> TrackingService::CreateRun(
    const RequestContext& ctx, int64_t experiment_id, absl::string_view name,
    std::optional<int64_t> start_time, const std::vector<std::pair<std::string, std::string>>& tags,
    absl::string_view user_id) {
  for (const auto& [k, v] : tags) RETURN_IF_ERROR(ValidateTrackingKey("tag", k));
  if (user_id.size() > 250) {
    return absl::InvalidArgumentError("user_id is longer than 250 characters");
  }
  RunView view;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    // The same answer for a missing experiment and one in a project the caller cannot see,
    // so run creation is no oracle for which ids exist.
    ASSIGN_OR_RETURN(
        auto ep, AccessibleExperiment(tx, ctx.principal, experiment_id, Permission::kProjectEdit));
    auto& [ex, p] = ep;
    const Experiment* e = &ex;
    if (e->lifecycle_stage != "active") {
      return absl::FailedPreconditionError(
          absl::StrCat("experiment ", experiment_id, " is deleted"));
    }
    Run r;
    r.uuid = HexEncode(RandomBytes(16));
    r.experiment_id = experiment_id;
    r.name = name.empty() ? absl::StrCat("run-", r.uuid.substr(0, 8)) : std::string(name);
    r.user = user_id.empty() ? ctx.principal.user_name : std::string(user_id);
    r.created_by = ctx.principal.user_name;
    r.start_time = start_time.value_or(NowMillis());
    ASSIGN_OR_RETURN(view.run, tx.tracking().CreateRun(r));
    for (const auto& [k, v] : tags) RETURN_IF_ERROR(tx.tracking().PutTag(view.run.id, k, v));
    ASSIGN_OR_RETURN(view.data, tx.tracking().GetRunData(view.run.id));
    view.experiment = *e;
    view.project = p.name;
    return AuditLog::AppendInTx(
        tx, ctx,
        {"run.create", absl::StrCat("project/", p.name, "/run/", view.run.uuid), p.name,
         Json{{"experiment_id", experiment_id}, {"name", view.run.name}}});
  }));
  return view;
}

absl::StatusOr<RunView> TrackingService::GetRun(const Principal& who, absl::string_view run_id) {
  RunView view;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re, AccessibleRun(tx, who, run_id, Permission::kProjectView, &p));
    view.run = re.first;
    view.experiment = re.second;
    view.project = p.name;
    ASSIGN_OR_RETURN(view.data, tx.tracking().GetRunData(view.run.id));
    return absl::OkStatus();
  }));
  return view;
}

absl::StatusOr<std::pair<Run, Experiment>> TrackingService::AccessibleRun(Transaction& tx,
                                                                          const Principal& who,
                                                                          absl::string_view run_id,
                                                                          Permission need,
                                                                          Project* project) {
  ASSIGN_OR_RETURN(auto r, tx.tracking().FindRun(run_id));
  if (!r) return absl::NotFoundError(absl::StrCat("run '", run_id, "' not found"));
  ASSIGN_OR_RETURN(auto e, tx.tracking().FindExperiment(r->experiment_id));
  absl::StatusOr<Project> p = Authorized(tx, who, e->project_id, need);
  if (absl::IsNotFound(p.status()))
    return absl::NotFoundError(absl::StrCat("run '", run_id, "' not found"));
  RETURN_IF_ERROR(p.status());
  *project = *p;
  return std::make_pair(*r, *e);
}

namespace {
bool ValidStatus(absl::string_view s) {
  return s == "RUNNING" || s == "SCHEDULED" || s == "FINISHED" || s == "FAILED" || s == "KILLED";
}
}  // namespace

absl::StatusOr<Run> TrackingService::UpdateRun(const RequestContext& ctx, absl::string_view run_id,
                                               std::optional<std::string> status,
                                               std::optional<int64_t> end_time,
                                               std::optional<std::string> name) {
  if (status && !ValidStatus(*status)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "status '", *status, "' is not RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"));
  }
  Run updated;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re,
                     AccessibleRun(tx, ctx.principal, run_id, Permission::kProjectEdit, &p));
    Run r = re.first;
    if (r.lifecycle_stage != "active")
      return absl::FailedPreconditionError(absl::StrCat("run '", run_id, "' is deleted"));
    if (status) r.status = *status;
    if (end_time) r.end_time = *end_time;
    if (status && *status != "RUNNING" && *status != "SCHEDULED" && !r.end_time)
      r.end_time = NowMillis();
    if (name) r.name = *name;
    RETURN_IF_ERROR(tx.tracking().UpdateRun(r));
    updated = r;
    return AuditLog::AppendInTx(tx, ctx,
                                {"run.update", absl::StrCat("project/", p.name, "/run/", run_id),
                                 p.name, Json{{"status", r.status}}});
  }));
  return updated;
}

absl::Status TrackingService::SetRunLifecycle(const RequestContext& ctx, absl::string_view run_id,
                                              bool deleted) {
  return store_->Write([&](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re,
                     AccessibleRun(tx, ctx.principal, run_id, Permission::kProjectEdit, &p));
    re.first.lifecycle_stage = deleted ? "deleted" : "active";
    RETURN_IF_ERROR(tx.tracking().UpdateRun(re.first));
    return AuditLog::AppendInTx(tx, ctx,
                                {deleted ? "run.delete" : "run.restore",
                                 absl::StrCat("project/", p.name, "/run/", run_id), p.name});
  });
}

namespace {
// Keys and value lengths of a batch's params or tags; errors name the entry ("params[3]: …").
absl::Status ValidateKeyValues(absl::string_view kind, absl::string_view field,
                               const std::vector<std::pair<std::string, std::string>>& kvs,
                               size_t max_value_length) {
  for (size_t i = 0; i < kvs.size(); ++i) {
    absl::Status s = ValidateTrackingKey(kind, kvs[i].first);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "]: ", s.message()));
    if (kvs[i].second.size() > max_value_length) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: value is longer than ", max_value_length));
    }
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status TrackingService::LogBatch(
    const RequestContext& ctx, absl::string_view run_id, const std::vector<MetricPoint>& metrics,
    const std::vector<std::pair<std::string, std::string>>& params,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  ASSIGN_OR_RETURN(Change change, PrepareLogBatch(ctx, std::string(run_id), metrics, params, tags));
  return store_->Write(change);
}

absl::StatusOr<TrackingService::Change> TrackingService::PrepareLogBatch(
    RequestContext ctx, std::string run_id, std::vector<MetricPoint> metrics,
    std::vector<std::pair<std::string, std::string>> params,
    std::vector<std::pair<std::string, std::string>> tags) {
  if (metrics.size() > kMaxBatchMetrics || params.size() > kMaxBatchParams ||
      tags.size() > kMaxBatchTags ||
      metrics.size() + params.size() + tags.size() > kMaxBatchMetrics) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch holds at most ", kMaxBatchMetrics, " metrics, ", kMaxBatchParams,
                     " params and ", kMaxBatchTags, " tags (", kMaxBatchMetrics, " in all); got ",
                     metrics.size(), ", ", params.size(), " and ", tags.size()));
  }
  for (size_t i = 0; i < metrics.size(); ++i) {
    absl::Status s = ValidateTrackingKey("metric", metrics[i].key);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("metrics[", i, "]: ", s.message()));
  }
  RETURN_IF_ERROR(ValidateKeyValues("param", "params", params, kMaxParamValueLength));
  RETURN_IF_ERROR(ValidateKeyValues("tag", "tags", tags, kMaxTagValueLength));
  return Change([this, ctx = std::move(ctx), run_id = std::move(run_id),
                 metrics = std::move(metrics), params = std::move(params),
                 tags = std::move(tags)](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re,
                     AccessibleRun(tx, ctx.principal, run_id, Permission::kProjectEdit, &p));
    const Run& r = re.first;
    if (r.lifecycle_stage != "active") {
      return absl::FailedPreconditionError(
          absl::StrCat("run '", run_id, "' is deleted; restore it before logging to it"));
    }
    if (r.status == "FINISHED" || r.status == "FAILED" || r.status == "KILLED") {
      return absl::FailedPreconditionError(
          absl::StrCat("run '", run_id, "' is ", r.status, "; it takes no more data"));
    }
    for (const auto& [k, v] : params) RETURN_IF_ERROR(tx.tracking().PutParam(r.id, k, v));
    for (const auto& [k, v] : tags) RETURN_IF_ERROR(tx.tracking().PutTag(r.id, k, v));
    RETURN_IF_ERROR(tx.tracking().AddMetrics(r.id, metrics));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"run.log", absl::StrCat("project/", p.name, "/run/", run_id), p.name,
         Json{{"metrics", metrics.size()}, {"params", params.size()}, {"tags", tags.size()}}});
  });
}

absl::Status TrackingService::DeleteTag(const RequestContext& ctx, absl::string_view run_id,
                                        absl::string_view key) {
  return store_->Write([&](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re,
                     AccessibleRun(tx, ctx.principal, run_id, Permission::kProjectEdit, &p));
    if (re.first.lifecycle_stage != "active")
      return absl::FailedPreconditionError(absl::StrCat("run '", run_id, "' is deleted"));
    ASSIGN_OR_RETURN(bool removed, tx.tracking().DeleteTag(re.first.id, key));
    if (!removed)
      return absl::NotFoundError(absl::StrCat("run '", run_id, "' has no tag '", key, "'"));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"run.tag.delete", absl::StrCat("project/", p.name, "/run/", run_id), p.name,
         Json{{"key", key}}});
  });
}

absl::Status TrackingService::LogInputs(const RequestContext& ctx, absl::string_view run_id,
                                        const std::vector<RunInput>& inputs) {
  if (inputs.size() > 1000) return absl::InvalidArgumentError("at most 1000 inputs per call");
  return store_->Write([&](Transaction& tx) -> absl::Status {
    Project p;
    ASSIGN_OR_RETURN(auto re,
                     AccessibleRun(tx, ctx.principal, run_id, Permission::kProjectEdit, &p));
    if (re.first.lifecycle_stage != "active")
      return absl::FailedPreconditionError(absl::StrCat("run '", run_id, "' is deleted"));
    for (const auto& in : inputs) RETURN_IF_ERROR(tx.tracking().AddInput(re.first.id, in));
    return AuditLog::AppendInTx(tx, ctx,
                                {"run.inputs", absl::StrCat("project/", p.name, "/run/", run_id),
                                 p.name, Json{{"inputs", inputs.size()}}});
  });
}

absl::StatusOr<std::vector<MetricPoint>> TrackingService::MetricHistory(const Principal& who,
                                                                        absl::string_view run_id,
                                                                        absl::string_view key) {
  ASSIGN_OR_RETURN(RunView v, GetRun(who, run_id));
  std::vector<MetricPoint> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.tracking().MetricHistory(v.run.id, key));
    return absl::OkStatus();
  }));
  return out;
}

namespace {
constexpr size_t kMaxOrderKeys = 10;
}  // namespace

absl::StatusOr<std::pair<std::vector<RunView>, std::string>> TrackingService::SearchRuns(
    const Principal& who, const RunSearch& s) {
  if (s.max_results < 1 || s.max_results > 50000)
    return absl::InvalidArgumentError("max_results must be 1 to 50000");
  if (s.view != "active" && s.view != "deleted" && s.view != "all") {
    return absl::InvalidArgumentError("run_view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL");
  }
  RunQuery q;
  q.view = s.view;
  q.limit = s.max_results + 1;  // one more tells whether a next page exists
  if (!s.page_token.empty()) {
    if (!absl::SimpleAtoi(s.page_token, &q.offset) || q.offset < 0) {
      return absl::InvalidArgumentError("page_token is not valid");
    }
  }
  ASSIGN_OR_RETURN(q.clauses, ParseRunFilter(s.filter));
  // Each clause and each sort key is a join; SQLite allows 64 tables in one query, and the
  // filter holds at most 50 clauses.
  if (s.order_by.size() > kMaxOrderKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("order_by holds at most ", kMaxOrderKeys, " keys, got ", s.order_by.size()));
  }
  for (const auto& o : s.order_by) {
    ASSIGN_OR_RETURN(RunOrder ro, ParseRunOrder(o));
    q.order_by.push_back(ro);
  }
  std::vector<RunView> out;
  std::string next;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    absl::flat_hash_map<int64_t, std::pair<Experiment, std::string>> exps;
    for (int64_t id : s.experiment_ids) {
      ASSIGN_OR_RETURN(auto ep, AccessibleExperiment(tx, who, id, Permission::kProjectView));
      exps[id] = {ep.first, ep.second.name};
      q.experiment_ids.push_back(id);
    }
    ASSIGN_OR_RETURN(auto runs, tx.tracking().SearchRuns(q));
    if (static_cast<int64_t>(runs.size()) > s.max_results) {
      runs.pop_back();
      next = absl::StrCat(q.offset + s.max_results);
    }
    std::vector<int64_t> ids;
    for (const auto& r : runs) ids.push_back(r.id);
    ASSIGN_OR_RETURN(auto data, tx.tracking().GetRunDataBulk(ids));
    for (size_t i = 0; i < runs.size(); ++i) {
      Run& r = runs[i];
      RunView v;
      v.data = std::move(data[i]);
      v.experiment = exps[r.experiment_id].first;
      v.project = exps[r.experiment_id].second;
      v.run = std::move(r);
      out.push_back(std::move(v));
    }
    return absl::OkStatus();
  }));
  return std::make_pair(std::move(out), next);
}

}  // namespace kade
