// SQLite implementation of MetadataStore. One writer connection (writes are serialised by
// a mutex and BEGIN IMMEDIATE) and a pool of read-only connections; WAL mode lets readers
// run beside the writer. Foreign keys are enforced on every connection.
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status.h"
#include "store/metadata.h"
#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/sqlite_repos.h"

namespace kade {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kEditor:
      return "editor";
    case Role::kMaintainer:
      return "maintainer";
    case Role::kOwner:
      return "owner";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "editor") return Role::kEditor;
  if (name == "maintainer") return Role::kMaintainer;
  if (name == "owner") return Role::kOwner;
  return std::nullopt;
}

int LatestSchemaVersion() { return Migrations().back().version; }

namespace {

constexpr char kUserCols[] =
    "id, name, display_name, email, is_admin, disabled, created_at, default_project";

User ReadUser(const SqliteStmt& s) {
  User u;
  u.id = s.Int(0);
  u.name = s.Text(1);
  u.display_name = s.Text(2);
  u.email = s.Text(3);
  u.is_admin = s.Int(4) != 0;
  u.disabled = s.Int(5) != 0;
  u.created_at = s.Int(6);
  u.default_project = s.Text(7);
  return u;
}

class SqliteUsers : public UserRepository {
 public:
  explicit SqliteUsers(SqliteConn* c) : c_(c) {}
  absl::StatusOr<User> Create(const User& user) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO users (name, display_name, email, is_admin, "
                                          "disabled, created_at) VALUES (?,?,?,?,?,?)"));
    st.Bind(1, user.name).Bind(2, user.display_name).Bind(3, user.email);
    st.Bind(4, int64_t{user.is_admin}).Bind(5, int64_t{user.disabled}).Bind(6, user.created_at);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("user '", user.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    User out = user;
    out.id = c_->LastInsertId();
    return out;
  }
  absl::StatusOr<std::optional<User>> FindByName(absl::string_view name) override {
    return FindOne(absl::StrCat("SELECT ", kUserCols, " FROM users WHERE name = ?"), name);
  }
  absl::StatusOr<std::optional<User>> FindById(int64_t id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kUserCols, " FROM users WHERE id = ?")));
    st.Bind(1, id);
    return FirstRow<User>(st, ReadUser);
  }
  absl::StatusOr<std::vector<User>> List() override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kUserCols, " FROM users ORDER BY name")));
    return CollectRows<User>(st, ReadUser);
  }
  absl::StatusOr<int64_t> Count() override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT COUNT(*) FROM users"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }
  absl::Status Update(const User& user) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE users SET display_name = ?, email = ?, "
                                          "is_admin = ?, disabled = ?, default_project = ? "
                                          "WHERE id = ?"));
    st.Bind(1, user.display_name).Bind(2, user.email).Bind(3, int64_t{user.is_admin});
    st.Bind(4, int64_t{user.disabled}).Bind(5, user.default_project).Bind(6, user.id);
    return st.Run();
  }

 private:
  absl::StatusOr<std::optional<User>> FindOne(const std::string& sql, absl::string_view arg) {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(sql));
    st.Bind(1, arg);
    return FirstRow<User>(st, ReadUser);
  }
  SqliteConn* c_;
};

constexpr char kTokenSelect[] =
    "SELECT t.id, t.user_id, u.name, t.name, t.token_hash, t.prefix, t.created_at, t.expires_at, "
    "t.revoked_at, t.last_used_at FROM tokens t JOIN users u ON u.id = t.user_id ";

Token ReadToken(const SqliteStmt& s) {
  Token t;
  t.id = s.Int(0);
  t.user_id = s.Int(1);
  t.user_name = s.Text(2);
  t.name = s.Text(3);
  t.token_hash = s.Text(4);
  t.prefix = s.Text(5);
  t.created_at = s.Int(6);
  t.expires_at = s.OptInt(7);
  t.revoked_at = s.OptInt(8);
  t.last_used_at = s.OptInt(9);
  return t;
}

