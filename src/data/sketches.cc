#include "data/sketches.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/crypto.h"

namespace kade {

void HyperLogLog::Merge(const HyperLogLog& other) {
  for (size_t i = 0; i < registers_.size(); ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

double HyperLogLog::Estimate() const {
  const double m = static_cast<double>(registers_.size());
  double sum = 0;
  int zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  double alpha = 0.7213 / (1 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / zeros);  // small-range correction
  return e;
}

Json HyperLogLog::ToJson() const {
  return Json{
      {"p", kPrecision},
      {"registers", Base64UrlEncode(absl::string_view(
                        reinterpret_cast<const char*>(registers_.data()), registers_.size()))}};
}

absl::StatusOr<HyperLogLog> HyperLogLog::FromJson(const Json& j) {
  if (!j.is_object() || j.value("p", 0) != kPrecision || !j.contains("registers")) {
    return absl::InvalidArgumentError("not a HyperLogLog sketch of precision 12");
  }
  std::string enc = j["registers"].get<std::string>();
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string bytes;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : enc) {
    const char* p = std::find(kAlphabet, kAlphabet + 64, c);
    if (p == kAlphabet + 64) return absl::InvalidArgumentError("bad HyperLogLog registers");
    buf = (buf << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  HyperLogLog h;
  if (bytes.size() != h.registers_.size())
    return absl::InvalidArgumentError("bad HyperLogLog size");
  std::copy(bytes.begin(), bytes.end(), h.registers_.begin());
  return h;
}

KllSketch::KllSketch(int k, uint64_t seed) : k_(k), rng_(seed) { AddLevel(); }

void KllSketch::AddLevel() {
  levels_.emplace_back();
  // Level h (0 = newest) of H levels holds about k * (2/3)^(H-1-h) items, at least 2.
  caps_.resize(levels_.size());
  for (size_t h = 0; h < levels_.size(); ++h) {
    double depth = static_cast<double>(levels_.size() - 1 - h);
    caps_[h] = std::max<size_t>(2, static_cast<size_t>(std::ceil(k_ * std::pow(2.0 / 3.0, depth))));
  }
  // Level 0 is an insert buffer: large enough that sorting it amortises to a few
  // comparisons per item. Holding more items there only lowers the error.
  caps_[0] = std::max<size_t>(caps_[0], 1024);
}

void KllSketch::Add(double v) {
  if (std::isnan(v)) return;
  levels_[0].push_back(v);
  ++n_;
  if (levels_[0].size() >= Capacity(0)) Compress();
}

void KllSketch::Compress() {
  for (size_t h = 0; h < levels_.size(); ++h) {
    if (levels_[h].size() < Capacity(h)) continue;
    if (h + 1 == levels_.size()) AddLevel();
    std::vector<double>& lv = levels_[h];
    std::sort(lv.begin(), lv.end());
    // Deterministic pseudo-random offset (xorshift), so profiles are reproducible.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    size_t offset = rng_ & 1;
    size_t keep_odd = lv.size() % 2;  // an odd item out stays at this level
    double leftover = keep_odd ? lv.back() : 0;
    size_t usable = lv.size() - keep_odd;
    for (size_t i = offset; i < usable; i += 2) levels_[h + 1].push_back(lv[i]);
    lv.clear();
    if (keep_odd) lv.push_back(leftover);
  }
}

void KllSketch::Merge(const KllSketch& other) {
  while (levels_.size() < other.levels_.size()) AddLevel();
  for (size_t h = 0; h < other.levels_.size(); ++h) {
    levels_[h].insert(levels_[h].end(), other.levels_[h].begin(), other.levels_[h].end());
  }
  n_ += other.n_;
  Compress();
}

std::vector<std::pair<double, uint64_t>> KllSketch::WeightedItems() const {
  std::vector<std::pair<double, uint64_t>> items;
  for (size_t h = 0; h < levels_.size(); ++h) {
    for (double v : levels_[h]) items.emplace_back(v, uint64_t{1} << h);
  }
  std::sort(items.begin(), items.end());
  return items;
}

double KllSketch::Quantile(double q) const {
  auto items = WeightedItems();
  if (items.empty()) return std::numeric_limits<double>::quiet_NaN();
  uint64_t total = 0;
  for (auto& [v, w] : items) total += w;
  double target = q * static_cast<double>(total);
  uint64_t cum = 0;
  for (auto& [v, w] : items) {
    cum += w;
    if (static_cast<double>(cum) >= target) return v;
  }
  return items.back().first;
}

void KllSketch::Shrink() {
  const size_t buffer = caps_[0];
  caps_[0] = std::max<size_t>(
      2, static_cast<size_t>(std::ceil(k_ * std::pow(2.0 / 3.0, levels_.size() - 1))));
  if (levels_[0].size() >= caps_[0]) Compress();
  caps_[0] = std::max(buffer, caps_[0]);
}

absl::StatusOr<KllSketch> KllSketch::FromLevels(int k, uint64_t n,
                                                std::vector<std::vector<double>> levels) {
  if (k < 8 || k > 65536 || levels.empty() || levels.size() > 60) {
    return absl::InvalidArgumentError("not a KLL sketch (k or levels out of range)");
  }
  long double weight = 0;
  for (size_t h = 0; h < levels.size(); ++h) {
    for (double v : levels[h]) {
      if (std::isnan(v)) return absl::InvalidArgumentError("a KLL sketch holds no NaN");
    }
    weight += static_cast<long double>(levels[h].size()) * std::ldexp(1.0L, static_cast<int>(h));
  }
  // Compaction drops an odd item's weight now and then, so the items weigh at most n.
  if (weight > static_cast<long double>(n) * 1.0001L + 1) {
    return absl::InvalidArgumentError("not a KLL sketch (items outweigh its count)");
  }
  KllSketch s(k);
  s.n_ = n;
  while (s.levels_.size() < levels.size()) s.AddLevel();
  s.levels_ = std::move(levels);
  return s;
}

Json KllSketch::ToJson() const {
  Json levels = Json::array();
  for (const auto& lv : levels_) levels.push_back(lv);
  return Json{{"k", k_}, {"n", n_}, {"levels", levels}};
}

absl::StatusOr<KllSketch> KllSketch::FromJson(const Json& j) {
  if (!j.is_object() || !j.contains("levels") || !j["levels"].is_array()) {
    return absl::InvalidArgumentError("not a KLL sketch");
  }
  KllSketch s(j.value("k", 200));
  s.n_ = j.value("n", uint64_t{0});
  size_t n_levels = std::max<size_t>(1, j["levels"].size());
  while (s.levels_.size() < n_levels) s.AddLevel();
  for (size_t h = 0; h < j["levels"].size(); ++h)
    s.levels_[h] = j["levels"][h].get<std::vector<double>>();
  return s;
}

}  // namespace kade
