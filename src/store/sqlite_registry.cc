// SQLite RegistryRepository and EndpointRepository: registered models, their versions and
// aliases (every alias move is kept in model_alias_history, which rollback reads), endpoints,
// the prediction log and ground-truth feedback.
#include "absl/strings/str_cat.h"
#include "store/sqlite_repos.h"

namespace kade {
namespace {

constexpr const char* kModelCols =
    "id, project_id, name, description, tags, gates, created_by, created_at, updated_at";
constexpr const char* kVersionCols =
    "id, model_id, version, source, run_uuid, model_sha256, manifest, description, tags, "
    "status, gate_report, created_by, created_at, source_uri, updated_at, model_path";
// The same without the two documents, for listings.
constexpr const char* kBriefVersionCols =
    "v.id, v.model_id, v.version, v.source, v.run_uuid, v.model_sha256, '', v.description, "
    "v.tags, v.status, '{}', v.created_by, v.created_at, v.source_uri, v.updated_at, v.model_path";

RegisteredModel ReadModel(const SqliteStmt& s) {
  RegisteredModel m;
  m.id = s.Int(0);
  m.project_id = s.Int(1);
  m.name = s.Text(2);
  m.description = s.Text(3);
  m.tags = s.Text(4);
  m.gates = s.Text(5);
  m.created_by = s.Text(6);
  m.created_at = s.Int(7);
  m.updated_at = s.Int(8);
  return m;
}

ModelVersion ReadVersion(const SqliteStmt& s) {
  ModelVersion v;
  v.id = s.Int(0);
  v.model_id = s.Int(1);
  v.version = s.Int(2);
  v.source = s.Text(3);
  v.run_uuid = s.Text(4);
  v.model_sha256 = s.Text(5);
  v.manifest = s.Text(6);
  v.description = s.Text(7);
  v.tags = s.Text(8);
  v.status = s.Text(9);
  v.gate_report = s.Text(10);
  v.created_by = s.Text(11);
  v.created_at = s.Int(12);
  v.source_uri = s.Text(13);
  v.updated_at = s.Int(14);
  v.model_path = s.Text(15);
  return v;
}

class SqliteRegistry : public RegistryRepository {
 public:
  explicit SqliteRegistry(SqliteConn* c) : c_(c) {}

