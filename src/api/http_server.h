// The HTTP/1.1 server: Boost.Beast on Asio with C++20 coroutines, one event-loop thread per
// core, keep-alive, header/body size limits, read/write/idle timeouts, request ids, JSON
// access logs, streamed uploads and downloads, and graceful shutdown (stop accepting, let
// in-flight requests finish, close idle connections, then return from Run).
//
// Thread safety: Shutdown() may be called from any thread; everything else before Run.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace kade {

class Router;
class Metrics;
class StaticFiles;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = any free port
  int threads = 0;
  uint64_t max_body_bytes = 8ull << 20;
  uint64_t max_upload_bytes = 64ull << 30;
  int read_timeout_s = 30;
  int write_timeout_s = 60;
  int idle_timeout_s = 60;
  int shutdown_grace_s = 20;
  bool handle_signals = true;  // SIGINT/SIGTERM start a graceful shutdown
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Router* router, Metrics* metrics, StaticFiles* ui);
  ~HttpServer();

  // Binds and listens; after this, port() is the real port.
  absl::Status Listen();
  uint16_t port() const;
  // Serves until shutdown completes.
  void Run();
  void Shutdown();
  bool draining() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kade
