// Server configuration. Values come from flags, then KADE_* environment variables, then
// the defaults below (the CLI binds each flag to its variable). Plain data, not shared
// across threads after start-up.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace kade {

struct ServerConfig {
  std::string data_dir = "./kade-data";           // KADE_DATA_DIR
  std::string db;                                 // KADE_DB: sqlite path; default <data>/kade.db
  std::string addr = "127.0.0.1:8080";            // KADE_ADDR: host:port
  int threads = 0;                                // KADE_THREADS: 0 = one per core
  uint64_t max_body_bytes = 8ull << 20;           // KADE_MAX_BODY: JSON request bodies
  uint64_t max_upload_bytes = 64ull << 30;        // KADE_MAX_UPLOAD: streamed artifact uploads
  uint64_t max_decompressed_bytes = 64ull << 30;  // KADE_MAX_DECOMPRESSED: gzip/zstd datasets
  int max_columns = 2000;                         // KADE_MAX_COLUMNS: columns of a dataset
  uint64_t model_cache_bytes = 2ull << 30;        // KADE_MODEL_CACHE: unheld loaded versions
  int malloc_arenas = 4;                          // KADE_MALLOC_ARENAS: allocator arenas
  int read_timeout_s = 30;                        // KADE_READ_TIMEOUT: per request read
  int write_timeout_s = 60;                       // KADE_WRITE_TIMEOUT: per response write
  int idle_timeout_s = 60;                        // KADE_IDLE_TIMEOUT: keep-alive idle
  int shutdown_grace_s = 20;                      // KADE_SHUTDOWN_GRACE
  std::string admin_token;                        // KADE_ADMIN_TOKEN: bootstrap token
  std::string ui_dir;                             // KADE_UI_DIR: built web UI; "" = auto
  std::string log_level = "info";                 // KADE_LOG_LEVEL
  std::string access_log = "stdout";              // KADE_ACCESS_LOG: stdout | off | FILE
  int auth_fail_limit = 20;                       // KADE_AUTH_FAIL_LIMIT per window and address
  int auth_fail_window_s = 60;                    // KADE_AUTH_FAIL_WINDOW
  int token_cache_ttl_s = 5;                      // KADE_TOKEN_CACHE_TTL
  int job_workers = 1;                            // KADE_JOB_WORKERS: jobs run at once
  int job_threads = 0;                            // KADE_JOB_THREADS per job: 0 = one per core
  int prediction_retention_days = 30;  // KADE_PREDICTION_RETENTION: days the prediction log keeps
  bool monitoring = true;              // KADE_MONITORING: live summaries of what endpoints serve
  double alert_interval_s = 15;        // KADE_ALERT_INTERVAL: seconds between alert evaluations
  int job_lease_s = 30;                // KADE_JOB_LEASE: a dead worker's job waits this long
  double job_retry_backoff_s = 10;     // KADE_JOB_RETRY_BACKOFF: wait before retrying a failed job
  bool sqlite_sync_full = true;        // KADE_SQLITE_SYNC=full|normal
  bool demo = false;                   // --demo: seed demo content on an empty store
  bool reset_admin_token = false;      // --reset-admin-token

  std::string DatabasePath() const;
  std::string ArtifactRoot() const;
  // Splits addr into host and port; InvalidArgument when it is not host:port.
  absl::Status ParseAddr(std::string* host, uint16_t* port) const;
  absl::Status Validate() const;
};

}  // namespace kade
