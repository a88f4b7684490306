// Mergeable summaries of what an endpoint saw during a stretch of time (a monitoring bucket):
// per feature and per output the counts, nulls, out-of-range values, problems of refused
// requests, a KLL quantile sketch (numeric) or category counts (categorical), and a latency
// histogram. A window's statistics are the merge of its buckets, never a rescan of the log
// (docs/monitoring.md); buckets roll up (minute -> hour -> day) by merging.
//
// Error bounds: counts are exact; quantiles carry the KLL sketch's rank error (about 1.3%,
// data/sketches.h); category counts are exact for the first kMaxCategories categories of a
// feature and the rest are counted together as "other"; latency percentiles are exact to
// the histogram's bucket width (5%, LatencyHistogram).
//
// Plain values: not thread-safe, copyable. The byte form (ToBytes/FromBytes) is what the
// metadata store keeps; FromBytes checks every length and refuses a damaged blob.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/sketches.h"

namespace kade {

// Latencies in buckets 5% wide (bucket b holds [1.05^b, 1.05^(b+1)) microseconds), kept
// sparse: a percentile is the upper edge of its bucket, at most 5% above the true value.
class LatencyHistogram {
 public:
  void Add(int64_t micros);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  double sum_micros() const { return sum_; }
  // q in [0, 1]; 0 when empty.
  double PercentileMicros(double q) const;
  const std::map<int32_t, uint64_t>& buckets() const { return buckets_; }

 private:
  friend class SummaryCodec;
  std::map<int32_t, uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct FeatureSummary {
  static constexpr size_t kMaxCategories = 200;
  bool numeric = true;
  int64_t count = 0;         // values present (not null)
  int64_t nulls = 0;         // null or a null token
  int64_t out_of_range = 0;  // outside the reference's [min, max] (numeric)
  // Problems in refused requests (which the model did not answer).
  int64_t type_errors = 0, unseen = 0, missing = 0;
  double sum = 0, sum_squares = 0;
  double min = 0, max = 0;                    // of the values present (valid when count > 0)
  KllSketch kll;                              // numeric values
  std::map<std::string, int64_t> categories;  // categorical values, at most kMaxCategories
  int64_t other = 0;                          // values of the categories beyond those

  void AddNumber(double v);
  void AddCategory(absl::string_view v);
  void Merge(const FeatureSummary& other);
  // Category counts with the overflow as "(other)".
  std::map<std::string, int64_t> CategoryCounts() const;
};

struct WindowSummary {
  int64_t start_ms = 0;
  int64_t width_ms = 0;        // 60,000 (minute), 3,600,000 (hour) or 86,400,000 (day)
  int64_t rows = 0;            // rows answered and logged
  int64_t requests = 0;        // requests answered and logged
  int64_t refused = 0;         // requests refused for their content (400)
  int64_t requests_total = 0;  // every request answered, logged or not (service health)
  int64_t errors_total = 0;    // every request that failed
  std::map<std::string, FeatureSummary> features;  // by feature name
  std::map<std::string, FeatureSummary> outputs;   // "score", "class", "prediction"
  std::map<std::string, int64_t> extra_columns;    // unknown fields sent, with their count
  std::vector<std::string> refusals;               // the first few refusal messages
  LatencyHistogram latency;                        // of the logged requests
  // Per-row PCA reconstruction errors against the version's reference (multivariate drift,
  // ml/multivariate_drift.h); empty when the reference has no PCA model.
  FeatureSummary reconstruction;

  // Adds `other`'s counts (the window keeps its own start unless it has none).
  void Merge(const WindowSummary& other);
  std::string ToBytes() const;
  static absl::StatusOr<WindowSummary> FromBytes(absl::string_view bytes);
};

}  // namespace kade
