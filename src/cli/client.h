// What every client command shares: where the server is and which token to send (flags,
// then KADE_URL / KADE_TOKEN, then ~/.config/kade/config.json written by `kade login`), an
// HTTP call that turns the server's JSON error into a one-line message, and output as a
// readable table or, with --json, as JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"

namespace CLI {
class App;
}

namespace kade {

struct ClientOptions {
  std::string url;
  std::string token;
  bool json = false;
};

struct ClientConfigFile {
  std::string url;
  std::string token;
};

std::string ConfigPath();
absl::StatusOr<ClientConfigFile> LoadClientConfig();
// Writes the file with mode 0600 (directory 0700), atomically.
absl::Status SaveClientConfig(const ClientConfigFile& cfg);

class Client {
 public:
  explicit Client(ClientOptions opts) : opts_(std::move(opts)) {}
  // Fills url/token from the environment and config file where flags left them empty.
  absl::Status Resolve();
  // Sends a request; non-2xx answers become a Status carrying the server's message.
  absl::StatusOr<Json> Call(const std::string& method, const std::string& path,
                            const Json* body = nullptr);
  bool json() const { return opts_.json; }
  const ClientOptions& options() const { return opts_; }

 private:
  ClientOptions opts_;
};

struct RawResponse {
  int status = 0;
  std::string body;
};
// One HTTP/1.1 request over plain TCP (for https, put a TLS proxy in front of Kade), given
// up after `timeout_s` seconds in all.
// `headers` are sent as given (a Content-Type among them replaces application/json).
absl::StatusOr<RawResponse> HttpRequestRaw(
    const std::string& base_url, const std::string& method, const std::string& target,
    const std::string& body, const std::string& token, int timeout_s = 60,
    const std::vector<std::pair<std::string, std::string>>& headers = {});

// Streams a local file as a request body (PUT/POST) and returns the answer.
absl::StatusOr<RawResponse> HttpUploadFile(const std::string& base_url, const std::string& method,
                                           const std::string& target, const std::string& path,
                                           const std::string& token);
// Streams a GET response body into a local file; returns the status (body kept only on error).
absl::StatusOr<RawResponse> HttpDownloadFile(const std::string& base_url, const std::string& target,
                                             const std::string& path, const std::string& token);
// Turns a non-2xx answer into a Status carrying the server's message.
absl::Status StatusFromResponse(const RawResponse& r);

// Prints rows as an aligned table with a header line.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
std::string JsonCell(const Json& v);
// Parses "30d", "12h", "45m", "90s" or plain seconds.
absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text);

// Registration of command groups (one function per capability file).
using CommandRunner = std::function<int()>;
void AddServerCommand(CLI::App& app, int* exit_code, const std::string& exe_path);
void AddOpenApiCommand(CLI::App& app, int* exit_code);
void AddReplicaCommand(CLI::App& app, int* exit_code);
// What `kade server` and `kade replica` do first: allocator tuning (before any thread),
// logging, the listen address, and the platform on the data directory.
class Platform;
struct ServerConfig;
absl::StatusOr<std::unique_ptr<Platform>> OpenServingProcess(const ServerConfig& cfg,
                                                             std::string* host, uint16_t* port);
void AddAuthCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddProjectCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddAuditCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddDataCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddTrackingCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddJobCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddRegistryCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddBatchCommands(CLI::App& app, ClientOptions* opts, int* exit_code);
void AddMonitorCommands(CLI::App& app, ClientOptions* opts, int* exit_code);

// Resolves the connection, runs `fn`, and reports failure; returns the exit code.
int WithClient(const ClientOptions& opts, const std::function<absl::Status(Client&)>& fn);

// Runs `fn`, printing "kade: <message>" and returning 1 on failure.
int Report(const absl::Status& status);

}  // namespace kade
