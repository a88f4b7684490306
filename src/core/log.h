// Logging: application messages go to stderr through spdlog's default logger; access logs
// are JSON lines written by an asynchronous logger whose bounded queue drops the oldest
// line rather than block a request.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace kade {

absl::Status InitLogging(const std::string& level, const std::string& access_log);
// Writes one already-formatted JSON line to the access log (no-op when disabled).
void AccessLog(const std::string& json_line);
void FlushLogs();
// Names the calling thread (at most 15 characters show) so that top -H, perf and gdb tell
// the event loops, the prediction log writer and the job workers apart.
void NameThread(const char* name);

}  // namespace kade
