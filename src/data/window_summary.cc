#include "data/window_summary.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace kade {

namespace {

constexpr double kLatencyBase = 1.05;
const double kLogBase = std::log(kLatencyBase);
constexpr uint32_t kMagic = 0x4b4d5331;  // "KMS1"
constexpr size_t kMaxRefusals = 5;

}  // namespace

void LatencyHistogram::Add(int64_t micros) {
  const double us = std::max<double>(1.0, static_cast<double>(micros));
  ++buckets_[static_cast<int32_t>(std::floor(std::log(us) / kLogBase))];
  ++count_;
  sum_ += static_cast<double>(micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (const auto& [b, n] : other.buckets_) buckets_[b] += n;
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::PercentileMicros(double q) const {
  if (count_ == 0) return 0;
  const double target = q * static_cast<double>(count_);
  uint64_t cum = 0;
  for (const auto& [b, n] : buckets_) {
    cum += n;
    if (static_cast<double>(cum) >= target) return std::pow(kLatencyBase, b + 1);
  }
  return std::pow(kLatencyBase, buckets_.rbegin()->first + 1);
}

void FeatureSummary::AddNumber(double v) {
  if (std::isnan(v)) {
    ++nulls;
    return;
  }
  if (count == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  ++count;
  sum += v;
  sum_squares += v * v;
  kll.Add(v);
}

void FeatureSummary::AddCategory(absl::string_view v) {
  ++count;
  auto it = categories.find(std::string(v));
  if (it != categories.end()) {
    ++it->second;
  } else if (categories.size() < kMaxCategories) {
    categories.emplace(std::string(v), 1);
  } else {
    ++other;
  }
}

void FeatureSummary::Merge(const FeatureSummary& o) {
  if (o.count > 0 && o.numeric) {
    if (count == 0) {
      min = o.min;
      max = o.max;
    } else {
      min = std::min(min, o.min);
      max = std::max(max, o.max);
    }
  }
  numeric = o.count > 0 || o.nulls > 0 ? o.numeric : numeric;
  count += o.count;
  nulls += o.nulls;
  out_of_range += o.out_of_range;
  type_errors += o.type_errors;
  unseen += o.unseen;
  missing += o.missing;
  sum += o.sum;
  sum_squares += o.sum_squares;
  if (o.kll.count() > 0) kll.Merge(o.kll);
  for (const auto& [c, n] : o.categories) {
    auto it = categories.find(c);
    if (it != categories.end()) {
      it->second += n;
    } else if (categories.size() < kMaxCategories) {
      categories.emplace(c, n);
    } else {
      other += n;
    }
  }
  other += o.other;
}

std::map<std::string, int64_t> FeatureSummary::CategoryCounts() const {
  std::map<std::string, int64_t> out = categories;
  if (other > 0) out["(other)"] += other;
  return out;
}

void WindowSummary::Merge(const WindowSummary& o) {
  if (start_ms == 0 || (o.start_ms != 0 && o.start_ms < start_ms)) start_ms = o.start_ms;
  rows += o.rows;
  requests += o.requests;
  refused += o.refused;
  requests_total += o.requests_total;
  errors_total += o.errors_total;
  for (const auto& [k, f] : o.features) features[k].Merge(f);
  for (const auto& [k, f] : o.outputs) outputs[k].Merge(f);
  for (const auto& [k, n] : o.extra_columns) {
    if (extra_columns.size() < FeatureSummary::kMaxCategories || extra_columns.count(k)) {
      extra_columns[k] += n;
    }
  }
  for (const auto& r : o.refusals) {
    if (refusals.size() >= kMaxRefusals) break;
    if (std::find(refusals.begin(), refusals.end(), r) == refusals.end()) refusals.push_back(r);
  }
  latency.Merge(o.latency);
  reconstruction.Merge(o.reconstruction);
}

// The byte form: little-endian fixed-width numbers and length-prefixed strings, with a magic
// number in front. Every read checks the bytes left, so a damaged blob is an error.
class SummaryCodec {
 public:
  explicit SummaryCodec(std::string* out) : out_(out) {}
  explicit SummaryCodec(absl::string_view in) : in_(in) {}

  void U64(uint64_t v) { out_->append(reinterpret_cast<const char*>(&v), 8); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v) {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    U64(b);
  }
  void Str(absl::string_view s) {
    U64(s.size());
    out_->append(s.data(), s.size());
  }

  bool Get(uint64_t* v) {
    if (in_.size() < 8) return Fail();
    std::memcpy(v, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  bool Get(int64_t* v) {
    uint64_t u;
    if (!Get(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Get(double* v) {
    uint64_t u;
    if (!Get(&u)) return false;
    std::memcpy(v, &u, 8);
    return true;
  }
  // A count of items that each take at least `min_bytes`: no more than the bytes left hold.
  bool Count(uint64_t* n, size_t min_bytes) {
    if (!Get(n)) return false;
    if (*n > in_.size() / std::max<size_t>(1, min_bytes)) return Fail();
    return true;
  }
  bool Get(std::string* s) {
    uint64_t n;
    if (!Count(&n, 1)) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool failed() const { return failed_; }
  bool done() const { return in_.empty(); }

  void Put(const LatencyHistogram& h) {
    U64(h.count_);
    F64(h.sum_);
    U64(h.buckets_.size());
    for (const auto& [b, n] : h.buckets_) {
      I64(b);
      U64(n);
    }
  }
  bool Read(LatencyHistogram* h) {
    uint64_t n;
    if (!Get(&h->count_) || !Get(&h->sum_) || !Count(&n, 16)) return false;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; ++i) {
      int64_t b;
      uint64_t c;
      if (!Get(&b) || !Get(&c) || b < -1000 || b > 1000) return Fail();
      h->buckets_[static_cast<int32_t>(b)] = c;
      total += c;
    }
    return total == h->count_ || Fail();
  }

  void Put(const FeatureSummary& f) {
    U64(f.numeric ? 1 : 0);
    for (int64_t v :
         {f.count, f.nulls, f.out_of_range, f.type_errors, f.unseen, f.missing, f.other})
      I64(v);
    for (double v : {f.sum, f.sum_squares, f.min, f.max}) F64(v);
    U64(static_cast<uint64_t>(f.kll.k()));
    U64(f.kll.count());
    U64(f.kll.levels().size());
    for (const auto& lv : f.kll.levels()) {
      U64(lv.size());
      for (double v : lv) F64(v);
    }
    U64(f.categories.size());
    for (const auto& [c, n] : f.categories) {
      Str(c);
      I64(n);
    }
  }
  bool Read(FeatureSummary* f) {
    uint64_t numeric, k, n, levels;
    if (!Get(&numeric)) return false;
    f->numeric = numeric != 0;
    for (int64_t* v : {&f->count, &f->nulls, &f->out_of_range, &f->type_errors, &f->unseen,
                       &f->missing, &f->other}) {
      if (!Get(v)) return false;
    }
    for (double* v : {&f->sum, &f->sum_squares, &f->min, &f->max}) {
      if (!Get(v)) return false;
    }
    if (!Get(&k) || !Get(&n) || !Count(&levels, 8)) return false;
    std::vector<std::vector<double>> lv(levels);
    for (auto& l : lv) {
      uint64_t m;
      if (!Count(&m, 8)) return false;
      l.resize(m);
      for (double& v : l) {
        if (!Get(&v)) return false;
      }
    }
    if (k > 65536) return Fail();
    auto sketch = KllSketch::FromLevels(static_cast<int>(k), n, std::move(lv));
    if (!sketch.ok()) return Fail();
    f->kll = *std::move(sketch);
    uint64_t cats;
    if (!Count(&cats, 16)) return false;
    for (uint64_t i = 0; i < cats; ++i) {
      std::string c;
      int64_t m;
      if (!Get(&c) || !Get(&m)) return false;
      f->categories[c] = m;
    }
    return true;
  }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string* out_ = nullptr;
  absl::string_view in_;
  bool failed_ = false;
};

std::string WindowSummary::ToBytes() const {
  std::string out;
  SummaryCodec c(&out);
  c.U64(kMagic);
  for (int64_t v : {start_ms, width_ms, rows, requests, refused, requests_total, errors_total})
    c.I64(v);
  for (const auto* m : {&features, &outputs}) {
    c.U64(m->size());
    for (const auto& [name, f] : *m) {
      c.Str(name);
      FeatureSummary shrunk = f;
      shrunk.kll.Shrink();
      c.Put(shrunk);
    }
  }
  c.U64(extra_columns.size());
  for (const auto& [k, n] : extra_columns) {
    c.Str(k);
    c.I64(n);
  }
  c.U64(refusals.size());
  for (const auto& r : refusals) c.Str(r);
  c.Put(latency);
  // Added later: blobs written before it end after the latency histogram.
  FeatureSummary shrunk = reconstruction;
  shrunk.kll.Shrink();
  c.Put(shrunk);
  return out;
}

absl::StatusOr<WindowSummary> WindowSummary::FromBytes(absl::string_view bytes) {
  SummaryCodec c(bytes);
  WindowSummary w;
  uint64_t magic = 0, n = 0;
  auto bad = [] { return absl::DataLossError("a monitoring summary is damaged"); };
  if (!c.Get(&magic) || magic != kMagic) return bad();
  for (int64_t* v : {&w.start_ms, &w.width_ms, &w.rows, &w.requests, &w.refused, &w.requests_total,
                     &w.errors_total}) {
    if (!c.Get(v)) return bad();
  }
  for (auto* m : {&w.features, &w.outputs}) {
    if (!c.Count(&n, 16)) return bad();
    for (uint64_t i = 0; i < n; ++i) {
      std::string name;
      if (!c.Get(&name) || !c.Read(&(*m)[name])) return bad();
    }
  }
  if (!c.Count(&n, 16)) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    std::string k;
    int64_t m;
    if (!c.Get(&k) || !c.Get(&m)) return bad();
    w.extra_columns[k] = m;
  }
  if (!c.Count(&n, 8)) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    std::string r;
    if (!c.Get(&r)) return bad();
    w.refusals.push_back(std::move(r));
  }
  if (!c.Read(&w.latency)) return bad();
  if (!c.done() && !c.Read(&w.reconstruction)) return bad();
  if (!c.done()) return bad();
  return w;
}

}  // namespace kade
