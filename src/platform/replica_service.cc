#include "platform/replica_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/crypto.h"
#include "core/log_throttle.h"
#include "core/status.h"
#include "core/time.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

constexpr int64_t kMinuteMs = 60000;
// Entries sent per call to the server.
constexpr int64_t kBatch = 5000;

RequestContext MirrorContext() { return SystemContext("replica"); }

absl::Status Audit(Transaction& tx, const std::string& action, const std::string& target,
                   const std::string& project, Json detail) {
  return AuditLog::AppendInTx(tx, MirrorContext(),
                              {absl::StrCat("replica.mirror.", action), target, project, detail});
}

bool IsAnswerNo(const absl::Status& s) {
  return absl::IsNotFound(s) || absl::IsPermissionDenied(s) || absl::IsUnauthenticated(s);
}

absl::StatusOr<std::string> StringField(const Json& j, const char* field, const std::string& what) {
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) {
    return absl::DataLossError(absl::StrCat(what, ": the server's answer has no '", field, "'"));
  }
  return j[field].get<std::string>();
}

}  // namespace

ReplicaService::ReplicaService(Platform* platform, Upstream* upstream, ReplicaOptions options)
    : p_(platform),
      upstream_(upstream),
      o_(std::move(options)),
      outbox_(std::make_unique<PredictionLog>(platform->config.data_dir + "/feedback-outbox",
                                              PredictionLog::Options{})) {}

absl::StatusOr<Project> ReplicaService::LocalProject() {
  Project project;
  RETURN_IF_ERROR(p_->store->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto found, tx.projects().FindByName(o_.project));
    if (found) {
      project = *found;
      return absl::OkStatus();
    }
    Project np;
    np.name = o_.project;
    np.created_at = NowMillis();
    np.created_by = "replica";
    ASSIGN_OR_RETURN(project, tx.projects().Create(np));
    return Audit(tx, "project", "project/" + o_.project, o_.project,
                 Json{{"server", upstream_->Describe()}});
  }));
  return project;
}

absl::Status ReplicaService::SyncOnce() {
  const std::string base = "/api/v1/projects/" + o_.project;
  ASSIGN_OR_RETURN(Json eps, upstream_->GetJson(base + "/endpoints", ""));
  if (!eps.contains("endpoints") || !eps["endpoints"].is_array()) {
    return absl::DataLossError("the server's endpoint list has no 'endpoints'");
  }
  ASSIGN_OR_RETURN(Project project, LocalProject());
  std::set<std::string> models;
  for (const auto& e : eps["endpoints"]) {
    ASSIGN_OR_RETURN(std::string m, StringField(e, "model", "endpoint"));
    models.insert(m);
  }
  std::map<std::string, int64_t> model_ids;
  for (const auto& name : models) {
    ASSIGN_OR_RETURN(Json m, upstream_->GetJson(base + "/models/" + name, ""));
    RETURN_IF_ERROR(MirrorModel(project, name, m, &model_ids[name]));
  }
  RETURN_IF_ERROR(MirrorEndpoints(project, eps["endpoints"], model_ids));
  p_->projects->DropCache();
  return absl::OkStatus();
}