class SqliteTokens : public TokenRepository {
 public:
  explicit SqliteTokens(SqliteConn* c) : c_(c) {}
  absl::StatusOr<Token> Create(const Token& token) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO tokens (user_id, name, token_hash, prefix, "
                                          "created_at, expires_at) VALUES (?,?,?,?,?,?)"));
    st.Bind(1, token.user_id).Bind(2, token.name).Bind(3, token.token_hash).Bind(4, token.prefix);
    st.Bind(5, token.created_at).Bind(6, token.expires_at);
    RETURN_IF_ERROR(st.Run());
    Token out = token;
    out.id = c_->LastInsertId();
    return out;
  }
  absl::StatusOr<std::optional<Token>> FindByHash(absl::string_view hash) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(kTokenSelect, "WHERE t.token_hash = ?")));
    st.Bind(1, hash);
    return FirstRow<Token>(st, ReadToken);
  }
  absl::StatusOr<std::optional<Token>> FindById(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(kTokenSelect, "WHERE t.id = ?")));
    st.Bind(1, id);
    return FirstRow<Token>(st, ReadToken);
  }
  absl::StatusOr<std::vector<Token>> ListForUser(int64_t user_id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat(kTokenSelect, "WHERE t.user_id = ? ORDER BY t.id")));
    st.Bind(1, user_id);
    return CollectRows<Token>(st, ReadToken);
  }
  absl::StatusOr<std::vector<Token>> ListAll() override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(kTokenSelect, "ORDER BY t.id")));
    return CollectRows<Token>(st, ReadToken);
  }
  absl::Status Revoke(int64_t id, int64_t at) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"));
    st.Bind(1, at).Bind(2, id);
    return st.Run();
  }
  absl::Status TouchLastUsed(int64_t id, int64_t at) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?"));
    st.Bind(1, at).Bind(2, id);
    return st.Run();
  }

 private:
  SqliteConn* c_;
};

Project ReadProject(const SqliteStmt& s) {
  Project p;
  p.id = s.Int(0);
  p.name = s.Text(1);
  p.description = s.Text(2);
  p.created_at = s.Int(3);
  p.created_by = s.Text(4);
  return p;
}

class SqliteProjects : public ProjectRepository {
 public:
  explicit SqliteProjects(SqliteConn* c) : c_(c) {}
  absl::StatusOr<Project> Create(const Project& p) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO projects (name, description, created_at, created_by) VALUES (?,?,?,?)"));
    st.Bind(1, p.name).Bind(2, p.description).Bind(3, p.created_at).Bind(4, p.created_by);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("project '", p.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    Project out = p;
    out.id = c_->LastInsertId();
    return out;
  }
  absl::StatusOr<std::optional<Project>> FindByName(absl::string_view name) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT id, name, description, created_at, created_by FROM projects WHERE name = ?"));
    st.Bind(1, name);
    return FirstRow<Project>(st, ReadProject);
  }
  absl::StatusOr<std::optional<Project>> FindById(int64_t id) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT id, name, description, created_at, created_by FROM projects WHERE id = ?"));
    st.Bind(1, id);
    return FirstRow<Project>(st, ReadProject);
  }
  absl::StatusOr<std::vector<Project>> ListAll() override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT id, name, description, created_at, created_by FROM projects ORDER BY name"));
    return CollectRows<Project>(st, ReadProject);
  }
  absl::StatusOr<std::vector<Project>> ListForUser(int64_t user_id) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT p.id, p.name, p.description, p.created_at, p.created_by FROM projects p "
            "JOIN memberships m ON m.project_id = p.id WHERE m.user_id = ? ORDER BY p.name"));
    st.Bind(1, user_id);
    return CollectRows<Project>(st, ReadProject);
  }
  absl::Status Delete(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM projects WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

 private:
  SqliteConn* c_;
};

