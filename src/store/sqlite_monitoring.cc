// MonitoringRepository on SQLite (store/monitoring.h).
#include "absl/strings/match.h"
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

constexpr char kRuleColumns[] =
    "id, project_id, name, spec, state, state_since, active_since, value, evaluated_at, "
    "silenced_until, acknowledged_by, created_by, created_at, updated_at";

AlertRuleRecord ReadRule(SqliteStmt& st) {
  AlertRuleRecord r;
  r.id = st.Int(0);
  r.project_id = st.Int(1);
  r.name = st.Text(2);
  r.spec = st.Text(3);
  r.state = st.Text(4);
  r.state_since = st.Int(5);
  r.active_since = st.Int(6);
  if (!st.IsNull(7)) r.value = st.Real(7);
  r.evaluated_at = st.Int(8);
  r.silenced_until = st.Int(9);
  r.acknowledged_by = st.Text(10);
  r.created_by = st.Text(11);
  r.created_at = st.Int(12);
  r.updated_at = st.Int(13);
  return r;
}

constexpr char kDeliveryColumns[] =
    "id, channel_id, rule_id, body, attempts, next_at, last_error, delivered_at, created_at";

AlertDelivery ReadDelivery(SqliteStmt& st) {
  return AlertDelivery{st.Int(0), st.Int(1),  st.Int(2), st.Text(3), st.Int(4),
                       st.Int(5), st.Text(6), st.Int(7), st.Int(8)};
}

void BindOptional(SqliteStmt& st, int i, const std::optional<double>& v) {
  if (v) {
    st.BindDouble(i, *v);
  } else {
    st.BindNull(i);
  }
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

  absl::StatusOr<AlertChannel> CreateChannel(const AlertChannel& c) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO alert_channels (project_id, name, kind, url, "
                                 "secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, "
                                 "?, ?)"));
    st.Bind(1, c.project_id).Bind(2, c.name).Bind(3, c.kind).Bind(4, c.url).Bind(5, c.secret);
    st.Bind(6, c.created_by).Bind(7, c.created_at);
    absl::Status s = st.Run();
    if (!s.ok() && absl::StrContains(s.message(), "UNIQUE")) {
      return absl::AlreadyExistsError(absl::StrCat("channel '", c.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    AlertChannel out = c;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::vector<AlertChannel>> Channels(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT id, project_id, name, kind, url, secret, "
                                          "created_by, created_at FROM alert_channels WHERE "
                                          "project_id = ? ORDER BY name"));
    st.Bind(1, project_id);
    return CollectRows<AlertChannel>(st, [](SqliteStmt& s) {
      return AlertChannel{s.Int(0),  s.Int(1),  s.Text(2), s.Text(3),
                          s.Text(4), s.Text(5), s.Text(6), s.Int(7)};
    });
  }

  absl::Status DeleteChannel(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM alert_channels WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  absl::StatusOr<AlertRuleRecord> CreateRule(const AlertRuleRecord& r) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO alert_rules (project_id, name, spec, state, "
                                          "state_since, created_by, created_at, updated_at) "
                                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, r.project_id).Bind(2, r.name).Bind(3, r.spec).Bind(4, r.state);
    st.Bind(5, r.state_since).Bind(6, r.created_by).Bind(7, r.created_at).Bind(8, r.updated_at);
    absl::Status s = st.Run();
    if (!s.ok() && absl::StrContains(s.message(), "UNIQUE")) {
      return absl::AlreadyExistsError(absl::StrCat("alert rule '", r.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    AlertRuleRecord out = r;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::vector<AlertRuleRecord>> Rules(int64_t project_id) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare(absl::StrCat("SELECT ", kRuleColumns,
                                              " FROM alert_rules WHERE ? = 0 OR "
                                              "project_id = ? ORDER BY project_id, name")));
    st.Bind(1, project_id).Bind(2, project_id);
    return CollectRows<AlertRuleRecord>(st, ReadRule);
  }

  absl::Status UpdateRule(const AlertRuleRecord& r) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE alert_rules SET spec = ?, state = ?, state_since "
                                          "= ?, active_since = ?, value = ?, evaluated_at = ?, "
                                          "silenced_until = ?, acknowledged_by = ?, updated_at = ? "
                                          "WHERE id = ?"));
    st.Bind(1, r.spec).Bind(2, r.state).Bind(3, r.state_since).Bind(4, r.active_since);
    BindOptional(st, 5, r.value);
    st.Bind(6, r.evaluated_at).Bind(7, r.silenced_until).Bind(8, r.acknowledged_by);
    st.Bind(9, r.updated_at).Bind(10, r.id);
    return st.Run();
  }

  absl::Status DeleteRule(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM alert_rules WHERE id = ?"));
    st.Bind(1, id);
    return st.Run();
  }

  absl::Status AddEvent(const AlertEvent& e) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO alert_events (rule_id, ts, state, value, "
                                          "message) VALUES (?, ?, ?, ?, ?)"));
    st.Bind(1, e.rule_id).Bind(2, e.ts).Bind(3, e.state);
    BindOptional(st, 4, e.value);
    st.Bind(5, e.message);
    return st.Run();
  }

  absl::StatusOr<std::vector<AlertEvent>> Events(int64_t rule_id, int64_t limit) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("SELECT id, rule_id, ts, state, value, message FROM "
                                 "alert_events WHERE rule_id = ? ORDER BY id DESC LIMIT ?"));
    st.Bind(1, rule_id).Bind(2, limit);
    return CollectRows<AlertEvent>(st, [](SqliteStmt& s) {
      AlertEvent e{s.Int(0), s.Int(1), s.Int(2), s.Text(3), std::nullopt, s.Text(5)};
      if (!s.IsNull(4)) e.value = s.Real(4);
      return e;
    });
  }

  absl::Status AddDelivery(const AlertDelivery& d) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO alert_deliveries (channel_id, rule_id, body, "
                                 "attempts, next_at, created_at) VALUES (?, ?, ?, 0, ?, ?)"));
    st.Bind(1, d.channel_id).Bind(2, d.rule_id).Bind(3, d.body).Bind(4, d.next_at);
    st.Bind(5, d.created_at);
    return st.Run();
  }

  absl::StatusOr<std::vector<AlertDelivery>> DueDeliveries(int64_t now, int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat(
                                  "SELECT ", kDeliveryColumns,
                                  " FROM alert_deliveries WHERE delivered_at = 0 AND next_at <= ? "
                                  "ORDER BY next_at LIMIT ?")));
    st.Bind(1, now).Bind(2, limit);
    return CollectRows<AlertDelivery>(st, ReadDelivery);
  }

  absl::Status UpdateDelivery(const AlertDelivery& d) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE alert_deliveries SET attempts = ?, next_at = ?, "
                                          "last_error = ?, delivered_at = ? WHERE id = ?"));
    st.Bind(1, d.attempts).Bind(2, d.next_at).Bind(3, d.last_error).Bind(4, d.delivered_at);
    st.Bind(5, d.id);
    return st.Run();
  }

  absl::StatusOr<std::vector<AlertDelivery>> Deliveries(int64_t rule_id, int64_t limit) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare(absl::StrCat("SELECT ", kDeliveryColumns,
                                                       " FROM alert_deliveries WHERE rule_id = ? "
                                                       "ORDER BY id DESC LIMIT ?")));
    st.Bind(1, rule_id).Bind(2, limit);
    return CollectRows<AlertDelivery>(st, ReadDelivery);
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