absl::Status ReplicaService::MirrorModel(const Project& project, const std::string& name,
                                         const Json& m, int64_t* model_id) {
  const std::string base = "/api/v1/projects/" + o_.project;
  const std::string target = absl::StrCat("project/", o_.project, "/model/", name);
  std::optional<RegisteredModel> local;
  std::vector<ModelVersion> have;
  RETURN_IF_ERROR(p_->store->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(local, tx.registry().FindModel(project.id, name));
    if (!local) {
      RegisteredModel nm;
      nm.project_id = project.id;
      nm.name = name;
      nm.created_at = nm.updated_at = NowMillis();
      ASSIGN_OR_RETURN(nm, tx.registry().CreateModel(nm));
      local = nm;
      RETURN_IF_ERROR(Audit(tx, "model", target, o_.project, Json::object()));
    }
    ASSIGN_OR_RETURN(have, tx.registry().ListVersions(local->id));
    return absl::OkStatus();
  }));
  *model_id = local->id;
  // Versions are numbered in order on both sides: every version is mirrored, oldest first,
  // with its model file.
  std::vector<int64_t> remote;
  if (m.contains("versions") && m["versions"].is_array()) {
    for (const auto& v : m["versions"]) {
      if (v.contains("version") && v["version"].is_number_integer()) {
        remote.push_back(v["version"].get<int64_t>());
      }
    }
  }
  std::sort(remote.begin(), remote.end());
  for (int64_t n : remote) {
    if (static_cast<size_t>(n) <= have.size()) continue;
    const std::string what = absl::StrCat(name, " v", n);
    ASSIGN_OR_RETURN(Json v,
                     upstream_->GetJson(absl::StrCat(base, "/models/", name, "/versions/", n), ""));
    if (!v.contains("manifest") || !v["manifest"].is_object()) {
      return absl::DataLossError(absl::StrCat(what, ": the server's answer has no manifest"));
    }
    const std::string path = v["manifest"].value("model_path", std::string());
    ASSIGN_OR_RETURN(std::string sha, StringField(v, "model_sha256", what));
    ASSIGN_OR_RETURN(std::string file, upstream_->GetBytes(base + "/artifacts/" + path));
    if (Sha256Hex(file) != sha) {
      return absl::DataLossError(absl::StrCat("model file of ", what, " does not match its hash"));
    }
    ASSIGN_OR_RETURN(auto up, p_->artifacts->BeginUpload(project, path, "application/json"));
    RETURN_IF_ERROR(up->Append(file));
    RETURN_IF_ERROR(up->Finish(MirrorContext()).status());
    ModelVersion mv;
    mv.model_id = local->id;
    mv.source = v.value("source", std::string());
    mv.run_uuid = v.value("run_id", std::string());
    mv.model_sha256 = sha;
    mv.manifest = v["manifest"].dump();
    mv.status = v.value("status", std::string("READY"));
    mv.created_at = NowMillis();
    RETURN_IF_ERROR(p_->store->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(ModelVersion created, tx.registry().CreateVersion(mv));
      if (created.version != n) {
        return absl::InternalError(absl::StrCat("mirrored ", what, " as v", created.version));
      }
      return Audit(tx, "version", absl::StrCat(target, "/version/", n), o_.project,
                   Json{{"model_sha256", sha}});
    }));
    spdlog::info("replica: mirrored {} version {}", name, n);
  }
  const Json remote_aliases =
      m.contains("aliases") && m["aliases"].is_object() ? m["aliases"] : Json::object();
  return p_->store->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(local->id));
    std::map<std::string, int64_t> mine;
    for (const auto& a : aliases) mine[a.alias] = a.version;
    for (auto it = remote_aliases.begin(); it != remote_aliases.end(); ++it) {
      if (!it.value().is_number_integer()) continue;
      int64_t v = it.value().get<int64_t>();
      if (mine.count(it.key()) && mine[it.key()] == v) continue;
      RETURN_IF_ERROR(tx.registry().SetAlias(local->id, it.key(), v, "replica", NowMillis()));
      RETURN_IF_ERROR(Audit(tx, "alias", absl::StrCat(target, "/alias/", it.key()), o_.project,
                            Json{{"version", v}}));
    }
    for (const auto& [a, v] : mine) {
      if (!remote_aliases.contains(a)) {
        RETURN_IF_ERROR(tx.registry().SetAlias(local->id, a, std::nullopt, "replica", NowMillis()));
        RETURN_IF_ERROR(Audit(tx, "alias", absl::StrCat(target, "/alias/", a), o_.project,
                              Json{{"version", nullptr}}));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status ReplicaService::MirrorEndpoints(const Project& project, const Json& remote,
                                             const std::map<std::string, int64_t>& model_ids) {
  return p_->store->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto local, tx.endpoints().List(project.id));
    std::map<std::string, Endpoint> mine;
    for (auto& e : local) mine[e.name] = e;
    for (const auto& e : remote) {
      ASSIGN_OR_RETURN(std::string name, StringField(e, "name", "endpoint"));
      const std::string target = absl::StrCat("project/", o_.project, "/endpoint/", name);
      const std::string config = e.contains("config") ? e["config"].dump() : "{}";
      auto it = mine.find(name);
      if (it == mine.end()) {
        Endpoint ne;
        ne.project_id = project.id;
        ne.name = name;
        ne.model_id = model_ids.at(e["model"].get<std::string>());
        ne.config = config;
        ne.description = e.value("description", "");
        ne.created_at = ne.updated_at = NowMillis();
        RETURN_IF_ERROR(tx.endpoints().Create(ne).status());
        RETURN_IF_ERROR(Audit(tx, "endpoint.create", target, o_.project, Json::object()));
      } else if (it->second.config != config) {
        it->second.config = config;
        it->second.updated_at = NowMillis();
        RETURN_IF_ERROR(tx.endpoints().Update(it->second));
        RETURN_IF_ERROR(Audit(tx, "endpoint.update", target, o_.project, Json::object()));
      }
      mine.erase(name);
    }
    for (const auto& [name, e] : mine) {
      RETURN_IF_ERROR(tx.endpoints().Delete(e.id));
      RETURN_IF_ERROR(Audit(tx, "endpoint.delete",
                            absl::StrCat("project/", o_.project, "/endpoint/", name), o_.project,
                            Json::object()));
    }
    return absl::OkStatus();
  });
}

