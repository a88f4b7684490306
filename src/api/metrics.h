// Prometheus metrics for the HTTP server: request counts by route, method and status, a
// latency histogram per route, the in-flight gauge, and process metrics (CPU, memory, open
// files, start time). Rendered in the Prometheus text exposition format at /metrics.
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace kade {

struct ServingMetrics;
struct MonitorGauges;

class Metrics {
 public:
  Metrics();
  void Observe(const std::string& route, absl::string_view method, int status, double seconds);
  void IncInFlight() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void DecInFlight() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  void IncConnections() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void DecConnections() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  std::string Render();

  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  absl::Mutex mu_;
  // key: route \x1f method \x1f status
  absl::flat_hash_map<std::string, uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Histogram> latency_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> connections_{0};
  double start_time_;
};

// Prometheus text of the serving series: per endpoint and version requests, errors,
// in-flight, model load time, latency histogram and servable state; the servable cache and
// the prediction log's counts.
std::string RenderServingMetrics(const ServingMetrics& m);
// Monitoring gauges (kade_monitor_*) and alert states (kade_alert_state).
struct AlertState {
  std::string project, alert, endpoint, severity, state;
};
std::string RenderMonitoringMetrics(const MonitorGauges& g, const std::vector<AlertState>& alerts);

}  // namespace kade
