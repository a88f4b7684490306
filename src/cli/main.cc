// The `kade` command: the server and the client commands in one binary.
#include <unistd.h>

#include <climits>
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/client.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Kade: the self-hosted machine-learning platform"};
  app.set_version_flag("--version", std::string("kade ") + kade::kVersion);
  app.require_subcommand(1);
  kade::ClientOptions opts;
  app.add_option("--url", opts.url, "Server URL (default: KADE_URL, then `kade login`)");
  app.add_option("--token", opts.token, "API token (default: KADE_TOKEN, then `kade login`)");
  app.add_flag("--json", opts.json, "Print JSON instead of tables");

  char exe[PATH_MAX] = {0};
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string exe_path = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string(argv[0]);

  int exit_code = 0;
  kade::AddServerCommand(app, &exit_code, exe_path);
  kade::AddReplicaCommand(app, &exit_code);
  kade::AddOpenApiCommand(app, &exit_code);
  kade::AddAuthCommands(app, &opts, &exit_code);
  kade::AddProjectCommands(app, &opts, &exit_code);
  kade::AddAuditCommands(app, &opts, &exit_code);
  kade::AddDataCommands(app, &opts, &exit_code);
  kade::AddTrackingCommands(app, &opts, &exit_code);
  kade::AddJobCommands(app, &opts, &exit_code);
  kade::AddRegistryCommands(app, &opts, &exit_code);
  kade::AddBatchCommands(app, &opts, &exit_code);
  kade::AddMonitorCommands(app, &opts, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