absl::Status ReplicaService::ForwardLog() {
  std::vector<Endpoint> eps;
  RETURN_IF_ERROR(p_->store->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(eps, tx.endpoints().ListAll());
    return absl::OkStatus();
  }));
  p_->serving->FlushLog();
  for (const auto& e : eps) {
    const PredictionLog::Key key = PredictionLog::Key::Of(e);
    int64_t after = 0;  // the log itself starts after the persisted forwarding position
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<PredictionRecord> rows,
                       p_->predictions->After(key, after, kBatch));
      if (rows.empty()) break;
      Json records = Json::array();
      for (const auto& r : rows) {
        records.push_back(Json{{"request_id", r.request_id},
                               {"ts", r.ts},
                               {"version", r.version},
                               {"shadow", r.shadow},
                               {"latency_us", r.latency_us},
                               {"features", r.features},
                               {"outputs", r.outputs}});
      }
      RETURN_IF_ERROR(upstream_
                          ->PostJson(absl::StrCat("/api/v1/projects/", o_.project, "/endpoints/",
                                                  e.name, "/predictions"),
                                     Json{{"records", records}, {"replica", o_.listen}})
                          .status());
      // The server has them: the local log is only a buffer.
      after = rows.back().id;
      RETURN_IF_ERROR(p_->predictions->ForwardedThrough(key, after));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplicaService::Feedback(const RequestContext& ctx, const Project& project,
                                      absl::string_view endpoint, const FeedbackItems& items) {
  std::optional<Endpoint> e;
  RETURN_IF_ERROR(p_->store->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(e, tx.endpoints().Find(project.id, endpoint));
    return absl::OkStatus();
  }));
  if (!e) return absl::NotFoundError(absl::StrCat("endpoint '", endpoint, "' not found"));
  // Queued first: an item in the outbox reaches the server even when the local copy below
  // fails; the server keeps the last label per request, so a repeat is harmless.
  std::vector<PredictionRecord> queued;
  const int64_t now = NowMillis();
  for (const auto& [request_id, label] : items) {
    PredictionRecord r;
    r.request_id = request_id;
    r.ts = now;
    r.features = "null";
    r.outputs = Json(label).dump();
    queued.push_back(std::move(r));
  }
  RETURN_IF_ERROR(outbox_->Append(PredictionLog::Key::Of(*e), queued));
  return p_->serving->StoreFeedback(ctx, project, endpoint, items);
}

