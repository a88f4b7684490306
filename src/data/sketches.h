// Mergeable, serialisable summaries for profiles of data too large to keep:
//  - HyperLogLog (precision 12: 4096 one-byte registers, ~1.6% standard error) for
//    distinct counts;
//  - a KLL quantile sketch (Karnin, Lang, Liberty 2016) with parameter k = 200, rank error
//    about 1.3% with high probability, for quantiles and histograms.
// Written here because no maintained C++ library for either is packaged in Debian 12
// (Apache DataSketches is not). Both are plain values: not thread-safe, copyable.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"

namespace kade {

// Inline: called once per value of every profiled column.
inline uint64_t Hash64(absl::string_view bytes) {
  // Eight bytes at a time with multiply-xorshift mixing, then a murmur3 finaliser: fast on
  // short cells and well mixed enough for HyperLogLog.
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (bytes.size() * 0xff51afd7ed558ccdull);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ (w * 0xc4ceb9fe1a85ec53ull)) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  // The last 0-7 bytes, read without a variable-length copy: two overlapping 4-byte loads,
  // or for 1-3 bytes the first, middle and last byte.
  const size_t rem = bytes.size() - i;
  const char* t = bytes.data() + i;
  uint64_t tail = 0;
  if (rem >= 4) {
    uint32_t a, b;
    std::memcpy(&a, t, 4);
    std::memcpy(&b, t + rem - 4, 4);
    tail = (static_cast<uint64_t>(a) << 32) | b;
  } else if (rem > 0) {
    tail = (static_cast<uint64_t>(static_cast<unsigned char>(t[0])) << 16) |
           (static_cast<uint64_t>(static_cast<unsigned char>(t[rem / 2])) << 8) |
           static_cast<unsigned char>(t[rem - 1]);
  }
  h = (h ^ (tail * 0xc4ceb9fe1a85ec53ull)) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  HyperLogLog() : registers_(1u << kPrecision, 0) {}
  void AddHash(uint64_t hash) { Update(registers_.data(), hash); }
  // For hot loops that keep the register pointer in a local.
  uint8_t* registers() { return registers_.data(); }
  static void Update(uint8_t* registers, uint64_t hash);
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
  // The retained items by level (level h's items weigh 2^h), and a sketch rebuilt from them
  // (InvalidArgument when they cannot be a sketch's: more weight than `n`).
  int k() const { return k_; }
  const std::vector<std::vector<double>>& levels() const { return levels_; }
  static absl::StatusOr<KllSketch> FromLevels(int k, uint64_t n,
                                              std::vector<std::vector<double>> levels);
  // Compacts the insert buffer down to the sketch's own capacity (about 3k items in all),
  // for storage: same error bound, a few kilobytes at most.
  void Shrink();

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

inline void HyperLogLog::Update(uint8_t* registers, uint64_t hash) {
  uint32_t idx = static_cast<uint32_t>(hash >> (64 - kPrecision));
  uint64_t rest = (hash << kPrecision) | (1ull << (kPrecision - 1));
  uint8_t rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
  if (rank > registers[idx]) registers[idx] = rank;
}

}  // namespace kade
