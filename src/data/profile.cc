#include "data/profile.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <future>
#include <limits>
#include <thread>

#include "Eigen/Dense"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "data/plain_decimal.h"
#include "data/sketches.h"

namespace kade {

Json SchemaToJson(const Schema& schema) {
  Json arr = Json::array();
  for (const auto& c : schema)
    arr.push_back(Json{{"name", c.name}, {"type", ColumnTypeName(c.type)}});
  return arr;
}

absl::StatusOr<Schema> SchemaFromJson(const Json& j) {
  Schema s;
  auto add = [&](const std::string& name, const Json& type) -> absl::Status {
    if (!type.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("schema: type of column '", name, "' must be a string"));
    }
    auto t = ParseColumnType(type.get<std::string>());
    if (!t) {
      return absl::InvalidArgumentError(
          absl::StrCat("schema: column '", name, "' has unknown type '", type.get<std::string>(),
                       "' (use bool, int64, float64, categorical, string or timestamp)"));
    }
    s.push_back({name, *t});
    return absl::OkStatus();
  };
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      const Json& c = j[i];
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("type")) {
        return absl::InvalidArgumentError(
            absl::StrCat("schema: entry ", i + 1, " must be {\"name\": ..., \"type\": ...}"));
      }
      RETURN_IF_ERROR(add(c["name"].get<std::string>(), c["type"]));
    }
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) RETURN_IF_ERROR(add(it.key(), it.value()));
  } else {
    return absl::InvalidArgumentError(
        "schema must be a list of {name, type} or an object name -> type");
  }
  if (s.empty()) return absl::InvalidArgumentError("schema has no columns");
  return s;
}