absl::Status ReplicaService::ForwardFeedback() {
  std::vector<Endpoint> eps;
  RETURN_IF_ERROR(p_->store->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(eps, tx.endpoints().ListAll());
    return absl::OkStatus();
  }));
  for (const auto& e : eps) {
    const PredictionLog::Key key = PredictionLog::Key::Of(e);
    int64_t after = 0;
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<PredictionRecord> rows, outbox_->After(key, after, kBatch));
      if (rows.empty()) break;
      Json items = Json::array();
      for (const auto& r : rows) {
        Json label = ParseJsonOr(r.outputs, Json());
        if (!label.is_string()) continue;  // not written by Feedback
        items.push_back(Json{{"request_id", r.request_id}, {"label", label}});
      }
      if (!items.empty()) {
        RETURN_IF_ERROR(upstream_
                            ->PostJson(absl::StrCat("/api/v1/projects/", o_.project, "/endpoints/",
                                                    e.name, "/feedback"),
                                       Json{{"items", items}})
                            .status());
      }
      after = rows.back().id;
      RETURN_IF_ERROR(outbox_->ForwardedThrough(key, after));
    }
  }
  return absl::OkStatus();
}

ReplicaService::Check ReplicaService::NeedsCheck(const std::string& hash,
                                                 absl::string_view remote) {
  const int64_t now = NowMillis();
  absl::MutexLock l(&mu_);
  auto it = checked_.find(hash);
  if (it != checked_.end() && now - it->second < o_.token_ttl_s * 1000LL) return Check::kFresh;
  // An address that keeps sending tokens the server refuses is not relayed to it (that would
  // let it get the replica throttled there); its calls fail here with 401.
  auto f = failures_.find(std::string(remote));
  if (f != failures_.end() && now - f->second.since < kMinuteMs &&
      f->second.count >= o_.failure_limit) {
    return Check::kThrottled;
  }
  return Check::kNeeded;
}

bool ReplicaService::MayBlock(absl::string_view authorization, absl::string_view remote) {
  if (!absl::StartsWithIgnoreCase(authorization, "bearer ")) return false;
  std::string secret(absl::StripAsciiWhitespace(authorization.substr(7)));
  if (secret.empty() || secret.size() > 512) return false;
  return NeedsCheck(Sha256Hex(secret), remote) == Check::kNeeded;
}

absl::StatusOr<Principal> ReplicaService::Authenticate(absl::string_view authorization,
                                                       absl::string_view remote) {
  if (absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    std::string secret(absl::StripAsciiWhitespace(authorization.substr(7)));
    if (!secret.empty() && secret.size() <= 512) {
      const std::string hash = Sha256Hex(secret);
      if (NeedsCheck(hash, remote) == Check::kNeeded) CheckWithServer(secret, hash, remote);
    }
  }
  return p_->auth->Authenticate(authorization, remote);
}

void ReplicaService::NoteRefused(absl::string_view remote) {
  const int64_t now = NowMillis();
  absl::MutexLock l(&mu_);
  if (failures_.size() >= o_.max_failure_addresses) {
    absl::erase_if(failures_, [&](const auto& kv) { return now - kv.second.since >= kMinuteMs; });
    if (failures_.size() >= o_.max_failure_addresses) failures_.clear();
  }
  Refusals& r = failures_[std::string(remote)];
  if (now - r.since >= kMinuteMs) r = Refusals{0, now};
  ++r.count;
}

