// SQLite implementation of DatasetRepository (see metadata.h).
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "store/sqlite_repos.h"

namespace kade {

namespace {

constexpr char kDatasetCols[] =
    "d.id, d.project_id, d.name, d.description, d.owner, d.tags, d.roles, d.pinned_schema, "
    "d.checks, d.options, d.created_at, d.updated_at, "
    "(SELECT COALESCE(MAX(version), 0) FROM dataset_versions v WHERE v.dataset_id = d.id), "
    "(SELECT row_count FROM dataset_versions v WHERE v.dataset_id = d.id ORDER BY version DESC "
    "LIMIT 1)";

Dataset ReadDataset(const SqliteStmt& s) {
  Dataset d;
  d.id = s.Int(0);
  d.project_id = s.Int(1);
  d.name = s.Text(2);
  d.description = s.Text(3);
  d.owner = s.Text(4);
  d.tags = s.Text(5);
  d.roles = s.Text(6);
  if (!s.IsNull(7)) d.pinned_schema = s.Text(7);
  d.checks = s.Text(8);
  d.options = s.Text(9);
  d.created_at = s.Int(10);
  d.updated_at = s.Int(11);
  d.latest_version = s.Int(12);
  d.latest_rows = s.IsNull(13) ? 0 : s.Int(13);
  return d;
}

// `profile` is selected as '' unless asked for: it can be large.
std::string VersionCols(bool with_profile) {
  return absl::StrCat(
      "id, dataset_id, version, sha256, size, format, compression, row_count, column_count, "
      "schema, ",
      with_profile ? "profile" : "''", ", quality, quality_status, source, created_at, created_by");
}

DatasetVersion ReadVersion(const SqliteStmt& s) {
  DatasetVersion v;
  v.id = s.Int(0);
  v.dataset_id = s.Int(1);
  v.version = s.Int(2);
  v.sha256 = s.Text(3);
  v.size = s.Int(4);
  v.format = s.Text(5);
  v.compression = s.Text(6);
  v.rows = s.Int(7);
  v.columns = s.Int(8);
  v.schema = s.Text(9);
  v.profile = s.Text(10);
  v.quality = s.Text(11);
  v.quality_status = s.Text(12);
  v.source = s.Text(13);
  v.created_at = s.Int(14);
  v.created_by = s.Text(15);
  return v;
}

class SqliteDatasets : public DatasetRepository {
 public:
  explicit SqliteDatasets(SqliteConn* c) : c_(c) {}

  absl::StatusOr<Dataset> Create(const Dataset& d) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("INSERT INTO datasets (project_id, name, description, owner, tags, roles, "
                    "pinned_schema, "
                    "checks, options, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, d.project_id).Bind(2, d.name).Bind(3, d.description).Bind(4, d.owner);
    st.Bind(5, d.tags).Bind(6, d.roles);
    if (d.pinned_schema)
      st.Bind(7, *d.pinned_schema);
    else
      st.BindNull(7);
    st.Bind(8, d.checks).Bind(9, d.options).Bind(10, d.created_at).Bind(11, d.updated_at);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("dataset '", d.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    Dataset out = d;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::Status Update(const Dataset& d) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE datasets SET description = ?, owner = ?, tags = "
                                          "?, roles = ?, pinned_schema = ?, "
                                          "checks = ?, options = ?, updated_at = ? WHERE id = ?"));
    st.Bind(1, d.description).Bind(2, d.owner).Bind(3, d.tags).Bind(4, d.roles);
    if (d.pinned_schema)
      st.Bind(5, *d.pinned_schema);
    else
      st.BindNull(5);
    st.Bind(6, d.checks).Bind(7, d.options).Bind(8, d.updated_at).Bind(9, d.id);
    return st.Run();
  }

