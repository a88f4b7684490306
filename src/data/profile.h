// One-pass profile (EDA) and type inference for a table read as a stream of row blocks.
//
// Per column: count, nulls, distinct (exact up to a bound, then HyperLogLog), min/max/mean/
// std (Welford), quantiles (exact up to a bound, then from a uniform reservoir sample; a KLL
// sketch of them is stored as the mergeable summary), a histogram for numeric
// columns, top categories with counts, sample values, string lengths; for the table: Pearson
// correlations between numeric columns (pairwise complete observations) and with the target.
// The profile JSON carries the sketches so profiles stay mergeable and serialisable (drift
// monitoring compares against them later).
//
// Not thread-safe: one Profiler per stream.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "data/parsers.h"
#include "data/values.h"

namespace kade {

struct ColumnSchema {
  std::string name;
  ColumnType type = ColumnType::kString;
};
using Schema = std::vector<ColumnSchema>;

Json SchemaToJson(const Schema& schema);
// Accepts [{"name": "age", "type": "int64"}, ...] or {"age": "int64", ...}.
absl::StatusOr<Schema> SchemaFromJson(const Json& j);

struct ProfileOptions {
  std::vector<std::string> null_tokens = DefaultNullTokens();
  std::string target;                   // declared target column, or empty
  std::optional<Schema> pinned;         // when set, values must parse as these types
  size_t exact_distinct_limit = 10000;  // beyond: HyperLogLog
  // Bytes of distinct values a column keeps while counting exactly (beyond: HyperLogLog),
  // and for all columns together: 10,000 distinct values of 100 KB each held 1 GB.
  size_t exact_distinct_bytes = 1u << 20;
  size_t exact_distinct_bytes_total = 64u << 20;
  // Sample and top values are stored cut to this many bytes (at a UTF-8 boundary), marked
  // "truncated" in the profile.
  size_t max_value_bytes = 200;
  size_t exact_quantile_limit = 100000;  // beyond: KLL sketch
  size_t max_correlation_columns = 100;
  int histogram_bins = 20;
  int top_k = 10;
};

class Profiler : public RecordSink {
 public:
  explicit Profiler(ProfileOptions options);
  ~Profiler() override;
  absl::Status OnHeader(const std::vector<std::string>& columns) override;
  absl::Status OnBlock(const RowBlock& block) override;

  // Valid after the input ended.
  Schema InferredSchema() const;
  Json ProfileJson() const;
  int64_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kade
