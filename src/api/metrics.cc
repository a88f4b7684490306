#include "api/metrics.h"
#include "absl/strings/string_view.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "platform/monitoring_service.h"
#include "platform/serving_service.h"

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

std::string RenderServingMetrics(const ServingMetrics& m) {
  std::string out =
      "# HELP kade_endpoint_requests_total Prediction requests by endpoint and version.\n"
      "# TYPE kade_endpoint_requests_total counter\n";
  std::string errors =
      "# HELP kade_endpoint_errors_total Failed prediction requests (bad input).\n"
      "# TYPE kade_endpoint_errors_total counter\n";
  std::string inflight =
      "# HELP kade_endpoint_in_flight Prediction requests being answered.\n"
      "# TYPE kade_endpoint_in_flight gauge\n";
  std::string load =
      "# HELP kade_endpoint_model_load_seconds Time to load the version's model.\n"
      "# TYPE kade_endpoint_model_load_seconds gauge\n";
  std::string latency =
      "# HELP kade_endpoint_latency_seconds Time to answer a prediction request in Kade.\n"
      "# TYPE kade_endpoint_latency_seconds histogram\n";
  for (const auto& r : m.requests) {
    const std::string labels =
        absl::StrCat("endpoint=\"", r.endpoint, "\",version=\"", r.version, "\"");
    absl::StrAppend(&out, "kade_endpoint_requests_total{", labels, "} ", r.requests, "\n");
    absl::StrAppend(&errors, "kade_endpoint_errors_total{", labels, "} ", r.errors, "\n");
    absl::StrAppend(&inflight, "kade_endpoint_in_flight{", labels, "} ", r.in_flight, "\n");
    absl::StrAppend(&load, "kade_endpoint_model_load_seconds{", labels, "} ", r.model_load_seconds,
                    "\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < ServingMetrics::kLatencyBuckets.size(); ++b) {
      cumulative += r.latency_buckets[b];
      absl::StrAppend(&latency, "kade_endpoint_latency_seconds_bucket{", labels, ",le=\"",
                      ServingMetrics::kLatencyBuckets[b], "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&latency, "kade_endpoint_latency_seconds_bucket{", labels, ",le=\"+Inf\"} ",
                    r.latency_count, "\n");
    absl::StrAppend(&latency, "kade_endpoint_latency_seconds_sum{", labels, "} ",
                    r.latency_sum_seconds, "\n");
    absl::StrAppend(&latency, "kade_endpoint_latency_seconds_count{", labels, "} ", r.latency_count,
                    "\n");
  }
  absl::StrAppend(&out, errors, inflight, load, latency);
  std::string state =
      "# HELP kade_servable_state 1 for the state each endpoint version is in.\n"
      "# TYPE kade_servable_state gauge\n";
  std::string failures =
      "# HELP kade_servable_load_failures_total Failed loads of the version's model.\n"
      "# TYPE kade_servable_load_failures_total counter\n";
  std::string seconds =
      "# HELP kade_servable_load_seconds Time the version's last load took.\n"
      "# TYPE kade_servable_load_seconds gauge\n";
  for (const auto& s : m.servables) {
    const std::string labels =
        absl::StrCat("endpoint=\"", s.endpoint, "\",version=\"", s.version, "\"");
    for (const char* st : {"loading", "ready", "failed", "unloading"}) {
      absl::StrAppend(&state, "kade_servable_state{", labels, ",state=\"", st, "\"} ",
                      s.state == st ? 1 : 0, "\n");
    }
    if (s.load_failures_total) {
      absl::StrAppend(&failures, "kade_servable_load_failures_total{", labels, "} ",
                      *s.load_failures_total, "\n");
      absl::StrAppend(&seconds, "kade_servable_load_seconds{", labels, "} ", s.load_seconds, "\n");
    }
  }
  absl::StrAppend(&out, state, failures, seconds,
                  "# HELP kade_servable_cache_bytes Model bytes of the loaded versions.\n"
                  "# TYPE kade_servable_cache_bytes gauge\nkade_servable_cache_bytes ",
                  m.servable_cache_bytes, "\n");
  absl::StrAppend(&out,
                  "# HELP kade_prediction_log_dropped_total Prediction log entries dropped "
                  "(queue full).\n# TYPE kade_prediction_log_dropped_total counter\n"
                  "kade_prediction_log_dropped_total ",
                  m.log_dropped,
                  "\n# HELP kade_prediction_log_written_total Prediction log entries "
                  "written.\n# TYPE kade_prediction_log_written_total counter\n"
                  "kade_prediction_log_written_total ",
                  m.log_written, "\n");
  return out;
}

namespace {

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string Label(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrCat(v);
}

}  // namespace

std::string RenderMonitoringMetrics(const MonitorGauges& g, const std::vector<AlertState>& alerts) {
  struct Family {
    const char* name;
    const char* help;
    std::string lines;
  };
  Family fam[] = {
      {"kade_monitor_dataset_drift", "1 when the endpoint's inputs drift as a dataset (24 h).", ""},
      {"kade_monitor_drift_share", "Share of watched features that drift (24 h).", ""},
      {"kade_monitor_feature_drift", "A feature's drift figure: distance, or p-value (24 h).", ""},
      {"kade_monitor_feature_drifted", "1 when a feature drifts (24 h).", ""},
      {"kade_monitor_violations", "Data-quality violations in production (24 h).", ""},
      {"kade_monitor_kpi_sum", "Sum of a KPI's posted values (24 h).", ""},
      {"kade_monitor_error_rate", "Share of requests that failed (1 h).", ""},
      {"kade_monitor_availability", "Share of requests not failed by the server (1 h).", ""},
      {"kade_monitor_p99_ms", "99th percentile latency of logged requests, ms (1 h).", ""},
      {"kade_monitor_requests", "Requests answered (1 h).", ""},
      {"kade_monitor_fit", "Realised model fit from ground truth (24 h).", ""},
      {"kade_alert_state", "1 for the state each alert rule is in.", ""},
      {"kade_monitor_reconstruction_error",
       "Mean PCA reconstruction error of the inputs (multivariate drift, 24 h).", ""},
      {"kade_monitor_multivariate_drifted",
       "1 when the reconstruction error leaves the reference's band (24 h).", ""},
  };
  auto add = [&](int f, const std::string& labels, double v) {
    absl::StrAppend(&fam[f].lines, fam[f].name, "{", labels, "} ", Num(v), "\n");
  };
  for (const auto& e : g.endpoints) {
    const std::string sel =
        absl::StrCat("project=\"", Label(e.project), "\",endpoint=\"", Label(e.endpoint), "\"");
    if (e.drift.features_checked > 0) {
      add(0, sel, e.drift.dataset_drift ? 1 : 0);
      add(1, sel, e.drift.share);
      for (const auto& f : e.drift.features) {
        const std::string l =
            absl::StrCat(sel, ",feature=\"", Label(f.name), "\",method=\"", f.test.method, "\"");
        add(2, l, f.test.value);
        add(3, absl::StrCat(sel, ",feature=\"", Label(f.name), "\""), f.test.drifted ? 1 : 0);
      }
    }
    add(4, sel, e.violations);
    for (const auto& [k, v] : e.kpis) add(5, absl::StrCat(sel, ",kpi=\"", Label(k), "\""), v);
    add(9, sel, static_cast<double>(e.health.requests));
    if (e.health.requests > 0) {
      add(6, sel, e.health.error_rate);
      add(7, sel, e.health.availability);
      add(8, sel, e.health.p99_ms);
    }
    for (const auto& [m, v] : e.fit) add(10, absl::StrCat(sel, ",metric=\"", m, "\""), v);
    if (e.drift.multivariate.available) {
      add(12, sel, e.drift.multivariate.error);
      add(13, sel, e.drift.multivariate.drifted ? 1 : 0);
    }
  }
  for (const auto& a : alerts) {
    for (const char* s : {"inactive", "pending", "firing"}) {
      add(11,
          absl::StrCat("project=\"", Label(a.project), "\",alert=\"", Label(a.alert),
                       "\",endpoint=\"", Label(a.endpoint), "\",severity=\"", a.severity,
                       "\",state=\"", s, "\""),
          a.state == s ? 1 : 0);
    }
  }
  std::string out;
  for (const auto& f : fam) {
    absl::StrAppend(&out, "# HELP ", f.name, " ", f.help, "\n# TYPE ", f.name, " gauge\n", f.lines);
  }
  return out;
}

}  // namespace kade