  absl::StatusOr<std::optional<Dataset>> Find(int64_t project_id, absl::string_view name) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kDatasetCols,
                                  " FROM datasets d WHERE d.project_id = ? AND d.name = ?")));
    st.Bind(1, project_id).Bind(2, name);
    return FirstRow<Dataset>(st, ReadDataset);
  }

  absl::StatusOr<std::vector<Dataset>> List(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kDatasetCols,
                                  " FROM datasets d WHERE d.project_id = ? ORDER BY d.name")));
    st.Bind(1, project_id);
    return CollectRows<Dataset>(st, ReadDataset);
  }

  absl::Status Delete(int64_t dataset_id) override {
    ASSIGN_OR_RETURN(auto del, c_->Prepare("DELETE FROM dataset_search WHERE dataset_id = ?"));
    del.Bind(1, dataset_id);
    RETURN_IF_ERROR(del.Run());
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM datasets WHERE id = ?"));
    st.Bind(1, dataset_id);
    return st.Run();
  }

  absl::StatusOr<std::vector<Dataset>> Search(int64_t project_id,
                                              absl::string_view query) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kDatasetCols,
                                  " FROM dataset_search s JOIN datasets d ON d.id = s.dataset_id "
                                  "WHERE dataset_search MATCH ? AND d.project_id = ? ORDER BY "
                                  "bm25(dataset_search) LIMIT 200")));
    st.Bind(1, query).Bind(2, project_id);
    absl::StatusOr<std::vector<Dataset>> r = CollectRows<Dataset>(st, ReadDataset);
    if (!r.ok() && absl::IsInternal(r.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("search query is not valid: ", r.status().message()));
    }
    return r;
  }

  absl::Status Index(const Dataset& d, absl::string_view column_names) override {
    ASSIGN_OR_RETURN(auto del, c_->Prepare("DELETE FROM dataset_search WHERE dataset_id = ?"));
    del.Bind(1, d.id);
    RETURN_IF_ERROR(del.Run());
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO dataset_search (name, description, tags, "
                                          "columns, dataset_id) VALUES (?,?,?,?,?)"));
    st.Bind(1, d.name).Bind(2, d.description).Bind(3, d.tags).Bind(4, column_names).Bind(5, d.id);
    return st.Run();
  }

  absl::StatusOr<DatasetVersion> AddVersion(const DatasetVersion& v) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO dataset_versions (dataset_id, version, sha256, size, format, compression, "
            "row_count, column_count, schema, profile, quality, quality_status, source, "
            "created_at, "
            "created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, v.dataset_id).Bind(2, v.version).Bind(3, v.sha256).Bind(4, v.size).Bind(5, v.format);
    st.Bind(6, v.compression)
        .Bind(7, v.rows)
        .Bind(8, v.columns)
        .Bind(9, v.schema)
        .Bind(10, v.profile);
    st.Bind(11, v.quality).Bind(12, v.quality_status).Bind(13, v.source).Bind(14, v.created_at);
    st.Bind(15, v.created_by);
    RETURN_IF_ERROR(st.Run());
    DatasetVersion out = v;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<int64_t> NextVersionNumber(int64_t dataset_id) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM dataset_versions WHERE dataset_id = ?"));
    st.Bind(1, dataset_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 1;
  }

  absl::StatusOr<std::optional<DatasetVersion>> FindVersion(int64_t dataset_id, int64_t version,
                                                            bool with_profile) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", VersionCols(with_profile),
                                  " FROM dataset_versions WHERE dataset_id = ? AND version = ?")));
    st.Bind(1, dataset_id).Bind(2, version);
    return FirstRow<DatasetVersion>(st, ReadVersion);
  }

  absl::StatusOr<std::optional<DatasetVersion>> FindVersionBySha(int64_t dataset_id,
                                                                 absl::string_view sha256,
                                                                 bool with_profile) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", VersionCols(with_profile),
                                  " FROM dataset_versions WHERE dataset_id = ? AND sha256 = ?")));
    st.Bind(1, dataset_id).Bind(2, sha256);
    return FirstRow<DatasetVersion>(st, ReadVersion);
  }

  absl::StatusOr<std::vector<DatasetVersion>> ListVersions(int64_t dataset_id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat(
                         "SELECT ", VersionCols(false),
                         " FROM dataset_versions WHERE dataset_id = ? ORDER BY version DESC")));
    st.Bind(1, dataset_id);
    return CollectRows<DatasetVersion>(st, ReadVersion);
  }

  absl::Status AddUsage(const DatasetUsage& u) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO dataset_usage (version_id, kind, ref, forced, created_at, created_by) "
            "VALUES (?,?,?,?,?,?)"));
    st.Bind(1, u.version_id).Bind(2, u.kind).Bind(3, u.ref).Bind(4, int64_t{u.forced});
    st.Bind(5, u.created_at).Bind(6, u.created_by);
    return st.Run();
  }

  absl::StatusOr<std::vector<DatasetUsage>> ListUsage(int64_t version_id) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT version_id, kind, ref, forced, created_at, created_by FROM dataset_usage "
            "WHERE version_id = ? ORDER BY id"));
    st.Bind(1, version_id);
    return CollectRows<DatasetUsage>(st, [](const SqliteStmt& s) {
      return DatasetUsage{s.Int(0), s.Text(1), s.Text(2), s.Int(3) != 0, s.Int(4), s.Text(5)};
    });
  }

 private:
  SqliteConn* c_;
};

}  // namespace

std::unique_ptr<DatasetRepository> NewSqliteDatasets(SqliteConn* c) {
  return std::make_unique<SqliteDatasets>(c);
}

}  // namespace kade