class SqliteMembers : public MemberRepository {
 public:
  explicit SqliteMembers(SqliteConn* c) : c_(c) {}
  absl::Status Upsert(int64_t project_id, int64_t user_id, Role role, int64_t at) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO memberships (project_id, user_id, role, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role"));
    st.Bind(1, project_id).Bind(2, user_id).Bind(3, int64_t{static_cast<int>(role)}).Bind(4, at);
    return st.Run();
  }
  absl::Status Remove(int64_t project_id, int64_t user_id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("DELETE FROM memberships WHERE project_id = ? AND user_id = ?"));
    st.Bind(1, project_id).Bind(2, user_id);
    return st.Run();
  }
  absl::StatusOr<std::optional<Role>> RoleOf(int64_t project_id, int64_t user_id) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare("SELECT role FROM memberships WHERE project_id = ? AND user_id = ?"));
    st.Bind(1, project_id).Bind(2, user_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Role>();
    return std::optional<Role>(static_cast<Role>(st.Int(0)));
  }
  absl::StatusOr<std::vector<Membership>> List(int64_t project_id) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("SELECT m.project_id, m.user_id, u.name, p.name, m.role, m.created_at FROM "
                    "memberships m "
                    "JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id "
                    "WHERE m.project_id = ? ORDER BY m.role DESC, u.name"));
    st.Bind(1, project_id);
    std::vector<Membership> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Membership m;
      m.project_id = st.Int(0);
      m.user_id = st.Int(1);
      m.user_name = st.Text(2);
      m.project_name = st.Text(3);
      m.role = static_cast<Role>(st.Int(4));
      m.created_at = st.Int(5);
      out.push_back(std::move(m));
    }
    return out;
  }
  absl::StatusOr<int64_t> CountWithRole(int64_t project_id, Role role) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare("SELECT COUNT(*) FROM memberships WHERE project_id = ? AND role = ?"));
    st.Bind(1, project_id).Bind(2, int64_t{static_cast<int>(role)});
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }

 private:
  SqliteConn* c_;
};

constexpr char kAuditCols[] =
    "seq, ts, actor, action, target, project, request_id, outcome, detail, remote, prev_hash, hash";

AuditEntry ReadAudit(const SqliteStmt& s) {
  AuditEntry e;
  e.seq = s.Int(0);
  e.ts = s.Int(1);
  e.actor = s.Text(2);
  e.action = s.Text(3);
  e.target = s.Text(4);
  e.project = s.Text(5);
  e.request_id = s.Text(6);
  e.outcome = s.Text(7);
  e.detail = s.Text(8);
  e.remote = s.Text(9);
  e.prev_hash = s.Text(10);
  e.hash = s.Text(11);
  return e;
}

class SqliteAudit : public AuditRepository {
 public:
  explicit SqliteAudit(SqliteConn* c) : c_(c) {}
  absl::Status Append(AuditEntry* e) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO audit_log (seq, ts, actor, action, target, project, request_id, outcome, "
            "detail, remote, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, e->seq).Bind(2, e->ts).Bind(3, e->actor).Bind(4, e->action).Bind(5, e->target);
    st.Bind(6, e->project).Bind(7, e->request_id).Bind(8, e->outcome).Bind(9, e->detail);
    st.Bind(10, e->remote).Bind(11, e->prev_hash).Bind(12, e->hash);
    RETURN_IF_ERROR(st.Run());
    ASSIGN_OR_RETURN(
        auto head,
        c_->Prepare("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"));
    head.Bind(1, e->seq).Bind(2, e->hash);
    return head.Run();
  }
  absl::StatusOr<std::optional<AuditEntry>> Last() override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kAuditCols,
                                              " FROM audit_log ORDER BY seq DESC LIMIT 1")));
    return FirstRow<AuditEntry>(st, ReadAudit);
  }
  absl::StatusOr<std::vector<AuditEntry>> Query(const AuditQuery& q) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kAuditCols,
                                  " FROM audit_log WHERE (?1 IS NULL OR project = ?1) AND "
                                  "(?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3) AND "
                                  "(?4 IS NULL OR seq < ?4) ORDER BY seq DESC LIMIT ?5")));
    if (q.project)
      st.Bind(1, *q.project);
    else
      st.BindNull(1);
    if (q.actor)
      st.Bind(2, *q.actor);
    else
      st.BindNull(2);
    if (q.action)
      st.Bind(3, *q.action);
    else
      st.BindNull(3);
    st.Bind(4, q.before_seq);
    st.Bind(5, int64_t{q.limit});
    return CollectRows<AuditEntry>(st, ReadAudit);
  }
  absl::Status ForEach(absl::FunctionRef<absl::Status(const AuditEntry&)> fn) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat("SELECT ", kAuditCols, " FROM audit_log ORDER BY seq")));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RETURN_IF_ERROR(fn(ReadAudit(st)));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::pair<int64_t, std::string>>> Head() override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT seq, hash FROM audit_head WHERE id = 1"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<std::pair<int64_t, std::string>>();
    return std::optional<std::pair<int64_t, std::string>>(std::make_pair(st.Int(0), st.Text(1)));
  }

 private:
  SqliteConn* c_;
};

