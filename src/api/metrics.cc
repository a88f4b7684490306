#include "api/metrics.h"
#include "absl/strings/string_view.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace kade {

namespace {
std::string Escape(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

int64_t CountOpenFds() {
  int64_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}
}  // namespace

Metrics::Metrics()
    : start_time_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {}

void Metrics::Observe(const std::string& route, absl::string_view method, int status,
                      double seconds) {
  std::string key = absl::StrCat(route, "\x1f", method, "\x1f", status);
  absl::MutexLock lock(&mu_);
  ++counts_[key];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render() {
  std::string out;
  std::map<std::string, uint64_t> counts;
  std::map<std::string, Histogram> latency;
  {
    absl::MutexLock lock(&mu_);
    counts.insert(counts_.begin(), counts_.end());
    latency.insert(latency_.begin(), latency_.end());
  }
  out += "# HELP kade_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE kade_http_requests_total counter\n";
  for (const auto& [key, n] : counts) {
    std::vector<std::string> parts = absl::StrSplit(key, '\x1f');
    absl::StrAppend(&out, "kade_http_requests_total{route=\"", Escape(parts[0]), "\",method=\"",
                    parts[1], "\",status=\"", parts[2], "\"} ", n, "\n");
  }
  out += "# HELP kade_http_request_duration_seconds Time from request header to response sent.\n";
  out += "# TYPE kade_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency) {
    uint64_t cum = 0;
    std::string r = Escape(route);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cum += h.buckets[i];
      absl::StrAppend(&out, "kade_http_request_duration_seconds_bucket{route=\"", r, "\",le=\"",
                      kBuckets[i], "\"} ", cum, "\n");
    }
    absl::StrAppend(&out, "kade_http_request_duration_seconds_bucket{route=\"", r,
                    "\",le=\"+Inf\"} ", h.count, "\n");
    absl::StrAppend(&out, "kade_http_request_duration_seconds_sum{route=\"", r, "\"} ",
                    absl::StrFormat("%.6f", h.sum), "\n");
    absl::StrAppend(&out, "kade_http_request_duration_seconds_count{route=\"", r, "\"} ", h.count,
                    "\n");
  }
  absl::StrAppend(&out, "# HELP kade_http_requests_in_flight Requests being handled now.\n",
                  "# TYPE kade_http_requests_in_flight gauge\n", "kade_http_requests_in_flight ",
                  in_flight(), "\n");
  absl::StrAppend(&out, "# HELP kade_http_open_connections Open client connections.\n",
                  "# TYPE kade_http_open_connections gauge\n", "kade_http_open_connections ",
                  connections_.load(), "\n");

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  long pages_total = 0, pages_res = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2) pages_total = pages_res = 0;
    std::fclose(f);
  }
  long page = sysconf(_SC_PAGESIZE);
  absl::StrAppend(&out, "# HELP process_cpu_seconds_total User and system CPU time.\n",
                  "# TYPE process_cpu_seconds_total counter\n",
                  absl::StrFormat("process_cpu_seconds_total %.3f\n", cpu));
  absl::StrAppend(&out, "# HELP process_resident_memory_bytes Resident memory size.\n",
                  "# TYPE process_resident_memory_bytes gauge\n", "process_resident_memory_bytes ",
                  pages_res * page, "\n");
  absl::StrAppend(&out, "# HELP process_virtual_memory_bytes Virtual memory size.\n",
                  "# TYPE process_virtual_memory_bytes gauge\n", "process_virtual_memory_bytes ",
                  pages_total * page, "\n");
  absl::StrAppend(&out, "# HELP process_open_fds Open file descriptors.\n",
                  "# TYPE process_open_fds gauge\n", "process_open_fds ", CountOpenFds(), "\n");
  absl::StrAppend(&out, "# HELP process_start_time_seconds Start time since the Unix epoch.\n",
                  "# TYPE process_start_time_seconds gauge\n",
                  absl::StrFormat("process_start_time_seconds %.3f\n", start_time_));
  return out;
}

}  // namespace kade