namespace {

// Running moments, added a batch at a time and merged with Chan et al.'s formula: a batch's
// mean and squared deviations are two vectorisable passes, with no division per value.
struct Moments {
  int64_t n = 0;
  double mean = 0, m2 = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void AddBatch(const double* v, size_t k) {
    if (k == 0) return;
    // Four independent accumulators per sum, so the additions do not wait on each other.
    double sum[4] = {0, 0, 0, 0}, lo[4], hi[4];
    for (int l = 0; l < 4; ++l) lo[l] = hi[l] = v[0];
    size_t i = 0;
    for (; i + 4 <= k; i += 4) {
      for (int l = 0; l < 4; ++l) {
        sum[l] += v[i + l];
        lo[l] = std::min(lo[l], v[i + l]);
        hi[l] = std::max(hi[l], v[i + l]);
      }
    }
    for (; i < k; ++i) {
      sum[0] += v[i];
      lo[0] = std::min(lo[0], v[i]);
      hi[0] = std::max(hi[0], v[i]);
    }
    const double kd = static_cast<double>(k);
    const double bmean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / kd;
    double bm2s[4] = {0, 0, 0, 0};
    for (i = 0; i + 4 <= k; i += 4) {
      for (int l = 0; l < 4; ++l) bm2s[l] += (v[i + l] - bmean) * (v[i + l] - bmean);
    }
    for (; i < k; ++i) bm2s[0] += (v[i] - bmean) * (v[i] - bmean);
    const double bm2 = (bm2s[0] + bm2s[1]) + (bm2s[2] + bm2s[3]);
    const double blo = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
    const double bhi = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
    const double nd = static_cast<double>(n), total = nd + kd;
    const double delta = bmean - mean;
    mean += delta * kd / total;
    m2 += bm2 + delta * delta * nd * kd / total;
    n += static_cast<int64_t>(k);
    min = std::min(min, blo);
    max = std::max(max, bhi);
  }
  double Std() const { return n > 1 ? std::sqrt(m2 / static_cast<double>(n - 1)) : 0.0; }
};

struct Column {
  std::string name;
  std::optional<ColumnType> pinned;
  int64_t nulls = 0, non_null = 0;
  bool maybe_bool = true, maybe_int = true, maybe_float = true, maybe_ts = true;
  int64_t trues = 0;
  Moments num;
  // All values up to the exact limit; beyond it, a uniform reservoir sample of that size
  // (Algorithm R). The candidate slot for the value at overall index i is a hash of i (a
  // fixed-seed SplitMix64 finaliser) scaled into [0, i] by Lemire's multiply-shift, so a
  // profile is reproducible and the iterations do not wait on each other (a generator with
  // state would chain them); a slot past the sample goes to a scratch cell, not a branch.
  std::vector<double> exact_values;
  bool sampled = false;
  std::vector<double> batch;  // this block's numbers, before they are added
  // Adds the block's numbers to the moments and to the exact values, or beyond the limit to
  // the reservoir sample.
  void FlushBatch(size_t limit) {
    uint64_t index = static_cast<uint64_t>(num.n);  // overall index of batch[0]
    size_t i = 0;
    for (; i < batch.size() && exact_values.size() < limit; ++i) exact_values.push_back(batch[i]);
    index += i;
    if (i < batch.size()) sampled = true;
    double* sample = exact_values.data();
    double scratch = 0;
    for (; i < batch.size(); ++i, ++index) {
      uint64_t z = (index + 1) * 0x9e3779b97f4a7c15ull;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      const uint64_t j =
          static_cast<uint64_t>((static_cast<unsigned __int128>(z) * (index + 1)) >> 64);
      *(j < limit ? sample + j : &scratch) = batch[i];
    }
    num.AddBatch(batch.data(), batch.size());
    batch.clear();
  }
  int64_t ts_min = std::numeric_limits<int64_t>::max(),
          ts_max = std::numeric_limits<int64_t>::min();
  absl::flat_hash_map<std::string, int64_t> counts;  // while exact
  size_t count_bytes = 0;                            // bytes of the keys in counts
  size_t count_budget = 1u << 20;
  bool distinct_exact = true;
  bool samples_truncated = false;
  HyperLogLog hll;
  std::vector<std::string> samples;
  size_t min_len = std::numeric_limits<size_t>::max(), max_len = 0;
  double shift = 0;  // first numeric value: centres the correlation sums
  bool shift_set = false;
};

// The longest prefix of `v` of at most `n` bytes that does not split a UTF-8 sequence.
absl::string_view Utf8Prefix(absl::string_view v, size_t n) {
  if (v.size() <= n) return v;
  size_t end = n;
  while (end > 0 && (static_cast<unsigned char>(v[end]) & 0xc0) == 0x80) --end;
  return v.substr(0, end);
}

}  // namespace

struct Profiler::Impl {
  ProfileOptions opt;
  std::vector<Column> cols;
  size_t max_null_len = 0;
  int64_t rows = 0;
  // Correlation accumulators over candidate numeric columns (pairwise complete).
  Eigen::MatrixXd sxy, sx, sxx, n;
  bool corr_enabled = true;

  // A block's centred numbers and their mask, two sets used in turn: the correlation
  // products of one block run on their own thread while the next block's columns are
  // profiled into the other set.
  Eigen::MatrixXd xs[2], ms[2];
  std::vector<size_t> numerics[2];
  int current = 0;
  mutable std::future<void> corr_pending;
  void WaitCorrelation() const {
    if (corr_pending.valid()) corr_pending.get();
  }
  void AddCorrelation(const Eigen::MatrixXd& x, Eigen::MatrixXd& m,
                      const std::vector<size_t>& numeric, size_t nrows);

  absl::Status ProfileColumns(const RowBlock& block, size_t first, size_t last, Eigen::MatrixXd& x,
                              Eigen::MatrixXd& m, std::vector<size_t>& numeric);
  size_t ProfileFloatColumn(const RowBlock& block, size_t c, double* xc, size_t* numbers);
  absl::Status ProfileGeneral(const RowBlock& block, size_t c, size_t from, double* xc);

  bool IsNull(absl::string_view v) const {
    if (v.size() > max_null_len) return false;
    for (const auto& t : opt.null_tokens) {
      if (v == t) return true;
    }
    return false;
  }
};