constexpr char kArtifactCols[] =
    "id, project_id, name, sha256, size, content_type, created_at, created_by";

Artifact ReadArtifact(const SqliteStmt& s) {
  Artifact a;
  a.id = s.Int(0);
  a.project_id = s.Int(1);
  a.name = s.Text(2);
  a.sha256 = s.Text(3);
  a.size = s.Int(4);
  a.content_type = s.Text(5);
  a.created_at = s.Int(6);
  a.created_by = s.Text(7);
  return a;
}

class SqliteArtifacts : public ArtifactRepository {
 public:
  explicit SqliteArtifacts(SqliteConn* c) : c_(c) {}
  absl::StatusOr<Artifact> Put(const Artifact& a) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "INSERT INTO artifacts (project_id, name, sha256, size, content_type, created_at, "
            "created_by) VALUES (?,?,?,?,?,?,?) ON CONFLICT (project_id, name) DO UPDATE SET "
            "sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type, "
            "created_at = excluded.created_at, created_by = excluded.created_by"));
    st.Bind(1, a.project_id).Bind(2, a.name).Bind(3, a.sha256).Bind(4, a.size);
    st.Bind(5, a.content_type).Bind(6, a.created_at).Bind(7, a.created_by);
    RETURN_IF_ERROR(st.Run());
    ASSIGN_OR_RETURN(auto found, Find(a.project_id, a.name));
    if (!found) return absl::InternalError("artifact vanished after insert");
    return *found;
  }
  absl::StatusOr<std::optional<Artifact>> Find(int64_t project_id,
                                               absl::string_view name) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat("SELECT ", kArtifactCols,
                                          " FROM artifacts WHERE project_id = ? AND name = ?")));
    st.Bind(1, project_id).Bind(2, name);
    return FirstRow<Artifact>(st, ReadArtifact);
  }
  absl::StatusOr<std::vector<Artifact>> List(int64_t project_id,
                                             absl::string_view prefix) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kArtifactCols,
                                              " FROM artifacts WHERE project_id = ? AND "
                                              "substr(name, 1, length(?2)) = ?2 ORDER BY name")));
    st.Bind(1, project_id).Bind(2, prefix);
    return CollectRows<Artifact>(st, ReadArtifact);
  }
  absl::Status Delete(int64_t project_id, absl::string_view name) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("DELETE FROM artifacts WHERE project_id = ? AND name = ?"));
    st.Bind(1, project_id).Bind(2, name);
    return st.Run();
  }

 private:
  SqliteConn* c_;
};

class SqliteTransaction : public Transaction {
 public:
  explicit SqliteTransaction(SqliteConn* c)
      : c_(c),
        users_(c),
        tokens_(c),
        projects_(c),
        members_(c),
        audit_(c),
        artifacts_(c),
        datasets_(nullptr),
        tracking_(nullptr) {}
  UserRepository& users() override { return users_; }
  TokenRepository& tokens() override { return tokens_; }
  ProjectRepository& projects() override { return projects_; }
  MemberRepository& members() override { return members_; }
  AuditRepository& audit() override { return audit_; }
  ArtifactRepository& artifacts() override { return artifacts_; }
  // Created on first use: most transactions (token checks) never need them.
  DatasetRepository& datasets() override {
    if (!datasets_) datasets_ = NewSqliteDatasets(c_);
    return *datasets_;
  }
  TrackingRepository& tracking() override {
    if (!tracking_) tracking_ = NewSqliteTracking(c_);
    return *tracking_;
  }
  JobRepository& jobs() override {
    if (!jobs_) jobs_ = NewSqliteJobs(c_);
    return *jobs_;
  }
  RegistryRepository& registry() override {
    if (!registry_) registry_ = NewSqliteRegistry(c_);
    return *registry_;
  }
  EndpointRepository& endpoints() override {
    if (!endpoints_) endpoints_ = NewSqliteEndpoints(c_);
    return *endpoints_;
  }
  MonitoringRepository& monitoring() override {
    if (!monitoring_) monitoring_ = NewSqliteMonitoring(c_);
    return *monitoring_;
  }
  absl::StatusOr<std::vector<std::string>> ReferencedBlobs() override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT DISTINCT sha256 FROM blob_refs"));
    std::vector<std::string> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(st.Text(0));
    }
    return out;
  }

 private:
  SqliteConn* c_;
  SqliteUsers users_;
  SqliteTokens tokens_;
  SqliteProjects projects_;
  SqliteMembers members_;
  SqliteAudit audit_;
  SqliteArtifacts artifacts_;
  std::unique_ptr<DatasetRepository> datasets_;
  std::unique_ptr<JobRepository> jobs_;
  std::unique_ptr<RegistryRepository> registry_;
  std::unique_ptr<EndpointRepository> endpoints_;
  std::unique_ptr<MonitoringRepository> monitoring_;
  std::unique_ptr<TrackingRepository> tracking_;
};

