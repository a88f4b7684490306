// tests/data/churn.csv as a training table, profiled and loaded the way the job runner
// does it, for unit tests of training and serving.
#pragma once

#include "absl/status/statusor.h"
#include "ml/train.h"

namespace kade::testing {

absl::StatusOr<ml::Table> LoadChurnTable(const ml::TrainSpec& spec);

}  // namespace kade::testing
