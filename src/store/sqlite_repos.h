// Helpers shared by the SQLite repository implementations, and factories for the ones that
// live in their own files.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/status.h"
#include "store/metadata.h"
#include "store/monitoring.h"
#include "store/sqlite.h"

namespace kade {

// Reads every remaining row of `st` with `read`.
template <typename T, typename F>
absl::StatusOr<std::vector<T>> CollectRows(SqliteStmt& st, F read) {
  std::vector<T> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(read(st));
  }
}

// Reads the first row of `st` with `read`, or nothing when there is none.
template <typename T, typename F>
absl::StatusOr<std::optional<T>> FirstRow(SqliteStmt& st, F read) {
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<T>();
  return std::optional<T>(read(st));
}

std::unique_ptr<DatasetRepository> NewSqliteDatasets(SqliteConn* c);
std::unique_ptr<TrackingRepository> NewSqliteTracking(SqliteConn* c);
std::unique_ptr<JobRepository> NewSqliteJobs(SqliteConn* c);
std::unique_ptr<RegistryRepository> NewSqliteRegistry(SqliteConn* c);
std::unique_ptr<EndpointRepository> NewSqliteEndpoints(SqliteConn* c);
std::unique_ptr<MonitoringRepository> NewSqliteMonitoring(SqliteConn* c);

}  // namespace kade
