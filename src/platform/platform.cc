#include "platform/platform.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace {
absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0750) != 0 && errno != EEXIST) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot create directory '", cur, "': ", std::strerror(errno)));
      }
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> Platform::Open(const ServerConfig& config) {
  RETURN_IF_ERROR(config.Validate());
  auto p = std::make_unique<Platform>();
  p->config = config;
  RETURN_IF_ERROR(MakeDirs(config.data_dir));
  MetadataStoreOptions mo;
  mo.path = config.DatabasePath();
  mo.sync_full = config.sqlite_sync_full;
  mo.max_readers = std::max(8, config.threads * 2);
  ASSIGN_OR_RETURN(p->store, MetadataStore::OpenSqlite(mo));
  ASSIGN_OR_RETURN(p->blobs, ArtifactStore::OpenLocal(config.ArtifactRoot()));
  p->audit = std::make_unique<AuditLog>(p->store.get());
  p->auth = std::make_unique<AuthService>(
      p->store.get(),
      AuthOptions{config.token_cache_ttl_s, config.auth_fail_limit, config.auth_fail_window_s});
  p->projects = std::make_unique<ProjectService>(p->store.get());
  p->artifacts =
      std::make_unique<ArtifactService>(p->store.get(), p->blobs.get(), config.max_upload_bytes);
  p->datasets = std::make_unique<DatasetService>(
      p->store.get(), p->blobs.get(),
      DatasetLimits{config.max_upload_bytes, config.max_decompressed_bytes});
  return p;
}

absl::Status Platform::SeedDemo() {
  bool empty = false;
  RETURN_IF_ERROR(store->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto all, tx.projects().ListAll());
    empty = all.empty();
    return absl::OkStatus();
  }));
  if (!empty) return absl::OkStatus();
  spdlog::info("seeding demo content (project 'demo', users alice, bob, carol)");
  RequestContext sys = SystemContext("demo-seed");
  ASSIGN_OR_RETURN(User admin, auth->GetUser("admin"));
  RequestContext as_admin = sys;
  as_admin.principal = Principal{admin.id, admin.name, true, 0};
  struct DemoUser {
    const char* name;
    const char* display;
    Role role;
  };
  const DemoUser people[] = {{"alice", "Alice (data scientist)", Role::kEditor},
                             {"bob", "Bob (ML engineer)", Role::kMaintainer},
                             {"carol", "Carol (analyst)", Role::kViewer}};
  for (const auto& d : people) {
    User u;
    u.name = d.name;
    u.display_name = d.display;
    u.email = absl::StrCat(d.name, "@example.com");
    RETURN_IF_ERROR(auth->CreateUser(as_admin, u).status());
  }
  ASSIGN_OR_RETURN(Project demo, projects->Create(as_admin, "demo",
                                                  "Customer churn: the demo project that walks "
                                                  "through the whole model lifecycle"));
  ASSIGN_OR_RETURN(ProjectView view, projects->Resolve(as_admin.principal, "demo"));
  for (const auto& d : people) {
    RETURN_IF_ERROR(projects->SetMember(as_admin, view, d.name, d.role).status());
  }
  RETURN_IF_ERROR(
      projects
          ->Create(as_admin, "fraud-detection", "Card transaction fraud scoring (empty for now)")
          .status());
  struct DemoFile {
    const char* name;
    const char* type;
    const char* body;
  };
  const DemoFile files[] = {
      {"README.md", "text/markdown",
       "# Demo project\n\nThis project is seeded by `kade server --demo`. It will hold the churn "
       "dataset, training runs, the registered model and its endpoint as those capabilities "
       "land.\n"},
      {"notes/problem-statement.txt", "text/plain",
       "Predict which subscribers will cancel in the next 30 days so that the retention team "
       "can contact them first.\n"},
      {"config/feature-list.json", "application/json",
       "{\"features\": [\"tenure_months\", \"plan\", \"monthly_charges\", \"support_calls\"], "
       "\"target\": \"churned\"}\n"},
  };
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(auto up, artifacts->BeginUpload(demo, f.name, f.type));
    RETURN_IF_ERROR(up->Append(f.body));
    RETURN_IF_ERROR(up->Finish(as_admin).status());
  }
  return absl::OkStatus();
}

}  // namespace kade
