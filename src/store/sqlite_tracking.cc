// SQLite implementation of TrackingRepository (see metadata.h). Run searches are compiled
// from structured clauses into one SQL statement with bound parameters.
#include <algorithm>
#include <cstring>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "store/sqlite_repos.h"

namespace kade {

namespace {

constexpr char kRunCols[] =
    "r.id, r.uuid, r.experiment_id, r.name, r.user, r.status, r.start_time, r.end_time, "
    "r.lifecycle_stage, r.created_by";

Run ReadRun(const SqliteStmt& s) {
  Run r;
  r.id = s.Int(0);
  r.uuid = s.Text(1);
  r.experiment_id = s.Int(2);
  r.name = s.Text(3);
  r.user = s.Text(4);
  r.status = s.Text(5);
  r.start_time = s.Int(6);
  r.end_time = s.OptInt(7);
  r.lifecycle_stage = s.Text(8);
  r.created_by = s.Text(9);
  return r;
}

// A logged batch of metric points in run_metric_log.data: a version byte (1), then per
// point: key length (u16), key bytes, step (i64), timestamp (i64), kind (u8), value (f64),
// little-endian. Written once, read back by history queries.
constexpr char kMetricLogVersion = 1;

template <typename T>
void PutRaw(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

std::string EncodeMetricBatch(const std::vector<MetricPoint>& points) {
  std::string out;
  size_t size = 1;
  for (const auto& m : points) size += 2 + m.key.size() + 8 + 8 + 1 + 8;
  out.reserve(size);
  out.push_back(kMetricLogVersion);
  for (const auto& m : points) {
    PutRaw<uint16_t>(out, static_cast<uint16_t>(m.key.size()));
    out.append(m.key);
    PutRaw<int64_t>(out, m.step);
    PutRaw<int64_t>(out, m.timestamp);
    PutRaw<uint8_t>(out, static_cast<uint8_t>(m.kind));
    PutRaw<double>(out, m.value);
  }
  return out;
}

// Appends the points of `data` whose key is `key` to `out`.
absl::Status DecodeMetricBatch(absl::string_view data, absl::string_view key,
                               std::vector<MetricPoint>* out) {
  auto corrupt = [] { return absl::DataLossError("a stored metric batch is corrupted"); };
  if (data.empty() || data[0] != kMetricLogVersion) return corrupt();
  size_t pos = 1;
  while (pos < data.size()) {
    uint16_t len;
    if (pos + 2 > data.size()) return corrupt();
    std::memcpy(&len, data.data() + pos, 2);
    pos += 2;
    if (pos + len + 25 > data.size()) return corrupt();
    absl::string_view k = data.substr(pos, len);
    pos += len;
    if (k == key) {
      MetricPoint m;
      m.key = std::string(k);
      std::memcpy(&m.step, data.data() + pos, 8);
      std::memcpy(&m.timestamp, data.data() + pos + 8, 8);
      m.kind = static_cast<unsigned char>(data[pos + 16]);
      std::memcpy(&m.value, data.data() + pos + 17, 8);
      out->push_back(std::move(m));
    }
    pos += 25;
  }
  return absl::OkStatus();
}

MetricPoint ReadMetric(const SqliteStmt& s) {
  MetricPoint m;
  m.key = s.Text(0);
  m.step = s.Int(1);
  m.timestamp = s.Int(2);
  m.value = s.IsNull(3) ? 0 : s.Real(3);
  m.kind = static_cast<int>(s.Int(4));
  return m;
}

// MLflow's LIKE is case-sensitive; SQLite's is not, so LIKE becomes GLOB.
std::string LikeToGlob(absl::string_view like) {
  std::string out;
  for (char c : like) {
    if (c == '%')
      out += '*';
    else if (c == '_')
      out += '?';
    else if (c == '*' || c == '?' || c == '[')
      absl::StrAppend(&out, "[", std::string(1, c), "]");
    else
      out += c;
  }
  return out;
}

using Arg = std::variant<int64_t, double, std::string>;

class SqliteTracking : public TrackingRepository {
 public:
  explicit SqliteTracking(SqliteConn* c) : c_(c) {}

  absl::StatusOr<Experiment> CreateExperiment(const Experiment& e) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO experiments (project_id, name, lifecycle_stage, "
                                 "created_at, updated_at) VALUES (?,?,?,?,?)"));
    st.Bind(1, e.project_id)
        .Bind(2, e.name)
        .Bind(3, e.lifecycle_stage)
        .Bind(4, e.created_at)
        .Bind(5, e.updated_at);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("experiment '", e.name, "' already exists"));
    }
    RETURN_IF_ERROR(s);
    Experiment out = e;
    out.id = c_->LastInsertId();
    for (const auto& [k, v] : e.tags) RETURN_IF_ERROR(SetExperimentTag(out.id, k, v));
    return out;
  }

  absl::StatusOr<std::optional<Experiment>> FindExperiment(int64_t id) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT id, project_id, name, lifecycle_stage, "
                                          "created_at, updated_at FROM experiments WHERE id = ?"));
    st.Bind(1, id);
    ASSIGN_OR_RETURN(auto e, FirstRow<Experiment>(st, ReadExperiment));
    if (e) RETURN_IF_ERROR(LoadTags(&*e));
    return e;
  }

  absl::StatusOr<std::optional<Experiment>> FindExperimentByName(int64_t project_id,
                                                                 absl::string_view name) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "SELECT id, project_id, name, lifecycle_stage, created_at, updated_at FROM experiments "
            "WHERE project_id = ? AND name = ?"));
    st.Bind(1, project_id).Bind(2, name);
    ASSIGN_OR_RETURN(auto e, FirstRow<Experiment>(st, ReadExperiment));
    if (e) RETURN_IF_ERROR(LoadTags(&*e));
    return e;
  }

  absl::StatusOr<std::vector<Experiment>> ListExperiments(const std::vector<int64_t>& project_ids,
                                                          absl::string_view view) override {
    if (project_ids.empty()) return std::vector<Experiment>();
    std::string sql = absl::StrCat(
        "SELECT id, project_id, name, lifecycle_stage, created_at, updated_at FROM experiments "
        "WHERE project_id IN (",
        absl::StrJoin(std::vector<std::string>(project_ids.size(), "?"), ","), ")");
    if (view == "active") sql += " AND lifecycle_stage = 'active'";
    if (view == "deleted") sql += " AND lifecycle_stage = 'deleted'";
    sql += " ORDER BY id DESC";
    ASSIGN_OR_RETURN(auto st, c_->PrepareUncached(sql));
    for (size_t i = 0; i < project_ids.size(); ++i)
      st.Bind(static_cast<int>(i + 1), project_ids[i]);
    ASSIGN_OR_RETURN(auto list, CollectRows<Experiment>(st, ReadExperiment));
    for (auto& e : list) RETURN_IF_ERROR(LoadTags(&e));
    return list;
  }

  absl::Status UpdateExperiment(const Experiment& e) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare(
            "UPDATE experiments SET name = ?, lifecycle_stage = ?, updated_at = ? WHERE id = ?"));
    st.Bind(1, e.name).Bind(2, e.lifecycle_stage).Bind(3, e.updated_at).Bind(4, e.id);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s))
      return absl::AlreadyExistsError(absl::StrCat("experiment '", e.name, "' already exists"));
    return s;
  }

  absl::Status SetExperimentTag(int64_t experiment_id, absl::string_view key,
                                absl::string_view value) override {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?,?,?) "
                    "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value"));
    st.Bind(1, experiment_id).Bind(2, key).Bind(3, value);
    return st.Run();
  }

  absl::StatusOr<Run> CreateRun(const Run& r) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO runs (uuid, experiment_id, name, user, "
                                          "status, start_time, end_time, lifecycle_stage, "
                                          "created_by) VALUES (?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, r.uuid).Bind(2, r.experiment_id).Bind(3, r.name).Bind(4, r.user).Bind(5, r.status);
    st.Bind(6, r.start_time).Bind(7, r.end_time).Bind(8, r.lifecycle_stage).Bind(9, r.created_by);
    RETURN_IF_ERROR(st.Run());
    Run out = r;
    out.id = c_->LastInsertId();
    return out;
  }

  absl::StatusOr<std::optional<Run>> FindRun(absl::string_view uuid) override {
    ASSIGN_OR_RETURN(
        auto st, c_->Prepare(absl::StrCat("SELECT ", kRunCols, " FROM runs r WHERE r.uuid = ?")));
    st.Bind(1, uuid);
    return FirstRow<Run>(st, ReadRun);
  }

  absl::Status UpdateRun(const Run& r) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("UPDATE runs SET name = ?, status = ?, end_time = ?, "
                                          "lifecycle_stage = ? WHERE id = ?"));
    st.Bind(1, r.name)
        .Bind(2, r.status)
        .Bind(3, r.end_time)
        .Bind(4, r.lifecycle_stage)
        .Bind(5, r.id);
    return st.Run();
  }

  absl::Status PutParam(int64_t run_id, absl::string_view key, absl::string_view value) override {
    ASSIGN_OR_RETURN(auto find,
                     c_->Prepare("SELECT value FROM run_params WHERE run_id = ? AND key = ?"));
    find.Bind(1, run_id).Bind(2, key);
    ASSIGN_OR_RETURN(bool exists, find.Step());
    if (exists) {
      std::string old = find.Text(0);
      if (old == value) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat("param '", key, "' already has the value '",
                                                     old, "'; params cannot be changed (got '",
                                                     value, "')"));
    }
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO run_params (run_id, key, value) VALUES (?,?,?)"));
    st.Bind(1, run_id).Bind(2, key).Bind(3, value);
    return st.Run();
  }

  absl::Status PutTag(int64_t run_id, absl::string_view key, absl::string_view value) override {
    ASSIGN_OR_RETURN(auto st,
                     c_->Prepare("INSERT INTO run_tags (run_id, key, value) VALUES (?,?,?) "
                                 "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"));
    st.Bind(1, run_id).Bind(2, key).Bind(3, value);
    return st.Run();
  }

  absl::StatusOr<bool> DeleteTag(int64_t run_id, absl::string_view key) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("DELETE FROM run_tags WHERE run_id = ? AND key = ?"));
    st.Bind(1, run_id).Bind(2, key);
    RETURN_IF_ERROR(st.Run());
    return c_->Changes() > 0;
  }

  absl::Status AddMetrics(int64_t run_id, const std::vector<MetricPoint>& points) override {
    // History: the batch is one appended row (see run_metric_log in migrations.cc).
    if (!points.empty()) {
      std::string data = EncodeMetricBatch(points);
      ASSIGN_OR_RETURN(auto ins, c_->Prepare("INSERT INTO run_metric_log (run_id, points, data) "
                                             "VALUES (?, ?, ?)"));
      ins.Bind(1, run_id).Bind(2, static_cast<int64_t>(points.size())).BindBlobStatic(3, data);
      RETURN_IF_ERROR(ins.Run());
    }
    // Latest value: only the newest point of each key in this batch is upserted.
    absl::flat_hash_map<std::string, const MetricPoint*> newest;
    for (const auto& m : points) {
      auto [it, inserted] = newest.emplace(m.key, &m);
      if (!inserted && (m.step > it->second->step ||
                        (m.step == it->second->step && m.timestamp >= it->second->timestamp))) {
        it->second = &m;
      }
    }
    ASSIGN_OR_RETURN(auto latest,
                     c_->Prepare("INSERT INTO run_latest_metrics (run_id, key, step, timestamp, "
                                 "value, kind) VALUES (?,?,?,?,?,?) "
                                 "ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, "
                                 "timestamp = excluded.timestamp, "
                                 "value = excluded.value, kind = excluded.kind "
                                 "WHERE excluded.step > run_latest_metrics.step OR (excluded.step "
                                 "= run_latest_metrics.step AND "
                                 "excluded.timestamp >= run_latest_metrics.timestamp)"));
    for (const auto& [key, m] : newest) {
      latest.Bind(1, run_id).Bind(2, m->key).Bind(3, m->step).Bind(4, m->timestamp);
      if (m->kind == 1)
        latest.BindNull(5);
      else
        latest.BindDouble(5, m->value);
      latest.Bind(6, int64_t{m->kind});
      RETURN_IF_ERROR(latest.Run());
      latest.Reset();
    }
    return absl::OkStatus();
  }

  absl::Status AddInput(int64_t run_id, const RunInput& in) override {
    ASSIGN_OR_RETURN(auto st, c_->Prepare("INSERT INTO run_inputs (run_id, name, digest, source, "
                                          "role, detail) VALUES (?,?,?,?,?,?) "
                                          "ON CONFLICT (run_id, name, digest) DO UPDATE SET role = "
                                          "excluded.role, detail = excluded.detail"));
    st.Bind(1, run_id)
        .Bind(2, in.name)
        .Bind(3, in.digest)
        .Bind(4, in.source)
        .Bind(5, in.role)
        .Bind(6, in.detail);
    return st.Run();
  }

  absl::StatusOr<RunData> GetRunData(int64_t run_id) override {
    RunData d;
    auto pairs = [](const SqliteStmt& s) { return std::make_pair(s.Text(0), s.Text(1)); };
    ASSIGN_OR_RETURN(
        auto p, c_->Prepare("SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key"));
    p.Bind(1, run_id);
    ASSIGN_OR_RETURN(d.params, (CollectRows<std::pair<std::string, std::string>>(p, pairs)));
    ASSIGN_OR_RETURN(auto t,
                     c_->Prepare("SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key"));
    t.Bind(1, run_id);
    ASSIGN_OR_RETURN(d.tags, (CollectRows<std::pair<std::string, std::string>>(t, pairs)));
    ASSIGN_OR_RETURN(auto m, c_->Prepare("SELECT key, step, timestamp, value, kind FROM "
                                         "run_latest_metrics WHERE run_id = ? ORDER BY key"));
    m.Bind(1, run_id);
    ASSIGN_OR_RETURN(d.metrics, CollectRows<MetricPoint>(m, ReadMetric));
    ASSIGN_OR_RETURN(auto i, c_->Prepare("SELECT name, digest, source, role, detail FROM "
                                         "run_inputs WHERE run_id = ? ORDER BY name"));
    i.Bind(1, run_id);
    ASSIGN_OR_RETURN(d.inputs, CollectRows<RunInput>(i, [](const SqliteStmt& s) {
                       return RunInput{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)};
                     }));
    return d;
  }

  absl::StatusOr<std::vector<RunData>> GetRunDataBulk(
      const std::vector<int64_t>& run_ids) override {
    std::vector<RunData> out(run_ids.size());
    if (run_ids.empty()) return out;
    absl::flat_hash_map<int64_t, size_t> index;
    for (size_t i = 0; i < run_ids.size(); ++i) index[run_ids[i]] = i;
    // One query per kind of data for the whole page, in chunks that fit SQLite's
    // parameter limit.
    constexpr size_t kChunk = 500;
    for (size_t start = 0; start < run_ids.size(); start += kChunk) {
      size_t n = std::min(kChunk, run_ids.size() - start);
      std::string in = absl::StrJoin(std::vector<std::string>(n, "?"), ",");
      auto bind = [&](SqliteStmt& st) {
        for (size_t i = 0; i < n; ++i) st.Bind(static_cast<int>(i + 1), run_ids[start + i]);
      };
      ASSIGN_OR_RETURN(auto p, c_->PrepareUncached(absl::StrCat(
                                   "SELECT run_id, key, value FROM run_params WHERE run_id IN (",
                                   in, ") ORDER BY run_id, key")));
      bind(p);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, p.Step());
        if (!row) break;
        out[index[p.Int(0)]].params.emplace_back(p.Text(1), p.Text(2));
      }
      ASSIGN_OR_RETURN(auto t, c_->PrepareUncached(absl::StrCat(
                                   "SELECT run_id, key, value FROM run_tags WHERE run_id IN (", in,
                                   ") ORDER BY run_id, key")));
      bind(t);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, t.Step());
        if (!row) break;
        out[index[t.Int(0)]].tags.emplace_back(t.Text(1), t.Text(2));
      }
      ASSIGN_OR_RETURN(
          auto m, c_->PrepareUncached(absl::StrCat("SELECT run_id, key, step, timestamp, value, "
                                                   "kind FROM run_latest_metrics WHERE run_id IN (",
                                                   in, ") ORDER BY run_id, key")));
      bind(m);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, m.Step());
        if (!row) break;
        MetricPoint mp;
        mp.key = m.Text(1);
        mp.step = m.Int(2);
        mp.timestamp = m.Int(3);
        mp.value = m.IsNull(4) ? 0 : m.Real(4);
        mp.kind = static_cast<int>(m.Int(5));
        out[index[m.Int(0)]].metrics.push_back(std::move(mp));
      }
      ASSIGN_OR_RETURN(
          auto i,
          c_->PrepareUncached(absl::StrCat(
              "SELECT run_id, name, digest, source, role, detail FROM run_inputs WHERE run_id IN (",
              in, ") ORDER BY run_id, name")));
      bind(i);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, i.Step());
        if (!row) break;
        out[index[i.Int(0)]].inputs.push_back(
            RunInput{i.Text(1), i.Text(2), i.Text(3), i.Text(4), i.Text(5)});
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<MetricPoint>> MetricHistory(int64_t run_id,
                                                         absl::string_view key) override {
    // Points logged before schema version 4, then the batch log.
    ASSIGN_OR_RETURN(auto st, c_->Prepare("SELECT key, step, timestamp, value, kind FROM "
                                          "run_metrics WHERE run_id = ? AND key = ?"));
    st.Bind(1, run_id).Bind(2, key);
    ASSIGN_OR_RETURN(std::vector<MetricPoint> out, CollectRows<MetricPoint>(st, ReadMetric));
    ASSIGN_OR_RETURN(auto log, c_->Prepare("SELECT data FROM run_metric_log WHERE run_id = ? "
                                           "ORDER BY id"));
    log.Bind(1, run_id);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, log.Step());
      if (!row) break;
      RETURN_IF_ERROR(DecodeMetricBatch(log.Bytes(0), key, &out));
    }
    // In step and time order; a point logged twice identically is one point (as in MLflow,
    // whose metrics table is keyed on all of a point's fields).
    auto order = [](const MetricPoint& a, const MetricPoint& b) {
      if (a.step != b.step) return a.step < b.step;
      if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
      if (a.kind != b.kind) return a.kind < b.kind;
      return a.kind == 0 && a.value < b.value;
    };
    std::stable_sort(out.begin(), out.end(), order);
    out.erase(std::unique(out.begin(), out.end(),
                          [&](const MetricPoint& a, const MetricPoint& b) {
                            return !order(a, b) && !order(b, a);
                          }),
              out.end());
    return out;
  }

  absl::StatusOr<std::vector<Run>> SearchRuns(const RunQuery& q) override {
    if (q.experiment_ids.empty()) return std::vector<Run>();
    // Metric, param and tag conditions and sort keys are joins on the (run_id, key) primary
    // keys (at most one row each), so each costs one index lookup per run; correlated
    // subqueries cost one per use, and a sort key is used twice.
    std::vector<Arg> join_args, where_args;
    std::string joins, where;
    int alias = 0;
    for (int64_t id : q.experiment_ids) where_args.emplace_back(id);
    where = absl::StrCat("r.experiment_id IN (",
                         absl::StrJoin(std::vector<std::string>(q.experiment_ids.size(), "?"), ","),
                         ")");
    if (q.view == "active") where += " AND r.lifecycle_stage = 'active'";
    if (q.view == "deleted") where += " AND r.lifecycle_stage = 'deleted'";
    auto join = [&](const std::string& entity, const std::string& key, bool left) {
      std::string a = absl::StrCat("j", alias++);
      const char* table = entity == "metric"  ? "run_latest_metrics"
                          : entity == "param" ? "run_params"
                                              : "run_tags";
      absl::StrAppend(&joins, left ? " LEFT JOIN " : " JOIN ", table, " ", a, " ON ", a,
                      ".run_id = r.id AND ", a, ".key = ?");
      join_args.emplace_back(key);
      return a;
    };
    for (const RunClause& c : q.clauses) {
      std::string column;
      if (c.entity == "metric") {
        std::string a = join(c.entity, c.key, false);
        absl::StrAppend(&where, " AND ", a, ".kind = 0");
        column = a + ".value";
      } else if (c.entity == "param" || c.entity == "tag") {
        column = join(c.entity, c.key, false) + ".value";
      } else {
        static const std::pair<const char*, const char*> kAttrs[] = {
            {"status", "r.status"},     {"run_name", "r.name"}, {"start_time", "r.start_time"},
            {"end_time", "r.end_time"}, {"user_id", "r.user"},  {"run_id", "r.uuid"}};
        for (const auto& [name, col] : kAttrs) {
          if (c.key == name) column = col;
        }
        if (column.empty())
          return absl::InvalidArgumentError(absl::StrCat("unknown attribute '", c.key, "'"));
      }
      std::string test;
      if (c.op == "IN" || c.op == "NOT IN") {
        test =
            absl::StrCat(column, " ", c.op, " (",
                         absl::StrJoin(std::vector<std::string>(c.strings.size(), "?"), ","), ")");
        for (const auto& v : c.strings) where_args.emplace_back(v);
      } else if (c.op == "LIKE") {
        test = absl::StrCat(column, " GLOB ?");
        where_args.emplace_back(LikeToGlob(c.strings.at(0)));
      } else if (c.op == "ILIKE") {
        test = absl::StrCat("lower(", column, ") LIKE lower(?)");
        where_args.emplace_back(c.strings.at(0));
      } else {
        test = absl::StrCat(column, " ", c.op, " ?");
        if (c.numeric)
          where_args.emplace_back(c.number);
        else
          where_args.emplace_back(c.strings.at(0));
      }
      absl::StrAppend(&where, " AND ", test);
    }
    std::string order;
    for (const RunOrder& o : q.order_by) {
      std::string expr;
      if (o.entity == "metric") {
        std::string a = join(o.entity, o.key, true);
        expr = absl::StrCat("(CASE WHEN ", a, ".kind = 0 THEN ", a, ".value END)");
      } else if (o.entity == "param" || o.entity == "tag") {
        expr = join(o.entity, o.key, true) + ".value";
      } else {
        static const std::pair<const char*, const char*> kAttrs[] = {
            {"status", "r.status"},     {"run_name", "r.name"}, {"start_time", "r.start_time"},
            {"end_time", "r.end_time"}, {"user_id", "r.user"},  {"run_id", "r.uuid"}};
        for (const auto& [name, col] : kAttrs) {
          if (o.key == name) expr = col;
        }
        if (expr.empty())
          return absl::InvalidArgumentError(
              absl::StrCat("cannot order by attribute '", o.key, "'"));
      }
      // Runs without the value sort last either way.
      absl::StrAppend(&order, order.empty() ? "" : ", ", expr, " IS NULL, ", expr,
                      o.ascending ? " ASC" : " DESC");
    }
    // Ties as MLflow breaks them: newest start first, then by run id.
    absl::StrAppend(&order, order.empty() ? "" : ", ", "r.start_time DESC, r.uuid ASC");
    std::string sql = absl::StrCat("SELECT ", kRunCols, " FROM runs r", joins, " WHERE ", where,
                                   " ORDER BY ", order, " LIMIT ? OFFSET ?");
    std::vector<Arg> args = std::move(join_args);
    for (auto& a : where_args) args.push_back(std::move(a));
    args.emplace_back(q.limit);
    args.emplace_back(q.offset);
    ASSIGN_OR_RETURN(auto st, c_->PrepareUncached(sql));
    for (size_t i = 0; i < args.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      if (auto* v = std::get_if<int64_t>(&args[i]))
        st.Bind(idx, *v);
      else if (auto* d = std::get_if<double>(&args[i]))
        st.BindDouble(idx, *d);
      else
        st.Bind(idx, std::get<std::string>(args[i]));
    }
    return CollectRows<Run>(st, ReadRun);
  }

 private:
  static Experiment ReadExperiment(const SqliteStmt& s) {
    Experiment e;
    e.id = s.Int(0);
    e.project_id = s.Int(1);
    e.name = s.Text(2);
    e.lifecycle_stage = s.Text(3);
    e.created_at = s.Int(4);
    e.updated_at = s.Int(5);
    return e;
  }
  absl::Status LoadTags(Experiment* e) {
    ASSIGN_OR_RETURN(
        auto st,
        c_->Prepare("SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key"));
    st.Bind(1, e->id);
    ASSIGN_OR_RETURN(e->tags,
                     (CollectRows<std::pair<std::string, std::string>>(st, [](const SqliteStmt& s) {
                       return std::make_pair(s.Text(0), s.Text(1));
                     })));
    return absl::OkStatus();
  }
  SqliteConn* c_;
};

}  // namespace

std::unique_ptr<TrackingRepository> NewSqliteTracking(SqliteConn* c) {
  return std::make_unique<SqliteTracking>(c);
}

}  // namespace kade
