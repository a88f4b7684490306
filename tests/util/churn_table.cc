#include "tests/util/churn_table.h"

#include <fstream>
#include <sstream>

#include "core/status.h"
#include "data/ingest.h"

namespace kade::testing {

absl::StatusOr<ml::Table> LoadChurnTable(const ml::TrainSpec& spec) {
  std::ifstream f(std::string(KADE_SOURCE_DIR) + "/tests/data/churn.csv");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string csv = ss.str();
  IngestOptions io;
  Ingest profile_pass(io);
  RETURN_IF_ERROR(profile_pass.Feed(csv));
  ASSIGN_OR_RETURN(IngestResult r, profile_pass.Finish());
  ASSIGN_OR_RETURN(ml::Encoding e, ml::PlanEncoding(spec, r.schema, r.profile, Json::object(),
                                                    DefaultNullTokens()));
  ml::TableBuilder builder(e);
  IngestOptions load;
  load.compute_profile = false;
  load.extra_sinks.push_back(&builder);
  Ingest in(load);
  RETURN_IF_ERROR(in.Feed(csv));
  RETURN_IF_ERROR(in.Finish().status());
  return builder.Finish();
}

}  // namespace kade::testing