struct PendingWrite {
  explicit PendingWrite(absl::FunctionRef<absl::Status(Transaction&)> f) : fn(f) {}
  absl::FunctionRef<absl::Status(Transaction&)> fn;
  absl::Status result;
  bool done = false;
  // Set for WriteAsync: the write owns its function and is told the result by callback.
  std::function<void(absl::Status)> on_done;
};

// The function of an asynchronous write lives in the first base, so it exists before
// PendingWrite refers to it.
struct OwnedWriteFn {
  std::function<absl::Status(Transaction&)> owned;
};
struct AsyncWrite : OwnedWriteFn, PendingWrite {
  explicit AsyncWrite(std::function<absl::Status(Transaction&)> f)
      : OwnedWriteFn{std::move(f)}, PendingWrite(owned) {}
};

class SqliteStore : public MetadataStore {
 public:
  explicit SqliteStore(MetadataStoreOptions options) : options_(std::move(options)) {}
  ~SqliteStore() override { Close(); }

  absl::Status Open() {
    ASSIGN_OR_RETURN(writer_, SqliteConn::Open(options_.path, false, options_.busy_timeout_ms));
    RETURN_IF_ERROR(writer_->Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(writer_->Exec(options_.sync_full ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(writer_->Exec("PRAGMA foreign_keys=ON"));
    // A larger page cache and fewer, larger checkpoints: metric logging writes many small
    // rows, and re-reading and copying pages is what costs on small machines.
    RETURN_IF_ERROR(writer_->Exec("PRAGMA cache_size=-65536"));
    RETURN_IF_ERROR(writer_->Exec("PRAGMA wal_autocheckpoint=8192"));
    RETURN_IF_ERROR(Migrate());
    committer_ = std::thread([this] { CommitterLoop(); });
    return absl::OkStatus();
  }

  absl::Status Read(absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteConn> conn, AcquireReader());
    absl::Status s = conn->Exec("BEGIN");
    if (s.ok()) {
      SqliteTransaction tx(conn.get());
      s = Guarded(fn, tx);
      absl::Status end = conn->Exec("COMMIT");
      if (s.ok()) s = end;
    }
    ReleaseReader(std::move(conn));
    return s;
  }

  // Group commit: concurrent writers queue up; one of them (the leader) runs the queued
  // functions in a single transaction, each inside its own SAVEPOINT so a failing function
  // rolls back only its own changes, and commits once. Every caller returns only after the
  // commit that holds its changes, so each write is as durable as before at a fraction of the
  // fsyncs under load.
  absl::Status Write(absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    PendingWrite me{fn};
    std::vector<PendingWrite*> batch;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_.push_back(&me);
      // Wait until a leader has run this write, or until no leader is running.
      struct WaitArg {
        PendingWrite* me;
        bool* leader;
      } arg{&me, &leader_};
      queue_mu_.Await(absl::Condition(
          +[](WaitArg* a) { return a->me->done || !*a->leader; }, &arg));
      if (me.done) return me.result;
      leader_ = true;
      batch.swap(queue_);
    }
    LeadBatch(batch, /*on_committer=*/false);
    return me.result;
  }

  void WriteAsync(std::function<absl::Status(Transaction&)> fn,
                  std::function<void(absl::Status)> done) override {
    auto* w = new AsyncWrite(std::move(fn));
    w->on_done = std::move(done);
    {
      absl::MutexLock lock(&queue_mu_);
      if (!stop_committer_) {
        queue_.push_back(w);
        return;
      }
    }
    w->on_done(absl::UnavailableError("metadata store is closed"));
    delete w;
  }

  int SchemaVersion() const override { return schema_version_; }

  absl::Status CheckIntegrity() override {
    absl::MutexLock lock(&write_mu_);
    if (writer_ == nullptr) return absl::UnavailableError("metadata store is closed");
    ASSIGN_OR_RETURN(auto st, writer_->Prepare("PRAGMA integrity_check"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Text(0) != "ok") {
      return absl::DataLossError(absl::StrCat("integrity check failed: ", row ? st.Text(0) : ""));
    }
    ASSIGN_OR_RETURN(auto fk, writer_->Prepare("PRAGMA foreign_key_check"));
    ASSIGN_OR_RETURN(bool bad, fk.Step());
    if (bad)
      return absl::DataLossError(absl::StrCat("foreign key violation in table ", fk.Text(0)));
    return absl::OkStatus();
  }

  void Close() override {
    StopCommitter();
    {
      absl::MutexLock lock(&pool_mu_);
      readers_.clear();
      closed_ = true;
    }
    absl::MutexLock lock(&write_mu_);
    if (writer_ != nullptr) {
      (void)writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
      writer_.reset();
    }
  }

 private:
  absl::Status Migrate() {
    int current = 0;
    {
      ASSIGN_OR_RETURN(auto st, writer_->Prepare("PRAGMA user_version"));
      ASSIGN_OR_RETURN(bool row, st.Step());
      current = row ? static_cast<int>(st.Int(0)) : 0;
    }
    int latest = LatestSchemaVersion();
    if (current > latest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database '", options_.path, "' has schema version ", current, " but this Kade (", latest,
          ") only knows versions up to ", latest,
          "; it was written by a newer Kade. Run that version, or restore a backup made "
          "before the upgrade"));
    }
    for (const Migration& m : Migrations()) {
      if (m.version <= current) continue;
      RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
      absl::Status s = writer_->Exec(m.sql);
      if (s.ok()) s = writer_->Exec(absl::StrCat("PRAGMA user_version = ", m.version));
      if (s.ok()) s = writer_->Exec("COMMIT");
      if (!s.ok()) {
        (void)writer_->Exec("ROLLBACK");
        return absl::Status(s.code(), absl::StrCat("migration ", m.version, " (", m.description,
                                                   ") failed: ", s.message()));
      }
      current = m.version;
    }
    schema_version_ = current;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<SqliteConn>> AcquireReader() {
    {
      absl::MutexLock lock(&pool_mu_);
      if (closed_) return absl::UnavailableError("metadata store is closed");
      if (!readers_.empty()) {
        auto c = std::move(readers_.back());
        readers_.pop_back();
        return c;
      }
    }
    ASSIGN_OR_RETURN(auto conn, SqliteConn::Open(options_.path, false, options_.busy_timeout_ms));
    RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=ON"));
    // Listings read whole indexes (every version of a project's models): a reader keeps up
    // to 16 MiB of pages instead of SQLite's 2 MiB, and reads the database file through a
    // memory map instead of a copy per page.
    RETURN_IF_ERROR(conn->Exec("PRAGMA cache_size=-16384"));
    RETURN_IF_ERROR(conn->Exec("PRAGMA mmap_size=268435456"));
    return conn;
  }

  void ReleaseReader(std::unique_ptr<SqliteConn> conn) {
    absl::MutexLock lock(&pool_mu_);
    if (!closed_ && static_cast<int>(readers_.size()) < options_.max_readers) {
      readers_.push_back(std::move(conn));
    }
  }

  // A write function that throws fails alone, as an Internal error: the exception must not
  // leave the transaction open or the leader flag set (every later write would wait forever).
  static absl::Status Guarded(absl::FunctionRef<absl::Status(Transaction&)> fn, Transaction& tx) {
    try {
      return fn(tx);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("write failed with an unexpected error: ", e.what()));
    } catch (...) {
      return absl::InternalError("write failed with an unexpected non-standard exception");
    }
  }

  // Runs a batch as the leader, then releases the synchronous writers in it. Asynchronous
  // writers are told their results on the committer thread, as WriteAsync promises: directly
  // when the committer led, otherwise through completed_.
  void LeadBatch(std::vector<PendingWrite*>& batch, bool on_committer) {
    // Whatever happens in RunBatch, the batch is finished and the leader flag cleared.
    struct Release {
      SqliteStore* self;
      std::vector<PendingWrite*>& batch;
      bool on_committer;
      std::vector<PendingWrite*> async;
      ~Release() {
        {
          absl::MutexLock lock(&self->queue_mu_);
          for (PendingWrite* p : batch) {
            if (p->on_done) {
              if (on_committer) {
                async.push_back(p);
              } else {
                self->completed_.push_back(p);
              }
            } else {
              p->done = true;
            }
          }
          self->leader_ = false;
        }
        Complete(async);
      }
    } release{this, batch, on_committer, {}};
    try {
      RunBatch(batch);
    } catch (const std::exception& e) {
      for (PendingWrite* p : batch) {
        p->result = absl::InternalError(absl::StrCat("commit failed: ", e.what()));
      }
    }
  }

  static void Complete(const std::vector<PendingWrite*>& async) {
    for (PendingWrite* p : async) {
      try {
        p->on_done(p->result);
      } catch (...) {
        // A callback's exception is its own; the committer keeps going.
      }
      delete static_cast<AsyncWrite*>(p);
    }
  }

  // Leads the batches that hold asynchronous writes when no synchronous writer is leading,
  // and delivers the results of asynchronous writes that a synchronous leader committed.
  void CommitterLoop() {
    for (;;) {
      std::vector<PendingWrite*> batch, completed;
      {
        absl::MutexLock lock(&queue_mu_);
        queue_mu_.Await(absl::Condition(
            +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
              return s->stop_committer_ || !s->completed_.empty() ||
                     (!s->queue_.empty() && !s->leader_);
            },
            this));
        completed.swap(completed_);
        if (completed.empty()) {
          if (queue_.empty() || leader_) return;  // stopping, and nothing left to do
          leader_ = true;
          batch.swap(queue_);
        }
      }
      if (!completed.empty()) {
        Complete(completed);
        continue;
      }
      LeadBatch(batch, /*on_committer=*/true);
    }
  }

