#include "api/static_files.h"
#include "absl/strings/string_view.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/embedded_ui.h"

namespace kade {

namespace {
std::string ContentType(absl::string_view path) {
  if (absl::EndsWith(path, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(path, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(path, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(path, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(path, ".png")) return "image/png";
  if (absl::EndsWith(path, ".ico")) return "image/x-icon";
  if (absl::EndsWith(path, ".json")) return "application/json";
  if (absl::EndsWith(path, ".woff2")) return "font/woff2";
  return "application/octet-stream";
}

bool ReadFile(const std::string& path, std::string* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

StaticFiles::StaticFiles(std::string dir) : dir_(std::move(dir)) {
  if (!dir_.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const EmbeddedFile& f : EmbeddedUiFiles()) {
    cache_[f.path] = {ContentType(f.path), std::string(f.data, f.size)};
  }
}

HttpResponse StaticFiles::Serve(absl::string_view path) {
  std::string rel(path);
  if (rel.empty() || rel == "/") rel = "/index.html";
  // No dot segments, no NUL: the path must stay inside the UI directory.
  if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos ||
      rel.find('%') != std::string::npos || rel.find('\\') != std::string::npos) {
    return HttpResponse::Error(absl::NotFoundError("not found"));
  }
  absl::string_view last = absl::string_view(rel).substr(rel.rfind('/') + 1);
  if (last.find('.') == absl::string_view::npos) rel = "/index.html";
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(rel);
    if (it != cache_.end()) {
      HttpResponse r;
      r.content_type = it->second.first;
      r.body = it->second.second;
      if (absl::StartsWith(rel, "/assets/")) {
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
      }
      if (rel == "/index.html") {
        r.headers.emplace_back("Content-Security-Policy",
                               "default-src 'self'; img-src 'self' data: blob:; style-src 'self' "
                               "'unsafe-inline'; frame-ancestors 'none'");
        r.headers.emplace_back("Cache-Control", "no-cache");
      }
      return r;
    }
  }
  std::string body;
  if (dir_.empty() || !ReadFile(dir_ + rel, &body)) {
    if (rel == "/index.html") {
      HttpResponse r;
      r.status = 503;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "The Kade web UI is not built. Run `make ui` (or `make run`), then reload.\n";
      return r;
    }
    return HttpResponse::Error(absl::NotFoundError(absl::StrCat("no UI file ", rel)));
  }
  {
    absl::MutexLock lock(&mu_);
    cache_[rel] = {ContentType(rel), std::move(body)};
  }
  return Serve(rel);
}

std::string FindUiDir(const std::string& configured, const std::string& exe_path) {
  if (!configured.empty()) return configured;
  if (!EmbeddedUiFiles().empty()) return "";
  std::string exe_dir = exe_path.substr(0, exe_path.rfind('/'));
  for (const std::string& c : {exe_dir + "/../../ui/dist", exe_dir + "/../ui/dist",
                               exe_dir + "/../share/kade/ui", std::string("ui/dist")}) {
    if (IsDir(c)) return c;
  }
  return "ui/dist";
}

}  // namespace kade
