// Serves the built web UI (ui/dist) at "/". Files are read once and kept in memory; paths
// without a file extension fall back to index.html so the single-page app's client-side
// routes work on reload. Thread-safe.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "api/http_types.h"

namespace kade {

class StaticFiles {
 public:
  // Serves from `dir` when it is set; otherwise from the UI embedded in the binary.
  explicit StaticFiles(std::string dir);
  const std::string& dir() const { return dir_; }
  HttpResponse Serve(absl::string_view path);

 private:
  std::string dir_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> cache_ ABSL_GUARDED_BY(mu_);
};

// The UI directory to serve from: `configured` if set; else "" (embedded) when the binary
// carries the UI; else ui/dist next to the binary or in the working directory.
std::string FindUiDir(const std::string& configured, const std::string& exe_path);

}  // namespace kade