  void StopCommitter() {
    {
      absl::MutexLock lock(&queue_mu_);
      if (committer_stopped_) return;
      stop_committer_ = true;
      // Whatever is queued still gets committed (or refused) and told before the thread ends.
      queue_mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
            return s->queue_.empty() && s->completed_.empty() && !s->leader_;
          },
          this));
      committer_stopped_ = true;
    }
    if (committer_.joinable()) committer_.join();
  }

  void RunBatch(const std::vector<PendingWrite*>& batch) {
    absl::MutexLock lock(&write_mu_);
    if (writer_ == nullptr) {
      for (PendingWrite* p : batch) p->result = absl::UnavailableError("metadata store is closed");
      return;
    }
    absl::Status begin = writer_->Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      for (PendingWrite* p : batch) p->result = begin;
      return;
    }
    SqliteTransaction tx(writer_.get());
    bool any_ok = false;
    for (PendingWrite* p : batch) {
      absl::Status sp = writer_->Exec("SAVEPOINT w");
      if (sp.ok()) {
        p->result = Guarded(p->fn, tx);
        if (!p->result.ok()) (void)writer_->Exec("ROLLBACK TO w");
        sp = writer_->Exec("RELEASE w");
      }
      if (!sp.ok() && p->result.ok()) p->result = sp;
      any_ok = any_ok || p->result.ok();
    }
    absl::Status commit = any_ok ? writer_->Exec("COMMIT") : writer_->Exec("ROLLBACK");
    if (!commit.ok()) {
      (void)writer_->Exec("ROLLBACK");
      for (PendingWrite* p : batch) {
        if (p->result.ok()) p->result = commit;
      }
    }
  }

  MetadataStoreOptions options_;
  absl::Mutex queue_mu_;
  std::vector<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  // Asynchronous writes committed by a synchronous leader, for the committer to tell.
  std::vector<PendingWrite*> completed_ ABSL_GUARDED_BY(queue_mu_);
  bool leader_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool stop_committer_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool committer_stopped_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread committer_;
  absl::Mutex write_mu_;
  std::unique_ptr<SqliteConn> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<SqliteConn>> readers_ ABSL_GUARDED_BY(pool_mu_);
  bool closed_ ABSL_GUARDED_BY(pool_mu_) = false;
  int schema_version_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::OpenSqlite(
    const MetadataStoreOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace kade
