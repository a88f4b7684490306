// kade serve: a serving replica. It mirrors one project's endpoints, models, versions and
// aliases from a Kade server (the registry) over its REST API into a local cache directory,
// serves the endpoints there (predict and the Open Inference Protocol) and forwards its
// prediction log back. Alias moves and split changes on the server reach the replica within
// its sync interval; the local serving manager swaps versions the usual way (load, then
// swap), so replicas behind any load balancer roll out without dropping requests.
//
// Callers use their tokens for the server: the replica verifies an unknown token with the
// server (who it is, its role in the project) and keeps the answer for 30 seconds, so a
// revoked token stops working on replicas within that time.
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/static_files.h"
#include "cli/client.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/platform.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

struct ServeOptions {
  std::string url, token, project, data_dir = "./kade-serve-data", addr = "127.0.0.1:8090";
  std::string port_file;
  int threads = 0;
  int sync_s = 2;
};

class Replica {
 public:
  Replica(Platform* p, ServeOptions o) : p_(p), o_(std::move(o)) {}

  // Calls to the server are given up after 15 s (model files: 60 s), so a hanging server
  // delays a token check, a sync or a shutdown by at most that.
  static constexpr int kCallTimeoutS = 15;

  absl::StatusOr<Json> Get(const std::string& path, const std::string& token = "") {
    ASSIGN_OR_RETURN(
        RawResponse r,
        HttpRequestRaw(o_.url, "GET", path, "", token.empty() ? o_.token : token, kCallTimeoutS));
    RETURN_IF_ERROR(StatusFromResponse(r));
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded()) return absl::DataLossError(absl::StrCat("GET ", path, ": not JSON"));
    return j;
  }

  // Mirrors the project's models, versions, aliases and endpoints into the local store.
  absl::Status SyncOnce() {
    const std::string base = "/api/v1/projects/" + o_.project;
    ASSIGN_OR_RETURN(Json eps, Get(base + "/endpoints"));
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
      return absl::OkStatus();
    }));
    std::set<std::string> models;
    for (const auto& e : eps["endpoints"]) models.insert(e["model"].get<std::string>());
    std::map<std::string, int64_t> model_ids;
    for (const auto& name : models) {
      ASSIGN_OR_RETURN(Json m, Get(base + "/models/" + name));
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
        }
        ASSIGN_OR_RETURN(have, tx.registry().ListVersions(local->id));
        return absl::OkStatus();
      }));
      model_ids[name] = local->id;
      // Versions are numbered in order on both sides: every version is mirrored, oldest
      // first, with its model file.
      std::vector<int64_t> remote;
      for (const auto& v : m["versions"]) remote.push_back(v["version"].get<int64_t>());
      std::sort(remote.begin(), remote.end());
      for (int64_t n : remote) {
        if (static_cast<size_t>(n) <= have.size()) continue;
        ASSIGN_OR_RETURN(Json v, Get(base + "/models/" + name + "/versions/" + std::to_string(n)));
        const std::string path = v["manifest"].value("model_path", std::string());
        ASSIGN_OR_RETURN(RawResponse file,
                         HttpRequestRaw(o_.url, "GET", base + "/artifacts/" + path, "", o_.token));
        RETURN_IF_ERROR(StatusFromResponse(file));
        if (Sha256Hex(file.body) != v["model_sha256"].get<std::string>()) {
          return absl::DataLossError(
              absl::StrCat("model file of ", name, " v", n, " does not match its hash"));
        }
        ASSIGN_OR_RETURN(auto up, p_->artifacts->BeginUpload(project, path, "application/json"));
        RETURN_IF_ERROR(up->Append(file.body));
        RETURN_IF_ERROR(up->Finish(SystemContext("replica")).status());
        ModelVersion mv;
        mv.model_id = local->id;
        mv.source = v["source"].get<std::string>();
        mv.run_uuid = v["run_id"].get<std::string>();
        mv.model_sha256 = v["model_sha256"].get<std::string>();
        mv.manifest = v["manifest"].dump();
        mv.status = v["status"].get<std::string>();
        mv.created_at = NowMillis();
        RETURN_IF_ERROR(p_->store->Write([&](Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(ModelVersion created, tx.registry().CreateVersion(mv));
          if (created.version != n) {
            return absl::InternalError(
                absl::StrCat("mirrored ", name, " v", n, " as v", created.version));
          }
          return absl::OkStatus();
        }));
        spdlog::info("replica: mirrored {} version {}", name, n);
      }
      RETURN_IF_ERROR(p_->store->Write([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(local->id));
        std::map<std::string, int64_t> mine;
        for (const auto& a : aliases) mine[a.alias] = a.version;
        for (auto it = m["aliases"].begin(); it != m["aliases"].end(); ++it) {
          int64_t v = it.value().get<int64_t>();
          if (mine.count(it.key()) && mine[it.key()] == v) continue;
          RETURN_IF_ERROR(tx.registry().SetAlias(local->id, it.key(), v, "replica", NowMillis()));
        }
        for (const auto& [a, v] : mine) {
          if (!m["aliases"].contains(a)) {
            RETURN_IF_ERROR(
                tx.registry().SetAlias(local->id, a, std::nullopt, "replica", NowMillis()));
          }
        }
        return absl::OkStatus();
      }));
    }
    return p_->store->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto local, tx.endpoints().List(project.id));
      std::map<std::string, Endpoint> mine;
      for (auto& e : local) mine[e.name] = e;
      for (const auto& e : eps["endpoints"]) {
        const std::string name = e["name"].get<std::string>();
        const std::string config = e["config"].dump();
        auto it = mine.find(name);
        if (it == mine.end()) {
          Endpoint ne;
          ne.project_id = project.id;
          ne.name = name;
          ne.model_id = model_ids[e["model"].get<std::string>()];
          ne.config = config;
          ne.description = e.value("description", "");
          ne.created_at = ne.updated_at = NowMillis();
          RETURN_IF_ERROR(tx.endpoints().Create(ne).status());
        } else if (it->second.config != config) {
          it->second.config = config;
          it->second.updated_at = NowMillis();
          RETURN_IF_ERROR(tx.endpoints().Update(it->second));
        }
        mine.erase(name);
      }
      for (const auto& [name, e] : mine) RETURN_IF_ERROR(tx.endpoints().Delete(e.id));
      return absl::OkStatus();
    });
  }

  // Whether EnsureToken would ask the server about this request's token (not checked in
  // the last 30 s, and its address not throttled).
  bool WouldCheck(const HttpRequest& req) {
    if (!absl::StartsWith(req.authorization, "Bearer ")) return false;
    const std::string hash = Sha256Hex(req.authorization.substr(7));
    absl::MutexLock l(&mu_);
    auto it = checked_.find(hash);
    if (it != checked_.end() && NowMillis() - it->second < 30000) return false;
    auto f = failures_.find(req.remote);
    return !(f != failures_.end() && NowMillis() - f->second.second < 60000 &&
             f->second.first >= 10);
  }

  // Makes a caller's token known locally: verified with the server (who, and the role in
  // the project), kept 30 s; a token the server refuses is revoked here. The local
  // project and role cache is dropped after a change, as the server's own services do.
  void EnsureToken(const HttpRequest& req) {
    if (!absl::StartsWith(req.authorization, "Bearer ")) return;
    const std::string secret = req.authorization.substr(7);
    const std::string hash = Sha256Hex(secret);
    {
      absl::MutexLock l(&mu_);
      auto it = checked_.find(hash);
      if (it != checked_.end() && NowMillis() - it->second < 30000) return;
      // An address that keeps sending tokens the server refuses is not relayed to it (that
      // would let it get the replica throttled there); its calls fail here with 401.
      auto f = failures_.find(req.remote);
      if (f != failures_.end() && NowMillis() - f->second.second < 60000 && f->second.first >= 10) {
        return;
      }
    }
    auto who = Get("/api/v1/whoami", secret);
    std::optional<Role> role;
    if (who.ok()) {
      auto proj = Get("/api/v1/projects/" + o_.project, secret);
      if (proj.ok() && proj->contains("role") && (*proj)["role"].is_string()) {
        role = ParseRole((*proj)["role"].get<std::string>());
      }
    }
    if (!who.ok() && !absl::IsUnauthenticated(who.status())) {
      return;  // server unreachable: keep what we have
    }
    if (!who.ok()) {
      absl::MutexLock l(&mu_);
      auto& [count, since] = failures_[req.remote];
      if (NowMillis() - since >= 60000) count = 0, since = NowMillis();
      ++count;
    }
    absl::Status s = p_->store->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto existing, tx.tokens().FindByHash(hash));
      if (!who.ok()) {
        if (existing && !existing->revoked_at)
          RETURN_IF_ERROR(tx.tokens().Revoke(existing->id, NowMillis()));
        return absl::OkStatus();
      }
      const std::string user_name = (*who)["name"].get<std::string>();
      ASSIGN_OR_RETURN(auto user, tx.users().FindByName(user_name));
      if (!user) {
        User u;
        u.name = user_name;
        u.is_admin = who->value("admin", false);  // platform admins see every project
        u.created_at = NowMillis();
        ASSIGN_OR_RETURN(u, tx.users().Create(u));
        user = u;
      }
      ASSIGN_OR_RETURN(auto project, tx.projects().FindByName(o_.project));
      if (!project) return absl::FailedPreconditionError("project not mirrored yet");
      // A valid token without a role in the project reads as no such project (404), as on
      // the server.
      if (role) {
        RETURN_IF_ERROR(tx.members().Upsert(project->id, user->id, *role, NowMillis()));
      } else {
        RETURN_IF_ERROR(tx.members().Remove(project->id, user->id));
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
    if (!s.ok()) {
      spdlog::warn("replica: token check: {}", s.ToString());
      return;
    }
    absl::MutexLock l(&mu_);
    checked_[hash] = NowMillis();
  }

  // Sends the local prediction log to the server, oldest first.
  absl::Status ForwardLog() {
    std::vector<Endpoint> eps;
    RETURN_IF_ERROR(p_->store->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(eps, tx.endpoints().ListAll());
      return absl::OkStatus();
    }));
    p_->serving->FlushLog();
    for (const auto& e : eps) {
      const PredictionLog::Key key = PredictionLog::Key::Of(e);
      for (;;) {
        ASSIGN_OR_RETURN(std::vector<PredictionRecord> rows,
                         p_->predictions->After(key, forwarded_[e.id], 5000));
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
        Json body{{"records", records}, {"replica", o_.addr}};
        ASSIGN_OR_RETURN(RawResponse resp,
                         HttpRequestRaw(o_.url, "POST",
                                        "/api/v1/projects/" + o_.project + "/endpoints/" + e.name +
                                            "/predictions",
                                        body.dump(), o_.token, kCallTimeoutS));
        RETURN_IF_ERROR(StatusFromResponse(resp));
        // The server has them: the local log is only a buffer.
        forwarded_[e.id] = rows.back().id;
        RETURN_IF_ERROR(p_->predictions->ForwardedThrough(key, rows.back().id));
      }
    }
    return absl::OkStatus();
  }

 private:
  Platform* p_;
  ServeOptions o_;
  absl::Mutex mu_;
  std::map<std::string, int64_t> checked_ ABSL_GUARDED_BY(mu_);
  // Remote address -> (refused tokens, start of the minute they were counted in).
  std::map<std::string, std::pair<int, int64_t>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, int64_t> forwarded_;  // endpoint id -> last forwarded log row
};

