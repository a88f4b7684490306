// Declarative quality checks (expectations) on a dataset, evaluated on every new version:
//   not_null, unique, range {min, max}, allowed_values {values}, regex {pattern},
//   max_null_fraction {value}   — per column, evaluated on every value while it streams
//   row_count {min, max}, schema_compatible, freshness {max_age_hours} — from the result
// Each check is "blocking" (default) or "warning". Row-level checks report the first
// failing line and how many rows failed. Regular expressions use RE2 (linear time, so a
// hostile pattern cannot stall the server).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "data/parsers.h"
#include "data/profile.h"

namespace kade {

struct QualityCheck {
  std::string check;  // kind, as above
  std::string column;
  bool blocking = true;
  Json args = Json::object();  // min, max, values, pattern, value, max_age_hours
};

// Parses and validates a list of checks (unknown kinds, missing arguments, bad regexes).
absl::StatusOr<std::vector<QualityCheck>> ParseQualityChecks(const Json& j);
Json QualityChecksToJson(const std::vector<QualityCheck>& checks);

// Evaluates the row-level checks while rows stream; Report() adds the table-level ones.
class QualityEvaluator : public RecordSink {
 public:
  QualityEvaluator(std::vector<QualityCheck> checks, std::vector<std::string> null_tokens);
  ~QualityEvaluator() override;
  absl::Status OnHeader(const std::vector<std::string>& columns) override;
  absl::Status OnBlock(const RowBlock& block) override;
  // `previous_schema` is the last version's schema (nullopt for the first version);
  // `profile` is this version's profile. Returns {status, checks: [...]}.
  Json Report(int64_t rows, const Schema& schema, const Json& profile,
              const std::optional<Schema>& previous_schema, int64_t now_micros) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kade
