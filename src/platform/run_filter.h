// Parser for run search filters and orderings in MLflow's syntax:
//   metrics.auc > 0.9 and params.max_depth = '6' and tags.team LIKE 'risk%'
//   and attributes.status IN ('FINISHED', 'RUNNING')
// Keys may be quoted with backquotes or double quotes (metrics.`val loss`). Only AND joins
// clauses, as in MLflow. Errors name the character position. Pure functions, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/metadata.h"

namespace kade {

absl::StatusOr<std::vector<RunClause>> ParseRunFilter(absl::string_view filter);
// "metrics.auc DESC", "attributes.start_time", "params.lr ASC"
absl::StatusOr<RunOrder> ParseRunOrder(absl::string_view order_by);

}  // namespace kade
