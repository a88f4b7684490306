// kade server: opens the platform, bootstraps the admin, optionally seeds demo content,
// serves HTTP until SIGINT/SIGTERM, then closes the database cleanly.
#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/openapi.h"
#include "api/router.h"
#include "api/static_files.h"
#include "cli/client.h"
#include "core/config.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/status.h"
#include "core/version.h"
#include "platform/platform.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace {}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> OpenServingProcess(const ServerConfig& cfg,
                                                             std::string* host, uint16_t* port) {
  TuneAllocator(cfg.malloc_arenas);  // before any thread starts
  RETURN_IF_ERROR(InitLogging(cfg.log_level, cfg.access_log));
  RETURN_IF_ERROR(cfg.ParseAddr(host, port));
  return Platform::Open(cfg);
}

namespace {

int RunServer(const ServerConfig& cfg, const std::string& exe_path, const std::string& port_file) {
  std::string host;
  uint16_t port = 0;
  absl::StatusOr<std::unique_ptr<Platform>> platform = OpenServingProcess(cfg, &host, &port);
  if (!platform.ok()) return Report(platform.status());
  Platform* p = platform->get();
  absl::StatusOr<std::string> bootstrap =
      p->auth->Bootstrap(cfg.admin_token, cfg.reset_admin_token);
  if (!bootstrap.ok()) return Report(bootstrap.status());
  if (cfg.demo) {
    if (auto s = p->SeedDemo(); !s.ok()) return Report(s);
  }

  Metrics metrics;
  StaticFiles ui(FindUiDir(cfg.ui_dir, exe_path));
  Router router(p);
  HttpServerOptions so;
  so.host = host;
  so.port = port;
  so.threads = cfg.threads;
  so.max_body_bytes = cfg.max_body_bytes;
  so.max_upload_bytes = cfg.max_upload_bytes;
  so.read_timeout_s = cfg.read_timeout_s;
  so.write_timeout_s = cfg.write_timeout_s;
  so.idle_timeout_s = cfg.idle_timeout_s;
  so.shutdown_grace_s = cfg.shutdown_grace_s;
  HttpServer server(so, &router, &metrics, &ui);
  RegisterServerRoutes(router, &metrics, &server);

  if (auto s = server.Listen(); !s.ok()) return Report(s);
  std::string shown_host = host == "0.0.0.0" ? "127.0.0.1" : host;
  std::string url = "http://" + shown_host + ":" + std::to_string(server.port());
  if (!port_file.empty()) {
    std::ofstream(port_file) << server.port() << "\n";
  }
  spdlog::info("kade {} listening on {} (data: {}, schema v{}, UI: {})", kVersion, url,
               cfg.data_dir, p->store->SchemaVersion(), ui.dir().empty() ? "embedded" : ui.dir());
  std::cout << "\n  Kade is running at " << url << "\n";
  if (!bootstrap->empty()) {
    std::cout << "  Admin token (shown once, store it now): " << *bootstrap << "\n"
              << "  Sign in to the web UI with it, or run: kade login --url " << url << "\n";
  } else {
    std::cout
        << "  Sign in with your API token (the admin token was shown when this data\n"
        << "  directory was first used; `kade server --reset-admin-token` issues a new one).\n";
  }
  std::cout << "  Stop with Ctrl-C.\n" << std::endl;

  MemoryReclaimer reclaimer;  // freed memory goes back to the system every 10 s
  p->jobs->Start();
  if (cfg.monitoring) p->serving->SetObserver(p->monitoring.get());
  p->monitoring->Start();
  // Alert notifications go out over the project's HTTP client, 10 s per attempt at most.
  p->alerts->SetPoster([](const std::string& url,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::string& body) -> absl::StatusOr<int> {
    auto r = HttpRequestRaw(url, "POST", "", body, "", 10, headers);
    if (!r.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot deliver to ", url, ": ", r.status().message()));
    }
    return r->status;
  });
  p->alerts->Start(cfg.alert_interval_s);
  p->serving->Start();
  p->batch->Start();
  std::atomic<bool> stop_demo{false};
  std::thread demo_thread;
  if (p->demo_pending()) {
    demo_thread = std::thread([&] {
      if (absl::Status s = p->FinishDemo(stop_demo); !s.ok()) {
        spdlog::warn("demo: {}", s.ToString());
      } else if (!stop_demo) {
        spdlog::info("demo: models registered, endpoint churn-api serving");
      }
    });
  }
  server.Run();
  stop_demo = true;
  if (demo_thread.joinable()) demo_thread.join();
  p->Close();
  spdlog::info("stopped cleanly");
  FlushLogs();
  return 0;
}

}  // namespace

void AddOpenApiCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "openapi", "Print the OpenAPI 3.1 description of the server's API (no server needed)");
  cmd->callback([exit_code] {
    Router router(nullptr);
    RegisterServerRoutes(router, nullptr, nullptr);
    std::cout << OpenApiDocument(router).dump(2) << "\n";
    *exit_code = 0;
  });
}

