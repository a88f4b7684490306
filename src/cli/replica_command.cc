// kade replica (formerly kade serve): runs a serving replica of one project of a Kade
// server. The replica itself is platform/replica_service.h; this file is the command, its
// options and the server connection over HTTP.
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
#include "core/memory.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/platform.h"
#include "platform/replica_service.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

struct ReplicaCommandOptions {
  std::string url, token, project, data_dir = "./kade-replica-data", addr = "127.0.0.1:8090";
  std::string port_file;
  int threads = 0;
  int sync_s = 2;
  int token_ttl_s = 30;
};

// The server over HTTP. Calls are given up after 15 s (model files: 60 s), so a hanging
// server delays a token check, a sync or a shutdown by at most that.
class HttpUpstream : public Upstream {
 public:
  HttpUpstream(std::string url, std::string token)
      : url_(std::move(url)), token_(std::move(token)) {}
  static constexpr int kCallTimeoutS = 15;

  absl::StatusOr<Json> GetJson(const std::string& path, const std::string& token) override {
    ASSIGN_OR_RETURN(std::string body, Call("GET", path, "", token, kCallTimeoutS));
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded()) return absl::DataLossError(absl::StrCat("GET ", path, ": not JSON"));
    return j;
  }
  absl::StatusOr<std::string> GetBytes(const std::string& path) override {
    return Call("GET", path, "", "", 60);
  }
  absl::StatusOr<Json> PostJson(const std::string& path, const Json& body) override {
    ASSIGN_OR_RETURN(std::string out, Call("POST", path, body.dump(), "", kCallTimeoutS));
    return ParseJsonOr(out, Json());
  }
  std::string Describe() const override { return url_; }

 private:
  absl::StatusOr<std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body, const std::string& token,
                                   int timeout_s) {
    absl::StatusOr<RawResponse> r =
        HttpRequestRaw(url_, method, path, body, token.empty() ? token_ : token, timeout_s);
    if (!r.ok()) {
      return absl::UnavailableError(
          absl::StrCat(method, " ", url_, path, ": ", r.status().message()));
    }
    if (r->status == 429 || r->status >= 500) {
      return absl::UnavailableError(StatusFromResponse(*r).message());
    }
    RETURN_IF_ERROR(StatusFromResponse(*r));
    return std::move(r->body);
  }
  std::string url_, token_;
};

int RunReplica(ReplicaCommandOptions o, bool deprecated_name) {
  // `kade serve` kept its cache in ./kade-serve-data: the deprecated name keeps finding it
  // (with any prediction log not yet forwarded).
  if (deprecated_name && o.data_dir == "./kade-replica-data") o.data_dir = "./kade-serve-data";
  if (o.url.empty() || o.token.empty() || o.project.empty()) {
    return Report(absl::InvalidArgumentError(
        "give --url, --token and --project (or KADE_URL, KADE_TOKEN, KADE_PROJECT)"));
  }
  ServerConfig cfg;
  cfg.data_dir = o.data_dir;
  cfg.addr = o.addr;
  cfg.threads = o.threads;
  cfg.job_workers = 0;
  std::string host;
  uint16_t port = 0;
  absl::StatusOr<std::unique_ptr<Platform>> platform = OpenServingProcess(cfg, &host, &port);
  if (!platform.ok()) return Report(platform.status());
  MemoryReclaimer reclaimer;  // freed memory goes back to the system every 10 s
  Platform* p = platform->get();
  HttpUpstream upstream(o.url, o.token);
  ReplicaOptions ro;
  ro.project = o.project;
  ro.listen = o.addr;
  ro.token_ttl_s = o.token_ttl_s;
  ReplicaService replica(p, &upstream, ro);
  if (auto s = replica.SyncOnce(); !s.ok()) {
    return Report(
        absl::Status(s.code(), absl::StrCat("first sync with ", o.url, ": ", s.message())));
  }
  Metrics metrics;
  StaticFiles ui("");
  Router router(p);
  router.set_authenticator(&replica);
  HttpServerOptions so;
  so.host = host;
  so.port = port;
  so.threads = cfg.threads;
  so.max_body_bytes = cfg.max_body_bytes;
  HttpServer server(so, &router, &metrics, &ui);
  RegisterSystemRoutes(router, &metrics, &server);
  RegisterReplicaRoutes(router, &replica);
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
      // What was collected goes back before the sync, which may delete an endpoint.
      if (auto s = replica.ForwardLog(); !s.ok()) spdlog::warn("replica: log: {}", s.ToString());
      if (auto s = replica.ForwardFeedback(); !s.ok()) {
        spdlog::warn("replica: feedback: {}", s.ToString());
      }
      if (auto s = replica.SyncOnce(); !s.ok()) spdlog::warn("replica: sync: {}", s.ToString());
    }
  });
  std::cout << "kade replica: replica of " << o.url << " project " << o.project << " on http://"
            << host << ":" << server.port() << std::endl;
  server.Run();
  stop = true;
  sync.join();
  if (auto s = replica.ForwardLog(); !s.ok()) spdlog::warn("replica: log: {}", s.ToString());
  if (auto s = replica.ForwardFeedback(); !s.ok()) {
    spdlog::warn("replica: feedback: {}", s.ToString());
  }
  p->Close();
  FlushLogs();
  return 0;
}

}  // namespace

void AddReplicaCommand(CLI::App& app, int* exit_code) {
  static ReplicaCommandOptions o;
  auto add = [&](const char* name, const char* help) {
    auto* cmd = app.add_subcommand(name, help);
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
    cmd->add_option("--token-ttl", o.token_ttl_s,
                    "Seconds a caller's token and role are trusted before asking the server again")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    cmd->add_option("--port-file", o.port_file, "Write the port here once listening");
    return cmd;
  };
  add("replica", "Serve a project's endpoints as a replica of a Kade server")
      ->callback([exit_code] { *exit_code = RunReplica(o, false); });
  add("serve", "Deprecated name of 'kade replica'")->callback([exit_code] {
    std::cerr << "kade serve is deprecated and will be removed: use 'kade replica'" << std::endl;
    *exit_code = RunReplica(o, true);
  });
}

}  // namespace kade