  absl::StatusOr<RegisteredModel> CreateModel(const RegisteredModel& m) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO registered_models (project_id, name, "
                                          "description, tags, gates, created_by, created_at, "
                                          "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, m.project_id)
        .Bind(2, m.name)
        .Bind(3, m.description)
        .Bind(4, m.tags)
        .Bind(5, m.gates)
        .Bind(6, m.created_by)
        .Bind(7, m.created_at)
        .Bind(8, m.updated_at);
    RETURN_IF_ERROR(st.Run());
    RegisteredModel out = m;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::optional<RegisteredModel>> FindModel(int64_t project_id,
                                                           absl::string_view name) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kModelCols,
                                                       " FROM registered_models WHERE "
                                                       "project_id = ? AND name = ?")));
    st.Bind(1, project_id).Bind(2, name);
    return FirstRow<RegisteredModel>(st, ReadModel);
  }

  absl::StatusOr<std::optional<RegisteredModel>> FindModelById(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kModelCols,
                                                       " FROM registered_models WHERE id = ?")));
    st.Bind(1, id);
    return FirstRow<RegisteredModel>(st, ReadModel);
  }

  absl::StatusOr<std::vector<RegisteredModel>> ListModels(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kModelCols,
                                                       " FROM registered_models WHERE "
                                                       "project_id = ? ORDER BY name")));
    st.Bind(1, project_id);
    return CollectRows<RegisteredModel>(st, ReadModel);
  }

  absl::Status UpdateModel(const RegisteredModel& m) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("UPDATE registered_models SET name = ?, description = ?, tags = "
                                 "?, gates = ?, updated_at = ? WHERE id = ?"));
    st.Bind(1, m.name)
        .Bind(2, m.description)
        .Bind(3, m.tags)
        .Bind(4, m.gates)
        .Bind(5, m.updated_at)
        .Bind(6, m.id);
    return st.Run();
  }

  absl::Status DeleteModel(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM registered_models WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  absl::StatusOr<ModelVersion> CreateVersion(const ModelVersion& v) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat(
                         "INSERT INTO model_versions (model_id, version, source, run_uuid, "
                         "model_sha256, manifest, description, tags, status, gate_report, "
                         "created_by, created_at, source_uri, updated_at, model_path) VALUES (?, "
                         "(SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE "
                         "model_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "RETURNING ",
                         kVersionCols)));
    st.Bind(1, v.model_id)
        .Bind(2, v.model_id)
        .Bind(3, v.source)
        .Bind(4, v.run_uuid)
        .Bind(5, v.model_sha256)
        .Bind(6, v.manifest)
        .Bind(7, v.description)
        .Bind(8, v.tags)
        .Bind(9, v.status)
        .Bind(10, v.gate_report)
        .Bind(11, v.created_by)
        .Bind(12, v.created_at)
        .Bind(13, v.source_uri)
        .Bind(14, v.updated_at != 0 ? v.updated_at : v.created_at)
        .Bind(15, v.model_path);
    ASSIGN_OR_RETURN(std::optional<ModelVersion> out, FirstRow<ModelVersion>(st, ReadVersion));
    st.Reset();
    if (!out) return absl::InternalError("model version insert returned nothing");
    return *out;
  }

  absl::StatusOr<std::optional<ModelVersion>> FindVersion(int64_t model_id,
                                                          int64_t version) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kVersionCols,
                                                       " FROM model_versions WHERE model_id = ? "
                                                       "AND version = ? AND status != 'deleted'")));
    st.Bind(1, model_id).Bind(2, version);
    return FirstRow<ModelVersion>(st, ReadVersion);
  }

  absl::StatusOr<std::vector<ModelVersion>> ListVersions(int64_t model_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kVersionCols,
                                                       " FROM model_versions WHERE model_id = ? "
                                                       "AND status != 'deleted' "
                                                       "ORDER BY version DESC")));
    st.Bind(1, model_id);
    return CollectRows<ModelVersion>(st, ReadVersion);
  }

  absl::StatusOr<std::vector<ModelVersion>> ProjectVersions(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat(
                         "SELECT ", kBriefVersionCols,
                         " FROM model_versions v JOIN registered_models m ON m.id = v.model_id "
                         "WHERE m.project_id = ? AND v.status != 'deleted' "
                         "ORDER BY v.model_id, v.version DESC")));
    st.Bind(1, project_id);
    return CollectRows<ModelVersion>(st, ReadVersion);
  }

  absl::StatusOr<std::vector<std::pair<int64_t, ModelAlias>>> ProjectAliases(
      int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT a.model_id, a.alias, a.version, a.updated_by, "
                                          "a.updated_at FROM model_aliases a JOIN "
                                          "registered_models m ON m.id = a.model_id WHERE "
                                          "m.project_id = ? ORDER BY a.model_id, a.alias"));
    st.Bind(1, project_id);
    return CollectRows<std::pair<int64_t, ModelAlias>>(st, [](const SqliteStmt& s) {
      return std::make_pair(s.Int(0), ModelAlias{s.Text(1), s.Int(2), s.Text(3), s.Int(4)});
    });
  }

  absl::StatusOr<std::vector<ModelVersion>> VersionsOfRun(absl::string_view run_uuid) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kVersionCols,
                                                       " FROM model_versions WHERE run_uuid = ? "
                                                       "AND status != 'deleted' ORDER BY id")));
    st.Bind(1, run_uuid);
    return CollectRows<ModelVersion>(st, ReadVersion);
  }

  absl::Status UpdateVersion(const ModelVersion& v) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("UPDATE model_versions SET description = ?, tags = ?, "
                                 "status = ?, gate_report = ?, updated_at = ? WHERE id = ?"));
    st.Bind(1, v.description)
        .Bind(2, v.tags)
        .Bind(3, v.status)
        .Bind(4, v.gate_report)
        .Bind(5, v.updated_at)
        .Bind(6, v.id);
    return st.Run();
  }

  absl::StatusOr<std::vector<ModelAlias>> Aliases(int64_t model_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT alias, version, updated_by, updated_at FROM "
                                          "model_aliases WHERE model_id = ? ORDER BY alias"));
    st.Bind(1, model_id);
    return CollectRows<ModelAlias>(st, [](const SqliteStmt& s) {
      return ModelAlias{s.Text(0), s.Int(1), s.Text(2), s.Int(3)};
    });
  }

  absl::Status SetAlias(int64_t model_id, absl::string_view alias, std::optional<int64_t> version,
                        absl::string_view actor, int64_t now) override {
    ASSIGN_OR_RETURN(auto cur, c_->Prepare("SELECT version FROM model_aliases WHERE model_id = ? "
                                           "AND alias = ?"));
    cur.Bind(1, model_id).Bind(2, alias);
    ASSIGN_OR_RETURN(bool had, cur.Step());
    std::optional<int64_t> previous;
    if (had) previous = cur.Int(0);
    cur.Reset();
    if (version) {
      ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO model_aliases (model_id, alias, version, "
                                            "updated_by, updated_at) VALUES (?, ?, ?, ?, ?) ON "
                                            "CONFLICT (model_id, alias) DO UPDATE SET version = "
                                            "excluded.version, updated_by = excluded.updated_by, "
                                            "updated_at = excluded.updated_at"));
      st.Bind(1, model_id).Bind(2, alias).Bind(3, *version).Bind(4, actor).Bind(5, now);
      RETURN_IF_ERROR(st.Run());
    } else {
      ASSIGN_OR_RETURN(auto st,
                       c_->Prepare("DELETE FROM model_aliases WHERE model_id = ? AND alias = ?"));
      st.Bind(1, model_id).Bind(2, alias);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(auto h,
                     c_->Prepare("INSERT INTO model_alias_history (model_id, alias, "
                                 "version, previous, actor, ts) VALUES (?, ?, ?, ?, ?, ?)"));
    h.Bind(1, model_id)
        .Bind(2, alias)
        .Bind(3, version)
        .Bind(4, previous)
        .Bind(5, actor)
        .Bind(6, now);
    return h.Run();
  }

  absl::StatusOr<std::vector<AliasChange>> AliasHistory(int64_t model_id, int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT id, alias, version, previous, actor, ts FROM "
                                          "model_alias_history WHERE model_id = ? ORDER BY id "
                                          "DESC LIMIT ?"));
    st.Bind(1, model_id).Bind(2, limit);
    return CollectRows<AliasChange>(st, [](const SqliteStmt& s) {
      return AliasChange{s.Int(0), s.Text(1), s.OptInt(2), s.OptInt(3), s.Text(4), s.Int(5)};
    });
  }

 private:
  SqliteConn* c_;
};