int RunServe(ServeOptions o) {
  if (o.url.empty() || o.token.empty() || o.project.empty()) {
    return Report(absl::InvalidArgumentError(
        "give --url, --token and --project (or KADE_URL, KADE_TOKEN, KADE_PROJECT)"));
  }
  ServerConfig cfg;
  cfg.data_dir = o.data_dir;
  cfg.addr = o.addr;
  cfg.threads = o.threads;
  cfg.job_workers = 0;
  if (auto s = InitLogging(cfg.log_level, cfg.access_log); !s.ok()) return Report(s);
  std::string host;
  uint16_t port = 0;
  if (auto s = cfg.ParseAddr(&host, &port); !s.ok()) return Report(s);
  absl::StatusOr<std::unique_ptr<Platform>> platform = Platform::Open(cfg);
  if (!platform.ok()) return Report(platform.status());
  Platform* p = platform->get();
  Replica replica(p, o);
  if (auto s = replica.SyncOnce(); !s.ok()) {
    return Report(
        absl::Status(s.code(), absl::StrCat("first sync with ", o.url, ": ", s.message())));
  }
  Metrics metrics;
  StaticFiles ui("");
  Router router(p);
  router.before_admit = [&](const HttpRequest& req) { replica.EnsureToken(req); };
  router.before_admit_blocks = [&](const HttpRequest& req) { return replica.WouldCheck(req); };
  HttpServerOptions so;
  so.host = host;
  so.port = port;
  so.threads = cfg.threads;
  so.max_body_bytes = cfg.max_body_bytes;
  HttpServer server(so, &router, &metrics, &ui);
  RegisterSystemRoutes(router, &metrics, &server);
  RegisterServingRoutes(router);
  if (auto s = server.Listen(); !s.ok()) return Report(s);
  if (!o.port_file.empty()) std::ofstream(o.port_file) << server.port() << "\n";
  p->serving->Start();
  std::atomic<bool> stop{false};
  std::thread sync([&] {
    NameThread("kade-sync");
    while (!stop) {
      for (int i = 0; i < o.sync_s * 10 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stop) break;
      if (auto s = replica.SyncOnce(); !s.ok()) spdlog::warn("replica: sync: {}", s.ToString());
      if (auto s = replica.ForwardLog(); !s.ok()) spdlog::warn("replica: log: {}", s.ToString());
    }
  });
  std::cout << "kade serve: replica of " << o.url << " project " << o.project << " on http://"
            << host << ":" << server.port() << std::endl;
  server.Run();
  stop = true;
  sync.join();
  if (auto s = replica.ForwardLog(); !s.ok()) spdlog::warn("replica: log: {}", s.ToString());
  p->Close();
  FlushLogs();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  static ServeOptions o;
  auto* cmd =
      app.add_subcommand("serve", "Serve a project's endpoints as a replica of a Kade server");
  cmd->add_option("--url", o.url, "The Kade server holding the registry")->envname("KADE_URL");
  cmd->add_option("--token", o.token, "A token of the server (editor in the project)")
      ->envname("KADE_TOKEN");
  cmd->add_option("--project,-p", o.project, "Project whose endpoints to serve")
      ->envname("KADE_PROJECT");
  cmd->add_option("--addr", o.addr, "Listen address HOST:PORT")->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "Local cache of models and the prediction log")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Event-loop threads (0: one per core)");
  cmd->add_option("--sync", o.sync_s, "Seconds between syncs with the server")
      ->capture_default_str();
  cmd->add_option("--port-file", o.port_file, "Write the port here once listening");
  cmd->callback([exit_code] { *exit_code = RunServe(o); });
}

}  // namespace kade
