// Parser for search filters and orderings in MLflow's syntax:
//   metrics.auc > 0.9 and params.max_depth = '6' and tags.team LIKE 'risk%'
//   and attributes.status IN ('FINISHED', 'RUNNING')
// Keys may be quoted with backquotes or double quotes (metrics.`val loss`). Only AND joins
// clauses, as in MLflow. Errors name the character position. Pure functions, thread-safe.
//
// Runs, experiments, registered models and model versions each have their own vocabulary
// (which entities and attributes a filter may name); the grammar is the same.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/metadata.h"

namespace kade {

struct FilterVocabulary {
  bool metrics = false, params = false, tags = true;
  std::vector<std::string> attributes;          // bare names allowed, also as attribute.X
  std::vector<std::string> numeric_attributes;  // of those, the ones compared with numbers
  std::vector<std::pair<std::string, std::string>> renames;  // e.g. name -> run_name
};
const FilterVocabulary& RunVocabulary();
const FilterVocabulary& ExperimentVocabulary();    // name, creation_time, last_update_time
const FilterVocabulary& ModelVocabulary();         // name, timestamps
const FilterVocabulary& ModelVersionVocabulary();  // name, version_number, run_id, ...

absl::StatusOr<std::vector<RunClause>> ParseFilter(absl::string_view filter,
                                                   const FilterVocabulary& vocab);
absl::StatusOr<RunOrder> ParseOrder(absl::string_view order_by, const FilterVocabulary& vocab);
inline absl::StatusOr<std::vector<RunClause>> ParseRunFilter(absl::string_view filter) {
  return ParseFilter(filter, RunVocabulary());
}
// "metrics.auc DESC", "attributes.start_time", "params.lr ASC"
inline absl::StatusOr<RunOrder> ParseRunOrder(absl::string_view order_by) {
  return ParseOrder(order_by, RunVocabulary());
}

// Whether a value satisfies a clause in memory (searches over lists the caller holds):
// `text` is the value of a string attribute or tag (nullopt: absent, which only != and
// NOT IN accept); `number` that of a numeric attribute.
bool ClauseMatches(const RunClause& c, const std::optional<std::string>& text,
                   std::optional<double> number = std::nullopt);
// MLflow's LIKE: % any run of characters, _ one character; `fold_case` for ILIKE.
bool LikeMatches(absl::string_view text, absl::string_view pattern, bool fold_case);

}  // namespace kade