constexpr const char* kEndpointCols =
    "e.id, e.project_id, e.name, e.model_id, m.name, e.config, e.description, e.created_by, "
    "e.created_at, e.updated_at";

Endpoint ReadEndpoint(const SqliteStmt& s) {
  Endpoint e;
  e.id = s.Int(0);
  e.project_id = s.Int(1);
  e.name = s.Text(2);
  e.model_id = s.Int(3);
  e.model_name = s.Text(4);
  e.config = s.Text(5);
  e.description = s.Text(6);
  e.created_by = s.Text(7);
  e.created_at = s.Int(8);
  e.updated_at = s.Int(9);
  return e;
}

class SqliteEndpoints : public EndpointRepository {
 public:
  explicit SqliteEndpoints(SqliteConn* c) : c_(c) {}

  absl::StatusOr<Endpoint> Create(const Endpoint& e) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO endpoints (project_id, name, model_id, "
                                          "config, description, created_by, created_at, "
                                          "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, e.project_id)
        .Bind(2, e.name)
        .Bind(3, e.model_id)
        .Bind(4, e.config)
        .Bind(5, e.description)
        .Bind(6, e.created_by)
        .Bind(7, e.created_at)
        .Bind(8, e.updated_at);
    RETURN_IF_ERROR(st.Run());
    Endpoint out = e;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::optional<Endpoint>> Find(int64_t project_id,
                                               absl::string_view name) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat("SELECT ", kEndpointCols,
                                          " FROM endpoints e JOIN registered_models m ON m.id = "
                                          "e.model_id WHERE e.project_id = ? AND e.name = ?")));
    st.Bind(1, project_id).Bind(2, name);
    return FirstRow<Endpoint>(st, ReadEndpoint);
  }

  absl::StatusOr<std::vector<Endpoint>> List(int64_t project_id) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat("SELECT ", kEndpointCols,
                                          " FROM endpoints e JOIN registered_models m ON m.id = "
                                          "e.model_id WHERE e.project_id = ? ORDER BY e.name")));
    st.Bind(1, project_id);
    return CollectRows<Endpoint>(st, ReadEndpoint);
  }

  absl::StatusOr<std::vector<Endpoint>> ListAll() override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kEndpointCols,
                                                       " FROM endpoints e JOIN registered_models "
                                                       "m ON m.id = e.model_id ORDER BY e.id")));
    return CollectRows<Endpoint>(st, ReadEndpoint);
  }

  absl::Status Update(const Endpoint& e) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE endpoints SET config = ?, description = ?, "
                                          "updated_at = ? WHERE id = ?"));
    st.Bind(1, e.config).Bind(2, e.description).Bind(3, e.updated_at).Bind(4, e.id);
    return st.Run();
  }

  absl::Status Delete(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM endpoints WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  absl::Status AppendPredictions(const std::vector<PredictionRecord>& records) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO predictions (endpoint_id, request_id, ts, "
                                          "version, shadow, latency_us, features, outputs) "
                                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    for (const auto& r : records) {
      st.Bind(1, r.endpoint_id)
          .Bind(2, r.request_id)
          .Bind(3, r.ts)
          .Bind(4, r.version)
          .Bind(5, static_cast<int64_t>(r.shadow))
          .Bind(6, r.latency_us)
          .BindStatic(7, r.features)  // the records outlive the statement's run
          .BindStatic(8, r.outputs);
      RETURN_IF_ERROR(st.Run());
      st.Reset();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PredictionRecord>> PredictionsAfter(int64_t endpoint_id,
                                                                 int64_t after_id,
                                                                 int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT id, request_id, ts, version, shadow, latency_us, "
                                          "features, outputs FROM predictions WHERE endpoint_id = "
                                          "? AND id > ? ORDER BY id LIMIT ?"));
    st.Bind(1, endpoint_id).Bind(2, after_id).Bind(3, limit);
    return CollectRows<PredictionRecord>(st, [endpoint_id](const SqliteStmt& s) {
      PredictionRecord r;
      r.id = s.Int(0);
      r.endpoint_id = endpoint_id;
      r.request_id = s.Text(1);
      r.ts = s.Int(2);
      r.version = s.Int(3);
      r.shadow = s.Int(4) != 0;
      r.latency_us = s.Int(5);
      r.features = s.Text(6);
      r.outputs = s.Text(7);
      return r;
    });
  }

  absl::Status DeletePredictionsThrough(int64_t endpoint_id, int64_t id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("DELETE FROM predictions WHERE endpoint_id = ? AND id <= ?"));
    st.Bind(1, endpoint_id).Bind(2, id);
    return st.Run();
  }

  absl::Status PutFeedback(int64_t endpoint_id, absl::string_view request_id,
                           absl::string_view label, absl::string_view actor, int64_t now) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO feedback (endpoint_id, request_id, ts, "
                                          "label, actor) VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                                          "(endpoint_id, request_id) DO UPDATE SET ts = "
                                          "excluded.ts, label = excluded.label, actor = "
                                          "excluded.actor"));
    st.Bind(1, endpoint_id).Bind(2, request_id).Bind(3, now).Bind(4, label).Bind(5, actor);
    return st.Run();
  }

  absl::StatusOr<std::map<std::string, std::pair<std::string, int64_t>>> FeedbackLabels(
      int64_t endpoint_id, const std::vector<std::string>& request_ids) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT label, ts FROM feedback WHERE endpoint_id = ? "
                                          "AND request_id = ?"));
    std::map<std::string, std::pair<std::string, int64_t>> out;
    for (const auto& id : request_ids) {
      st.Bind(1, endpoint_id).Bind(2, id);
      ASSIGN_OR_RETURN(bool found, st.Step());
      if (found) out[id] = {st.Text(0), st.Int(1)};
      st.Reset();
    }
    return out;
  }

  absl::StatusOr<int64_t> PruneFeedback(int64_t before) override {
    ASSIGN_OR_RETURN(auto f, c_->Prepare("DELETE FROM feedback WHERE ts < ?"));
    f.Bind(1, before);
    RETURN_IF_ERROR(f.Run());
    return c_->Changes();
  }

 private:
  SqliteConn* c_;
};

}  // namespace

std::unique_ptr<RegistryRepository> NewSqliteRegistry(SqliteConn* c) {
  return std::make_unique<SqliteRegistry>(c);
}
std::unique_ptr<EndpointRepository> NewSqliteEndpoints(SqliteConn* c) {
  return std::make_unique<SqliteEndpoints>(c);
}

}  // namespace kade