void ReplicaService::CheckWithServer(const std::string& secret, const std::string& hash,
                                     absl::string_view remote) {
  const int64_t now = NowMillis();
  auto remember = [&](int64_t at) {
    absl::MutexLock l(&mu_);
    if (checked_.size() >= o_.max_cached_tokens) {
      const int64_t ttl = o_.token_ttl_s * 1000LL;
      absl::erase_if(checked_, [&](const auto& kv) { return now - kv.second >= ttl; });
      if (checked_.size() >= o_.max_cached_tokens) checked_.clear();
    }
    checked_[hash] = at;
  };
  absl::StatusOr<Json> who = upstream_->GetJson("/api/v1/whoami", secret);
  if (!who.ok() && !absl::IsUnauthenticated(who.status())) {
    // The server could not say: keep what we know, ask again shortly.
    static LogThrottle throttle;
    int64_t held = 0;
    if (throttle.Allow(who.status().ToString(), &held)) {
      spdlog::warn("replica: cannot check tokens with {}: {} ({} more since the last line)",
                   upstream_->Describe(), who.status().ToString(), held);
    }
    remember(now - o_.token_ttl_s * 1000LL + o_.unreachable_retry_ms);
    return;
  }
  std::optional<Role> role;
  bool role_known = true;
  if (who.ok()) {
    absl::StatusOr<Json> proj = upstream_->GetJson("/api/v1/projects/" + o_.project, secret);
    if (proj.ok()) {
      if (proj->contains("role") && (*proj)["role"].is_string()) {
        role = ParseRole((*proj)["role"].get<std::string>());
      }
    } else if (!IsAnswerNo(proj.status())) {
      role_known = false;  // a transient failure is not "no role"
    }
  } else {
    NoteRefused(remote);
  }
  std::optional<int64_t> changed_user;
  absl::Status s = p_->store->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.tokens().FindByHash(hash));
    if (!who.ok()) {
      if (existing && !existing->revoked_at) {
        RETURN_IF_ERROR(tx.tokens().Revoke(existing->id, NowMillis()));
        RETURN_IF_ERROR(
            Audit(tx, "token.revoke", "user/" + existing->user_name, "",
                  Json{{"token_id", existing->id}, {"reason", "refused by the server"}}));
      }
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(std::string user_name, StringField(*who, "name", "whoami"));
    const bool admin = who->value("admin", false);  // platform admins see every project
    const bool disabled = who->value("disabled", false);
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(user_name));
    if (!user) {
      User u;
      u.name = user_name;
      u.is_admin = admin;
      u.disabled = disabled;
      u.created_at = NowMillis();
      ASSIGN_OR_RETURN(u, tx.users().Create(u));
      user = u;
      RETURN_IF_ERROR(
          Audit(tx, "user", "user/" + user_name, "", Json{{"admin", admin}, {"created", true}}));
    } else if (user->is_admin != admin || user->disabled != disabled) {
      user->is_admin = admin;
      user->disabled = disabled;
      RETURN_IF_ERROR(tx.users().Update(*user));
      RETURN_IF_ERROR(Audit(tx, "user", "user/" + user_name, "",
                            Json{{"admin", admin}, {"disabled", disabled}}));
      changed_user = user->id;
    }
    ASSIGN_OR_RETURN(auto project, tx.projects().FindByName(o_.project));
    if (!project) return absl::FailedPreconditionError("project not mirrored yet");
    if (role_known) {
      // A valid token without a role in the project reads as no such project (404), as on
      // the server.
      ASSIGN_OR_RETURN(std::optional<Role> current, tx.members().RoleOf(project->id, user->id));
      const bool same = current == role;
      if (!same) {
        if (role) {
          RETURN_IF_ERROR(tx.members().Upsert(project->id, user->id, *role, NowMillis()));
        } else {
          RETURN_IF_ERROR(tx.members().Remove(project->id, user->id));
        }
        RETURN_IF_ERROR(
            Audit(tx, "member", absl::StrCat("project/", o_.project, "/member/", user_name),
                  o_.project, Json{{"role", role ? Json(RoleName(*role)) : Json(nullptr)}}));
      }
    }
    if (!existing) {
      Token t;
      t.user_id = user->id;
      t.name = "replica";
      t.token_hash = hash;
      t.prefix = secret.substr(0, 10);
      t.created_at = NowMillis();
      RETURN_IF_ERROR(tx.tokens().Create(t).status());
    }
    return absl::OkStatus();
  });
  p_->projects->DropCache();
  p_->auth->ForgetToken(hash);
  if (changed_user) p_->auth->ForgetUser(*changed_user);
  if (!s.ok()) {
    spdlog::warn("replica: token check: {}", s.ToString());
    return;
  }
  remember(now);
}

size_t ReplicaService::cached_tokens() {
  absl::MutexLock l(&mu_);
  return checked_.size();
}

size_t ReplicaService::failure_addresses() {
  absl::MutexLock l(&mu_);
  return failures_.size();
}

}  // namespace kade