Profiler::Profiler(ProfileOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  for (const auto& t : impl_->opt.null_tokens)
    impl_->max_null_len = std::max(impl_->max_null_len, t.size());
}
Profiler::~Profiler() = default;

absl::Status Profiler::OnHeader(const std::vector<std::string>& columns) {
  Impl& im = *impl_;
  if (im.opt.pinned) {
    const Schema& p = *im.opt.pinned;
    for (const auto& pc : p) {
      if (std::find(columns.begin(), columns.end(), pc.name) == columns.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("line 1: column '", pc.name, "' of the pinned schema is missing"));
      }
    }
    for (const auto& c : columns) {
      bool known =
          std::any_of(p.begin(), p.end(), [&](const ColumnSchema& s) { return s.name == c; });
      if (!known) {
        return absl::InvalidArgumentError(
            absl::StrCat("line 1: column '", c, "' is not in the pinned schema"));
      }
    }
  }
  if (!im.opt.target.empty() &&
      std::find(columns.begin(), columns.end(), im.opt.target) == columns.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target column '", im.opt.target, "' is not in the header"));
  }
  im.cols.resize(columns.size());
  const size_t budget = std::max<size_t>(
      4096, std::min(im.opt.exact_distinct_bytes,
                     im.opt.exact_distinct_bytes_total / std::max<size_t>(1, columns.size())));
  for (size_t i = 0; i < columns.size(); ++i) {
    im.cols[i].name = columns[i];
    im.cols[i].count_budget = budget;
    if (im.opt.pinned) {
      for (const auto& pc : *im.opt.pinned) {
        if (pc.name == columns[i]) im.cols[i].pinned = pc.type;
      }
    }
  }
  im.corr_enabled = columns.size() <= im.opt.max_correlation_columns;
  if (im.corr_enabled) {
    size_t p = columns.size();
    im.sxy = Eigen::MatrixXd::Zero(p, p);
    im.sx = Eigen::MatrixXd::Zero(p, p);
    im.sxx = Eigen::MatrixXd::Zero(p, p);
    im.n = Eigen::MatrixXd::Zero(p, p);
  }
  return absl::OkStatus();
}

// Profiles columns [first, last) of a block. Columns are independent, so disjoint ranges
// run on different threads; each writes only its own columns of `x` and `m` and of
// `numeric`. In `x` a column holds value - shift for the rows with a number (or bool), NaN
// for the others; afterwards the column is finished: when only some rows had a number, its
// `m` column gets the 0/1 mask and its NaNs become 0.
absl::Status Profiler::Impl::ProfileColumns(const RowBlock& block, size_t first, size_t last,
                                            Eigen::MatrixXd& x, Eigen::MatrixXd& m,
                                            std::vector<size_t>& numeric) {
  const size_t nrows = block.rows();
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  for (size_t c = first; c < last; ++c) {
    Column& col = cols[c];
    double* xc = corr_enabled ? x.col(static_cast<Eigen::Index>(c)).data() : nullptr;
    size_t r = 0;
    size_t count = 0;  // rows with a number in xc
    if (!col.maybe_int && col.maybe_float && !col.maybe_bool && !col.maybe_ts &&
        !col.distinct_exact && col.shift_set &&
        (!col.pinned || *col.pinned == ColumnType::kFloat64)) {
      // Writes xc for the rows it covers (NaN for nulls) and returns early at a value that
      // is no float.
      r = ProfileFloatColumn(block, c, xc, &count);
    }
    if (r < nrows) {
      if (xc != nullptr) std::fill(xc + r, xc + nrows, kNaN);
      RETURN_IF_ERROR(ProfileGeneral(block, c, r, xc));
      if (xc != nullptr) {
        count = 0;
        for (size_t i = 0; i < nrows; ++i) count += !std::isnan(xc[i]);
      }
    }
    col.FlushBatch(opt.exact_quantile_limit);
    if (xc == nullptr) continue;
    numeric[c] = count;
    if (count == 0) {
      std::fill(xc, xc + nrows, 0.0);
    } else if (count < nrows) {
      double* mc = m.col(static_cast<Eigen::Index>(c)).data();
      for (size_t i = 0; i < nrows; ++i) {
        bool ok = !std::isnan(xc[i]);
        mc[i] = ok ? 1.0 : 0.0;
        if (!ok) xc[i] = 0.0;
      }
    }
  }
  return absl::OkStatus();
}

