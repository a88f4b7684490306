// MonitoringRepository on SQLite (store/monitoring.h).
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "store/monitoring.h"
#include "store/sqlite_repos.h"

namespace kade {
namespace {

MonitorBucket ReadBucket(SqliteStmt& st) {
  MonitorBucket b;
  b.endpoint_id = st.Int(0);
  b.version = st.Int(1);
  b.width_ms = st.Int(2);
  b.start_ms = st.Int(3);
  b.summary = std::string(st.Bytes(4));
  return b;
}

constexpr char kBucketColumns[] = "endpoint_id, version, width_ms, start_ms, summary";

class SqliteMonitoring : public MonitoringRepository {
 public:
  explicit SqliteMonitoring(SqliteConn* c) : c_(c) {}

  absl::StatusOr<std::optional<MonitorRecord>> FindMonitor(int64_t endpoint_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT endpoint_id, config, updated_by, updated_at "
                                          "FROM monitors WHERE endpoint_id = ?"));
    st.Bind(1, endpoint_id);
    return FirstRow<MonitorRecord>(st, [](SqliteStmt& s) {
      return MonitorRecord{s.Int(0), s.Text(1), s.Text(2), s.Int(3)};
    });
  }

  absl::Status PutMonitor(const MonitorRecord& m) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO monitors (endpoint_id, config, updated_by, "
                                          "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                                          "(endpoint_id) DO UPDATE SET config = excluded.config, "
                                          "updated_by = excluded.updated_by, updated_at = "
                                          "excluded.updated_at"));
    st.Bind(1, m.endpoint_id).Bind(2, m.config).Bind(3, m.updated_by).Bind(4, m.updated_at);
    return st.Run();
  }

  absl::StatusOr<std::optional<MonitorBucket>> FindBucket(int64_t endpoint_id, int64_t version,
                                                          int64_t width_ms,
                                                          int64_t start_ms) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kBucketColumns,
                                  " FROM monitor_buckets WHERE endpoint_id = ? AND version = ? "
                                  "AND width_ms = ? AND start_ms = ?")));
    st.Bind(1, endpoint_id).Bind(2, version).Bind(3, width_ms).Bind(4, start_ms);
    return FirstRow<MonitorBucket>(st, ReadBucket);
  }

  absl::Status PutBucket(const MonitorBucket& b) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("INSERT OR REPLACE INTO monitor_buckets (",
                                              kBucketColumns, ") VALUES (?, ?, ?, ?, ?)")));
    st.Bind(1, b.endpoint_id).Bind(2, b.version).Bind(3, b.width_ms).Bind(4, b.start_ms);
    st.BindBlobStatic(5, b.summary);
    return st.Run();
  }

  absl::StatusOr<std::vector<MonitorBucket>> Buckets(int64_t endpoint_id, int64_t from,
                                                     int64_t to) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kBucketColumns,
                                  " FROM monitor_buckets INDEXED BY monitor_buckets_time WHERE "
                                  "endpoint_id = ? AND start_ms >= ? AND start_ms < ? ORDER BY "
                                  "start_ms")));
    st.Bind(1, endpoint_id).Bind(2, from).Bind(3, to);
    return CollectRows<MonitorBucket>(st, ReadBucket);
  }

  absl::StatusOr<std::vector<MonitorBucket>> BucketsBefore(int64_t width_ms,
                                                           int64_t before) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kBucketColumns,
                                  " FROM monitor_buckets WHERE width_ms = ? AND start_ms < ? "
                                  "ORDER BY endpoint_id, version, start_ms")));
    st.Bind(1, width_ms).Bind(2, before);
    return CollectRows<MonitorBucket>(st, ReadBucket);
  }

  absl::Status DeleteBucket(int64_t endpoint_id, int64_t version, int64_t width_ms,
                            int64_t start_ms) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM monitor_buckets WHERE endpoint_id = ? AND "
                                          "version = ? AND width_ms = ? AND start_ms = ?"));
    st.Bind(1, endpoint_id).Bind(2, version).Bind(3, width_ms).Bind(4, start_ms);
    return st.Run();
  }

  absl::StatusOr<int64_t> PruneBuckets(int64_t before) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM monitor_buckets WHERE start_ms < ?"));
    st.Bind(1, before);
    RETURN_IF_ERROR(st.Run());
    return c_->Changes();
  }

  absl::Status AddKpis(const std::vector<KpiPoint>& points) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO monitor_kpis (endpoint_id, name, ts, value, "
                                          "actor) VALUES (?, ?, ?, ?, ?)"));
    for (const auto& p : points) {
      st.Bind(1, p.endpoint_id).Bind(2, p.name).Bind(3, p.ts).BindDouble(4, p.value);
      st.Bind(5, p.actor);
      RETURN_IF_ERROR(st.Run());
      st.Reset();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<KpiPoint>> Kpis(int64_t endpoint_id, int64_t from,
                                             int64_t to) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT endpoint_id, name, ts, value, actor FROM "
                                          "monitor_kpis WHERE endpoint_id = ? AND ts >= ? AND ts "
                                          "< ? ORDER BY ts"));
    st.Bind(1, endpoint_id).Bind(2, from).Bind(3, to);
    return CollectRows<KpiPoint>(st, [](SqliteStmt& s) {
      return KpiPoint{s.Int(0), s.Text(1), s.Int(2), s.Real(3), s.Text(4)};
    });
  }

  absl::StatusOr<int64_t> PruneKpis(int64_t before) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM monitor_kpis WHERE ts < ?"));
    st.Bind(1, before);
    RETURN_IF_ERROR(st.Run());
    return c_->Changes();
  }

 private:
  SqliteConn* c_;
};

}  // namespace

std::unique_ptr<MonitoringRepository> NewSqliteMonitoring(SqliteConn* c) {
  return std::make_unique<SqliteMonitoring>(c);
}

}  // namespace kade
