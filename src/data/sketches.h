// Mergeable, serialisable summaries for profiles of data too large to keep:
//  - HyperLogLog (precision 12: 4096 one-byte registers, ~1.6% standard error) for
//    distinct counts;
//  - a KLL quantile sketch (Karnin, Lang, Liberty 2016) with parameter k = 200, rank error
//    about 1.3% with high probability, for quantiles and histograms.
// Written here because no maintained C++ library for either is packaged in Debian 12
// (Apache DataSketches is not). Both are plain values: not thread-safe, copyable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"

namespace kade {

uint64_t Hash64(absl::string_view bytes);

class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  HyperLogLog() : registers_(1u << kPrecision, 0) {}
  void AddHash(uint64_t hash);
  void Add(absl::string_view value) { AddHash(Hash64(value)); }
  void Merge(const HyperLogLog& other);
  double Estimate() const;
  Json ToJson() const;
  static absl::StatusOr<HyperLogLog> FromJson(const Json& j);

 private:
  std::vector<uint8_t> registers_;
};

class KllSketch {
 public:
  explicit KllSketch(int k = 200, uint64_t seed = 0x9e3779b97f4a7c15ull);
  void Add(double v);
  void Merge(const KllSketch& other);
  uint64_t count() const { return n_; }
  // q in [0, 1]; NaN when empty.
  double Quantile(double q) const;
  // Weighted retained items, sorted by value (for histograms).
  std::vector<std::pair<double, uint64_t>> WeightedItems() const;
  Json ToJson() const;
  static absl::StatusOr<KllSketch> FromJson(const Json& j);

 private:
  void Compress();
  void AddLevel();
  size_t Capacity(size_t level) const { return caps_[level]; }
  int k_;
  uint64_t n_ = 0;
  uint64_t rng_;
  std::vector<std::vector<double>> levels_;
  std::vector<size_t> caps_;  // capacity per level, recomputed when a level is added
};

}  // namespace kade