void AddServerCommand(CLI::App& app, int* exit_code, const std::string& exe_path) {
  static ServerConfig cfg_storage{};
  auto* cfg = &cfg_storage;
  static std::string port_file_storage{};
  auto* port_file = &port_file_storage;
  static std::string sync_storage{"full"};
  auto* sync = &sync_storage;
  auto* srv = app.add_subcommand("server", "Run the Kade server");
  srv->add_option("--data-dir", cfg->data_dir, "Data directory")
      ->envname("KADE_DATA_DIR")
      ->capture_default_str();
  srv->add_option("--db", cfg->db, "SQLite database path (default: DATA_DIR/kade.db)")
      ->envname("KADE_DB");
  srv->add_option("--addr", cfg->addr, "Listen address HOST:PORT (port 0 = any free port)")
      ->envname("KADE_ADDR")
      ->capture_default_str();
  srv->add_option("--threads", cfg->threads, "Event-loop threads (0 = one per core)")
      ->envname("KADE_THREADS");
  srv->add_option("--max-body", cfg->max_body_bytes, "Largest JSON request body in bytes")
      ->envname("KADE_MAX_BODY")
      ->capture_default_str();
  srv->add_option("--max-upload", cfg->max_upload_bytes, "Largest streamed upload in bytes")
      ->envname("KADE_MAX_UPLOAD")
      ->capture_default_str();
  srv->add_option("--max-decompressed", cfg->max_decompressed_bytes,
                  "Largest decompressed size of a gzip/zstd dataset upload in bytes")
      ->envname("KADE_MAX_DECOMPRESSED")
      ->capture_default_str();
  srv->add_option("--max-columns", cfg->max_columns,
                  "Most columns a dataset upload may have (wider tables are refused)")
      ->envname("KADE_MAX_COLUMNS")
      ->capture_default_str();
  srv->add_option("--model-cache", cfg->model_cache_bytes,
                  "Bytes of model files that loaded versions no endpoint holds may keep in memory")
      ->envname("KADE_MODEL_CACHE")
      ->capture_default_str();
  srv->add_option("--malloc-arenas", cfg->malloc_arenas,
                  "Most allocator arenas (0: glibc's default of 8 per core); fewer hold less "
                  "freed memory")
      ->envname("KADE_MALLOC_ARENAS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  srv->add_option("--read-timeout", cfg->read_timeout_s, "Seconds to read a request")
      ->envname("KADE_READ_TIMEOUT");
  srv->add_option("--write-timeout", cfg->write_timeout_s, "Seconds to write a response")
      ->envname("KADE_WRITE_TIMEOUT");
  srv->add_option("--idle-timeout", cfg->idle_timeout_s, "Seconds a keep-alive connection may idle")
      ->envname("KADE_IDLE_TIMEOUT");
  srv->add_option("--shutdown-grace", cfg->shutdown_grace_s,
                  "Seconds to finish requests on shutdown")
      ->envname("KADE_SHUTDOWN_GRACE");
  srv->add_option("--admin-token", cfg->admin_token, "Bootstrap admin token (first start only)")
      ->envname("KADE_ADMIN_TOKEN");
  srv->add_option("--ui-dir", cfg->ui_dir, "Directory of the built web UI")->envname("KADE_UI_DIR");
  srv->add_option("--log-level", cfg->log_level, "trace, debug, info, warn, error")
      ->envname("KADE_LOG_LEVEL")
      ->capture_default_str();
  srv->add_option("--access-log", cfg->access_log, "stdout, off, or a file path")
      ->envname("KADE_ACCESS_LOG")
      ->capture_default_str();
  srv->add_option("--auth-fail-limit", cfg->auth_fail_limit,
                  "Failed authentications per address and window")
      ->envname("KADE_AUTH_FAIL_LIMIT");
  srv->add_option("--auth-fail-window", cfg->auth_fail_window_s, "Window in seconds")
      ->envname("KADE_AUTH_FAIL_WINDOW");
  srv->add_option("--token-cache-ttl", cfg->token_cache_ttl_s, "Seconds a verified token is cached")
      ->envname("KADE_TOKEN_CACHE_TTL");
  srv->add_option("--job-workers", cfg->job_workers, "Jobs (training) run at the same time")
      ->envname("KADE_JOB_WORKERS")
      ->capture_default_str();
  srv->add_option("--job-threads", cfg->job_threads, "Threads per job (0: one per core)")
      ->envname("KADE_JOB_THREADS")
      ->capture_default_str();
  srv->add_option("--prediction-retention", cfg->prediction_retention_days,
                  "Days the prediction log (and its ground truth) is kept (0: forever)")
      ->envname("KADE_PREDICTION_RETENTION")
      ->capture_default_str();
  srv->add_option("--job-retry-backoff", cfg->job_retry_backoff_s,
                  "Seconds a failed batch job waits before its next attempt (doubled for each "
                  "further attempt, at most 300)")
      ->envname("KADE_JOB_RETRY_BACKOFF")
      ->check(CLI::Range(0.0, 300.0))
      ->capture_default_str();
  srv->add_option("--monitoring", cfg->monitoring,
                  "Keep live summaries of what endpoints serve (drift, quality); health is kept "
                  "either way")
      ->envname("KADE_MONITORING")
      ->capture_default_str();
  srv->add_option("--alert-interval", cfg->alert_interval_s,
                  "Seconds between evaluations of the alert rules")
      ->envname("KADE_ALERT_INTERVAL")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  srv->add_option("--job-lease", cfg->job_lease_s,
                  "Seconds after which a job whose worker stopped is taken up again")
      ->envname("KADE_JOB_LEASE")
      ->capture_default_str();
  srv->add_option("--sqlite-sync", *sync, "full (default) or normal")
      ->envname("KADE_SQLITE_SYNC")
      ->check(CLI::IsMember({"full", "normal"}));
  srv->add_flag("--demo", cfg->demo, "Seed a demo project on an empty data directory")
      ->envname("KADE_DEMO");
  srv->add_flag("--reset-admin-token", cfg->reset_admin_token, "Issue and print a new admin token");
  srv->add_option("--port-file", *port_file, "Write the bound port to this file");
  srv->callback([=] {
    cfg->sqlite_sync_full = *sync == "full";
    *exit_code = RunServer(*cfg, exe_path, *port_file);
  });
}

}  // namespace kade