// The steady state of a numeric column (a float column past its first distinct values):
// parse, collect, hash. Counters live in locals. Returns the row it stopped at: nrows, or
// the first value that is not a float, for ProfileGeneral to take over.
size_t Profiler::Impl::ProfileFloatColumn(const RowBlock& block, size_t c, double* xc,
                                          size_t* numbers) {
  Column& col = cols[c];
  const size_t nrows = block.rows();
  const bool all_present = block.all_present();
  const RowBlock::ColumnView view = block.column(c);
  // Raw pointers in locals: stores through the byte-typed HLL registers could alias
  // anything, so member pointers would be reloaded after every store.
  const size_t base = col.batch.size();
  col.batch.resize(base + nrows);
  double* out = col.batch.data() + base;
  uint8_t* registers = col.hll.registers();
  int64_t nulls = 0, non_null = 0;
  size_t min_len = col.min_len, max_len = col.max_len;
  const double shift = col.shift;
  size_t r = 0;
  for (; r < nrows; ++r) {
    absl::string_view v = view.Field(r);
    if ((!all_present && !block.Present(r, c)) || IsNull(v)) {
      ++nulls;
      if (xc != nullptr) xc[r] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    double d;
    if (!ParsePlainDecimalPadded(v, &d)) {
      auto f = ParseDouble(v);
      if (!f) break;
      d = *f;
    }
    out[non_null++] = d;
    if (xc != nullptr) xc[r] = d - shift;
    min_len = std::min(min_len, v.size());
    max_len = std::max(max_len, v.size());
    HyperLogLog::Update(registers, Hash64(v));
  }
  col.batch.resize(base + static_cast<size_t>(non_null));
  *numbers = static_cast<size_t>(non_null);
  col.nulls += nulls;
  col.non_null += non_null;
  col.min_len = min_len;
  col.max_len = max_len;
  return r;
}

// Any column, any state: type inference, pinned-type checks, exact distinct counts.
absl::Status Profiler::Impl::ProfileGeneral(const RowBlock& block, size_t c, size_t from,
                                            double* xc) {
  Column& col = cols[c];
  const size_t nrows = block.rows();
  for (size_t r = from; r < nrows; ++r) {
    absl::string_view v = block.Field(r, c);
    if (!block.Present(r, c) || IsNull(v)) {
      ++col.nulls;
      continue;
    }
    ++col.non_null;
    if (col.pinned) {
      ColumnType t = *col.pinned;
      bool ok = true;
      switch (t) {
        case ColumnType::kBool:
          ok = ParseBool(v).has_value();
          break;
        case ColumnType::kInt64:
          ok = ParseInt64(v).has_value();
          break;
        case ColumnType::kFloat64:
          ok = ParseDoublePadded(v).has_value();
          break;
        case ColumnType::kTimestamp:
          ok = ParseTimestamp(v).has_value();
          break;
        default:
          break;
      }
      if (!ok) {
        std::string shown(v.substr(0, 60));
        return absl::InvalidArgumentError(
            absl::StrFormat("line %d: column '%s' is pinned as %s but has the value '%s'",
                            block.Line(r), col.name, ColumnTypeName(t), shown));
      }
    }
    // Numbers.
    if (col.maybe_float) {
      double d = 0;
      bool is_num = false;
      if (col.maybe_int) {
        if (auto i = ParseInt64(v)) {
          d = static_cast<double>(*i);
          is_num = true;
        } else {
          col.maybe_int = false;
        }
      }
      if (!is_num) {
        if (auto f = ParseDoublePadded(v)) {
          d = *f;
          is_num = true;
        } else {
          col.maybe_float = false;
        }
      }
      if (is_num) {
        col.batch.push_back(d);
        if (!col.shift_set) {
          col.shift = d;
          col.shift_set = true;
        }
        if (xc != nullptr) xc[r] = d - col.shift;
      }
    }
    if (col.maybe_bool) {
      if (auto b = ParseBool(v)) {
        col.trues += *b;
        if (xc != nullptr) xc[r] = *b ? 1.0 : 0.0;
      } else {
        col.maybe_bool = false;
      }
    }
    if (col.maybe_ts) {
      if (auto ts = ParseTimestamp(v)) {
        col.ts_min = std::min(col.ts_min, *ts);
        col.ts_max = std::max(col.ts_max, *ts);
      } else {
        col.maybe_ts = false;
      }
    }
    col.min_len = std::min(col.min_len, v.size());
    col.max_len = std::max(col.max_len, v.size());
    if (col.distinct_exact) {
      auto it = col.counts.find(v);
      if (it != col.counts.end()) {
        ++it->second;
      } else {
        col.counts.emplace(std::string(v), 1);
        col.count_bytes += v.size();
        if (col.samples.size() < 5) {
          absl::string_view kept = Utf8Prefix(v, opt.max_value_bytes);
          col.samples_truncated = col.samples_truncated || kept.size() < v.size();
          col.samples.emplace_back(kept);
        }
        if (col.counts.size() > opt.exact_distinct_limit || col.count_bytes > col.count_budget) {
          for (const auto& [k, n] : col.counts) col.hll.Add(k);
          col.counts.clear();
          col.counts.rehash(0);
          col.count_bytes = 0;
          col.distinct_exact = false;
        }
      }
    } else {
      col.hll.Add(v);
    }
  }
  return absl::OkStatus();
}

absl::Status Profiler::OnBlock(const RowBlock& block) {
  Impl& im = *impl_;
  const size_t nrows = block.rows();
  const size_t ncols = im.cols.size();
  const auto rows_i = static_cast<Eigen::Index>(nrows);
  const auto cols_i = static_cast<Eigen::Index>(ncols);
  // This set was last read by the products two blocks ago, which have finished: the ones of
  // the previous block are waited for below before these start.
  Eigen::MatrixXd& x = im.xs[im.current];
  Eigen::MatrixXd& m = im.ms[im.current];
  std::vector<size_t>& numeric = im.numerics[im.current];
  im.current ^= 1;
  // Every column of x is written by the workers; m only where a mask is needed.
  if (im.corr_enabled) {
    x.resize(rows_i, cols_i);
    m.resize(rows_i, cols_i);
  }
  numeric.assign(ncols, 0);
  // The cores take columns one at a time, so a thread that loses its core to the parser
  // does not leave the others waiting at the end of the block.
  size_t threads = std::min<size_t>(ncols, std::max(1u, std::thread::hardware_concurrency()));
  if (nrows * ncols < 20000) threads = 1;
  std::vector<absl::Status> results(ncols);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t c = next++; c < ncols; c = next++) {
      results[c] = im.ProfileColumns(block, c, c + 1, x, m, numeric);
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();
  im.WaitCorrelation();
  for (const auto& r : results) RETURN_IF_ERROR(r);
  if (im.corr_enabled && nrows > 0) {
    im.corr_pending = std::async(std::launch::async, [&im, &x, &m, &numeric, nrows] {
      im.AddCorrelation(x, m, numeric, nrows);
    });
  }
  im.rows += static_cast<int64_t>(nrows);
  return absl::OkStatus();
}

// Adds one block's sums to the correlation accumulators.
void Profiler::Impl::AddCorrelation(const Eigen::MatrixXd& x, Eigen::MatrixXd& m,
                                    const std::vector<size_t>& numeric, size_t nrows) {
  const size_t ncols = numeric.size();
  const auto cols_i = static_cast<Eigen::Index>(ncols);
  // Sums over rows where both columns have a number; the mask keeps pairs complete.
  // Only the lower triangle of the symmetric product is computed (half the work).
  sxy.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  bool uniform = true;  // every column numeric in all rows of the block, or in none
  for (size_t c = 0; c < ncols; ++c) uniform = uniform && (numeric[c] == 0 || numeric[c] == nrows);
  if (uniform) {
    // The masked products reduce to column sums times a 0/1 indicator.
    Eigen::RowVectorXd full(cols_i);
    for (size_t c = 0; c < ncols; ++c) full(static_cast<Eigen::Index>(c)) = numeric[c] > 0;
    Eigen::RowVectorXd s = x.colwise().sum();
    Eigen::RowVectorXd s2 = x.cwiseProduct(x).colwise().sum();
    sx.noalias() += s.transpose() * full;
    sxx.noalias() += s2.transpose() * full;
    n.noalias() += full.transpose() * full * static_cast<double>(nrows);
  } else {
    for (size_t c = 0; c < ncols; ++c) {
      if (numeric[c] == 0 || numeric[c] == nrows) {
        m.col(static_cast<Eigen::Index>(c)).setConstant(numeric[c] > 0 ? 1.0 : 0.0);
      }
    }
    sx.noalias() += x.transpose() * m;
    sxx.noalias() += x.cwiseProduct(x).transpose() * m;
    n.noalias() += m.transpose() * m;
  }
}

int64_t Profiler::rows() const { return impl_->rows; }

namespace {
ColumnType FinalType(const Column& c) {
  if (c.pinned) return *c.pinned;
  if (c.non_null == 0) return ColumnType::kString;
  if (c.maybe_bool) return ColumnType::kBool;
  if (c.maybe_int && c.maybe_float) return ColumnType::kInt64;
  if (c.maybe_float) return ColumnType::kFloat64;
  if (c.maybe_ts) return ColumnType::kTimestamp;
  double distinct = c.distinct_exact ? static_cast<double>(c.counts.size()) : c.hll.Estimate();
  // Few distinct values that repeat: a category, not free text.
  if (distinct <= 1000 && distinct <= 0.5 * static_cast<double>(c.non_null)) {
    return ColumnType::kCategorical;
  }
  return ColumnType::kString;
}

Json Num(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// Sorts numbers without NaN ascending: a least-significant-digit radix sort (six passes
// of 11 bits) on integer keys that order like the doubles, several times faster than a
// comparison sort on the 100,000-value samples.
void SortDoubles(std::vector<double>& v) {
  const size_t n = v.size();
  if (n < 4096) {
    std::sort(v.begin(), v.end());
    return;
  }
  constexpr int kBits = 11, kPasses = 6;
  constexpr size_t kBuckets = size_t{1} << kBits;
  std::vector<uint64_t> a(n), b(n);
  std::vector<size_t> counts(kPasses * kBuckets, 0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t u = std::bit_cast<uint64_t>(v[i]);
    a[i] = (u >> 63) != 0 ? ~u : (u | (uint64_t{1} << 63));
    for (int p = 0; p < kPasses; ++p)
      ++counts[p * kBuckets + ((a[i] >> (p * kBits)) & (kBuckets - 1))];
  }
  for (int p = 0; p < kPasses; ++p) {
    size_t* c = &counts[p * kBuckets];
    const int shift = p * kBits;
    if (c[(a[0] >> shift) & (kBuckets - 1)] == n) continue;  // one bucket: nothing to move
    size_t sum = 0;
    for (size_t k = 0; k < kBuckets; ++k) {
      size_t t = c[k];
      c[k] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; ++i) b[c[(a[i] >> shift) & (kBuckets - 1)]++] = a[i];
    a.swap(b);
  }
  for (size_t i = 0; i < n; ++i) {
    uint64_t k = a[i];
    v[i] = std::bit_cast<double>((k >> 63) != 0 ? (k & ~(uint64_t{1} << 63)) : ~k);
  }
}
}  // namespace

Schema Profiler::InferredSchema() const {
  Schema s;
  for (const auto& c : impl_->cols) s.push_back({c.name, FinalType(c)});
  return s;
}

Json Profiler::ProfileJson() const {
  const Impl& im = *impl_;
  im.WaitCorrelation();
  // Columns are summarised independently (sorting each sample is the bulk of the work), so
  // they are split over the cores.
  std::vector<Json> col_json(im.cols.size());
  auto summarise = [&](size_t i) {
    const Column& c = im.cols[i];
    ColumnType type = FinalType(c);
    int64_t count = c.nulls + c.non_null;
    Json j{
        {"name", c.name},
        {"type", ColumnTypeName(type)},
        {"count", count},
        {"nulls", c.nulls},
        {"null_fraction", count ? static_cast<double>(c.nulls) / static_cast<double>(count) : 0.0}};
    double distinct = c.distinct_exact ? static_cast<double>(c.counts.size()) : c.hll.Estimate();
    j["distinct"] = static_cast<int64_t>(std::llround(distinct));
    j["distinct_exact"] = c.distinct_exact;
    j["samples"] = c.samples;
    if (c.samples_truncated) j["samples_truncated_to_bytes"] = im.opt.max_value_bytes;
    if (c.non_null > 0) {
      j["min_length"] = c.min_len;
      j["max_length"] = c.max_len;
    }
    bool numeric_type = IsNumeric(type) && c.maybe_float;
    if (numeric_type && c.num.n > 0) {
      j["min"] = Num(c.num.min);
      j["max"] = Num(c.num.max);
      j["mean"] = Num(c.num.mean);
      j["std"] = Num(c.num.Std());
      std::vector<double> sorted = c.exact_values;
      SortDoubles(sorted);
      // The mergeable summary stored with the profile: a KLL sketch of the values (of the
      // sample, beyond the exact limit).
      KllSketch sketch;
      for (double v : sorted) sketch.Add(v);
      // Quantiles use linear interpolation between order statistics (numpy's default); on a
      // sample the ends are the true min and max.
      auto q = [&](double p) -> double {
        if (c.sampled && p <= 0) return c.num.min;
        if (c.sampled && p >= 1) return c.num.max;
        double pos = p * static_cast<double>(sorted.size() - 1);
        size_t lo = static_cast<size_t>(std::floor(pos));
        size_t hi = std::min(lo + 1, sorted.size() - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
      };
      Json qs = Json::object();
      for (double p : {0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0}) {
        qs[absl::StrFormat("p%g", p * 100)] = Num(q(p));
      }
      j["quantiles"] = qs;
      j["quantiles_exact"] = !c.sampled;
      // Histogram: equal-width bins over [min, max].
      int bins = im.opt.histogram_bins;
      double lo = c.num.min, hi = c.num.max;
      if (hi <= lo) bins = 1;
      std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
      auto bin_of = [&](double v) {
        if (bins == 1) return size_t{0};
        size_t b = static_cast<size_t>((v - lo) / (hi - lo) * bins);
        return std::min(b, static_cast<size_t>(bins - 1));
      };
      for (double v : sorted) ++counts[bin_of(v)];
      if (c.sampled) {
        // Scale the sample's counts to the column's size; the rounding remainder goes to
        // the fullest bin so the counts still add up to the number of values.
        double scale = static_cast<double>(c.num.n) / static_cast<double>(sorted.size());
        int64_t total = 0;
        size_t fullest = 0;
        for (size_t b = 0; b < counts.size(); ++b) {
          counts[b] = std::llround(static_cast<double>(counts[b]) * scale);
          total += counts[b];
          if (counts[b] > counts[fullest]) fullest = b;
        }
        counts[fullest] += c.num.n - total;
      }
      Json edges = Json::array();
      for (int b = 0; b <= bins; ++b)
        edges.push_back(bins == 1 ? (b == 0 ? lo : hi) : lo + (hi - lo) * b / bins);
      j["histogram"] = Json{{"edges", edges}, {"counts", counts}, {"exact", !c.sampled}};
      j["sketch"] = Json{{"kll", sketch.ToJson()},
                         {"moments",
                          {{"n", c.num.n},
                           {"mean", c.num.mean},
                           {"m2", c.num.m2},
                           {"min", c.num.min},
                           {"max", c.num.max}}}};
    }
    if (type == ColumnType::kBool) {
      j["true_count"] = c.trues;
      j["false_count"] = c.non_null - c.trues;
    }
    if (type == ColumnType::kTimestamp && c.non_null > 0) {
      j["min"] = FormatTimestampMicros(c.ts_min);
      j["max"] = FormatTimestampMicros(c.ts_max);
    }
    if (c.distinct_exact && !c.counts.empty() && type != ColumnType::kFloat64) {
      std::vector<std::pair<std::string, int64_t>> top(c.counts.begin(), c.counts.end());
      size_t k = std::min(top.size(), static_cast<size_t>(im.opt.top_k));
      std::partial_sort(top.begin(), top.begin() + static_cast<long>(k), top.end(),
                        [](const auto& a, const auto& b) {
                          return a.second != b.second ? a.second > b.second : a.first < b.first;
                        });
      Json tj = Json::array();
      for (size_t t = 0; t < k; ++t) {
        absl::string_view kept = Utf8Prefix(top[t].first, im.opt.max_value_bytes);
        Json e{{"value", std::string(kept)}, {"count", top[t].second}};
        if (kept.size() < top[t].first.size()) e["truncated"] = true;
        tj.push_back(std::move(e));
      }
      j["top"] = tj;
    }
    HyperLogLog h = c.hll;
    if (c.distinct_exact) {
      for (const auto& [k, n] : c.counts) h.Add(k);
    }
    j["sketch"]["hll"] = h.ToJson();
    col_json[i] = std::move(j);
  };
  size_t threads =
      std::min<size_t>(im.cols.size(), std::max(1u, std::thread::hardware_concurrency()));
  if (im.rows < 10000) threads = 1;
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = t; i < im.cols.size(); i += threads) summarise(i);
    });
  }
  for (size_t i = 0; i < im.cols.size(); i += threads) summarise(i);
  for (auto& w : workers) w.join();
  Json cols = Json::array();
  for (auto& j : col_json) cols.push_back(std::move(j));
  Json out{{"rows", im.rows}, {"columns", cols}};
  if (im.corr_enabled) {
    // Correlation-eligible: numeric and bool columns.
    std::vector<size_t> idx;
    for (size_t i = 0; i < im.cols.size(); ++i) {
      ColumnType t = FinalType(im.cols[i]);
      if ((IsNumeric(t) && im.cols[i].maybe_float) || t == ColumnType::kBool) idx.push_back(i);
    }
    auto corr = [&](size_t a, size_t b) -> Json {
      auto A = static_cast<Eigen::Index>(a), B = static_cast<Eigen::Index>(b);
      double nn = im.n(A, B);
      if (nn < 2) return nullptr;
      double sa = im.sx(A, B), sb = im.sx(B, A), saa = im.sxx(A, B), sbb = im.sxx(B, A);
      double sab = A >= B ? im.sxy(A, B) : im.sxy(B, A);  // lower triangle
      double cov = sab - sa * sb / nn;
      double va = saa - sa * sa / nn, vb = sbb - sb * sb / nn;
      if (va <= 0 || vb <= 0) return nullptr;
      return std::clamp(cov / std::sqrt(va * vb), -1.0, 1.0);
    };
    Json names = Json::array();
    Json matrix = Json::array();
    for (size_t a : idx) {
      names.push_back(im.cols[a].name);
      Json row = Json::array();
      for (size_t b : idx) row.push_back(a == b ? Json(1.0) : corr(a, b));
      matrix.push_back(row);
    }
    out["correlations"] = Json{{"columns", names}, {"matrix", matrix}, {"method", "pearson"}};
    if (!im.opt.target.empty()) {
      size_t t = 0;
      while (t < im.cols.size() && im.cols[t].name != im.opt.target) ++t;
      bool eligible = std::find(idx.begin(), idx.end(), t) != idx.end();
      Json tc = Json::object();
      if (eligible) {
        for (size_t a : idx) {
          if (a != t) tc[im.cols[a].name] = corr(a, t);
        }
      }
      out["target"] = im.opt.target;
      out["target_correlations"] = tc;
    }
  }
  return out;
}

}  // namespace kade
