#include <sqlite3.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/status.h"
#include "gtest/gtest.h"
#include "store/metadata.h"
#include "tests/util/temp_dir.h"

namespace kade {
namespace {

std::unique_ptr<MetadataStore> Open(const std::string& path) {
  MetadataStoreOptions o;
  o.path = path;
  auto s = MetadataStore::OpenSqlite(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

int UserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  sqlite3_step(st);
  int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(SqliteStoreTest, MigratesFreshDatabaseToLatestVersion) {
  testing::TempDir dir;
  std::string path = dir.path() + "/kade.db";
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion(), LatestSchemaVersion());
  store->Close();
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  // Reopening applies nothing and keeps the data.
  auto again = Open(path);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->SchemaVersion(), LatestSchemaVersion());
}

TEST(SqliteStoreTest, RefusesDatabaseFromNewerVersion) {
  testing::TempDir dir;
  std::string path = dir.path() + "/kade.db";
  Open(path)->Close();
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  std::string sql = "PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 5);
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);

  MetadataStoreOptions o;
  o.path = path;
  auto s = MetadataStore::OpenSqlite(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("newer Kade"), absl::string_view::npos) << s.status();
  // The refused database is untouched.
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion() + 5);
}

TEST(SqliteStoreTest, FailedWriteRollsBackEveryRow) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  absl::Status s = store->Write([](Transaction& tx) -> absl::Status {
    User u;
    u.name = "alice";
    u.created_at = 1;
    RETURN_IF_ERROR(tx.users().Create(u).status());
    Project p;
    p.name = "churn";
    p.created_at = 1;
    RETURN_IF_ERROR(tx.projects().Create(p).status());
    return absl::InternalError("fail after two inserts");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(store
                  ->Read([](Transaction& tx) -> absl::Status {
                    EXPECT_EQ(*tx.users().Count(), 0);
                    EXPECT_TRUE(tx.projects().ListAll()->empty());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST(SqliteStoreTest, CommittedWriteIsVisibleToReaders) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  ASSERT_TRUE(store
                  ->Write([](Transaction& tx) -> absl::Status {
                    User u;
                    u.name = "alice";
                    u.created_at = 1;
                    ASSIGN_OR_RETURN(User created, tx.users().Create(u));
                    Project p;
                    p.name = "churn";
                    p.created_at = 1;
                    ASSIGN_OR_RETURN(Project proj, tx.projects().Create(p));
                    return tx.members().Upsert(proj.id, created.id, Role::kEditor, 1);
                  })
                  .ok());
  ASSERT_TRUE(store
                  ->Read([](Transaction& tx) -> absl::Status {
                    auto u = tx.users().FindByName("alice");
                    EXPECT_TRUE(u.ok() && u->has_value());
                    auto projects = tx.projects().ListForUser((*u)->id);
                    EXPECT_EQ(projects->size(), 1u);
                    auto role = tx.members().RoleOf((*projects)[0].id, (*u)->id);
                    EXPECT_EQ(**role, Role::kEditor);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST(SqliteStoreTest, ReadTransactionCannotWrite) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  absl::Status s = store->Read([](Transaction& tx) -> absl::Status {
    User u;
    u.name = "mallory";
    return tx.users().Create(u).status();
  });
  EXPECT_FALSE(s.ok());
}

TEST(SqliteStoreTest, DuplicateNamesAreAlreadyExists) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  auto create = [&] {
    return store->Write([](Transaction& tx) -> absl::Status {
      Project p;
      p.name = "churn";
      return tx.projects().Create(p).status();
    });
  };
  ASSERT_TRUE(create().ok());
  absl::Status s = create();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("churn"), absl::string_view::npos);
}

TEST(SqliteStoreTest, AuditRowsCannotBeUpdatedOrDeletedThroughSql) {
  testing::TempDir dir;
  std::string path = dir.path() + "/kade.db";
  auto store = Open(path);
  ASSERT_TRUE(store
                  ->Write([](Transaction& tx) -> absl::Status {
                    AuditEntry e;
                    e.seq = 1;
                    e.actor = "a";
                    e.action = "x";
                    e.outcome = "ok";
                    e.prev_hash = "0";
                    e.hash = "h";
                    return tx.audit().Append(&e);
                  })
                  .ok());
  store->Close();
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_log SET actor='b'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_log", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, MetricHistoryMergesTheLogAndOlderRowsInOrderWithoutDuplicates) {
  testing::TempDir dir;
  std::string path = dir.path() + "/kade.db";
  auto store = Open(path);
  int64_t run_id = 0;
  ASSERT_TRUE(store
                  ->Write([&](Transaction& tx) -> absl::Status {
                    Project p;
                    p.name = "p";
                    ASSIGN_OR_RETURN(p, tx.projects().Create(p));
                    Experiment e;
                    e.project_id = p.id;
                    e.name = "e";
                    ASSIGN_OR_RETURN(e, tx.tracking().CreateExperiment(e));
                    kade::Run r;
                    r.uuid = "r1";
                    r.experiment_id = e.id;
                    ASSIGN_OR_RETURN(r, tx.tracking().CreateRun(r));
                    run_id = r.id;
                    std::vector<MetricPoint> batch = {
                        {"loss", 0.5, 0, 20, 2},
                        {"acc", 0.9, 0, 20, 2},
                        {"loss", 0.7, 0, 10, 1},
                        {"loss", 0, 1, 30, 3},  // NaN
                    };
                    RETURN_IF_ERROR(tx.tracking().AddMetrics(r.id, batch));
                    // The same batch again (a client retry): no new points.
                    return tx.tracking().AddMetrics(r.id, batch);
                  })
                  .ok());
  store->Close();
  // A point stored by schema version 3, before the log.
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  std::string sql = "INSERT INTO run_metrics (run_id, key, step, timestamp, value, kind) VALUES (" +
                    std::to_string(run_id) + ", 'loss', 0, 5, 0.9, 0)";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  store = Open(path);
  std::vector<MetricPoint> hist;
  ASSERT_TRUE(store
                  ->Read([&](Transaction& tx) -> absl::Status {
                    ASSIGN_OR_RETURN(hist, tx.tracking().MetricHistory(run_id, "loss"));
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(hist.size(), 4u);
  EXPECT_EQ(hist[0].step, 0);  // by step, then time
  EXPECT_EQ(hist[0].timestamp, 5);
  EXPECT_DOUBLE_EQ(hist[0].value, 0.9);
  EXPECT_EQ(hist[1].step, 1);
  EXPECT_EQ(hist[1].timestamp, 10);
  EXPECT_EQ(hist[2].step, 2);
  EXPECT_EQ(hist[3].step, 3);
  EXPECT_EQ(hist[3].kind, 1);
}

TEST(SqliteStoreTest, AsyncWritesShareCommitsWithSyncWritesAndReportEachResult) {
  testing::TempDir dir;
  MetadataStoreOptions o;
  o.path = dir.path() + "/kade.db";
  auto store = *MetadataStore::OpenSqlite(o);
  absl::Mutex mu;
  int callbacks = 0, ok = 0, failed = 0;
  std::set<std::thread::id> callback_threads, caller_threads;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      {
        absl::MutexLock lock(&mu);
        caller_threads.insert(std::this_thread::get_id());
      }
      for (int i = 0; i < 50; ++i) {
        bool should_fail = i % 10 == 0;
        std::string name = "a" + std::to_string(t) + "-" + std::to_string(i);
        auto change = [name, should_fail](Transaction& tx) -> absl::Status {
          Project p;
          p.name = name;
          p.created_at = 1;
          RETURN_IF_ERROR(tx.projects().Create(p).status());
          if (should_fail) return absl::InternalError("fails after its insert");
          return absl::OkStatus();
        };
        if (t % 2 == 0) {  // half asynchronous, half synchronous, interleaved
          store->WriteAsync(change, [&, should_fail](absl::Status s) {
            absl::MutexLock lock(&mu);
            callback_threads.insert(std::this_thread::get_id());
            ++callbacks;
            (s.ok() ? ok : failed)++;
            EXPECT_EQ(s.ok(), !should_fail) << s;
          });
        } else {
          absl::Status s = store->Write(change);
          absl::MutexLock lock(&mu);
          (s.ok() ? ok : failed)++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 100; }, &callbacks));
    EXPECT_EQ(ok, 4 * 45);
    EXPECT_EQ(failed, 4 * 5);
    // As WriteAsync promises: every callback on the committer thread, none on a caller's
    // (a synchronous writer that led a batch holding asynchronous writes hands them over).
    EXPECT_EQ(callback_threads.size(), 1u);
    for (const auto& id : callback_threads) EXPECT_EQ(caller_threads.count(id), 0u);
  }
  ASSERT_TRUE(store
                  ->Read([&](Transaction& tx) -> absl::Status {
                    auto all = tx.projects().ListAll();
                    EXPECT_EQ(all->size(), 4u * 45);
                    return absl::OkStatus();
                  })
                  .ok());
  // Once the store is closed, an asynchronous write is refused at once.
  store->Close();
  absl::Status after = absl::OkStatus();
  store->WriteAsync([](Transaction&) { return absl::OkStatus(); },
                    [&](absl::Status s) { after = s; });
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable);
}

TEST(SqliteStoreTest, AThrowingWriteFailsAloneAndTheNextWriteCommits) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  auto create = [](std::string name) {
    return [name](Transaction& tx) -> absl::Status {
      Project p;
      p.name = name;
      p.created_at = 1;
      return tx.projects().Create(p).status();
    };
  };
  // Concurrent writers share a batch with the thrower; each gets its own outcome.
  std::vector<std::thread> threads;
  std::atomic<int> committed{0}, thrown{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string name = "p" + std::to_string(t) + "-" + std::to_string(i);
        absl::Status s;
        if (i % 5 == 0) {
          s = store->Write([&](Transaction& tx) -> absl::Status {
            RETURN_IF_ERROR(create(name)(tx));
            throw std::runtime_error("thrown inside the write");
          });
          EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
          EXPECT_NE(s.message().find("thrown inside the write"), absl::string_view::npos) << s;
          ++thrown;
        } else {
          s = store->Write(create(name));
          EXPECT_TRUE(s.ok()) << s;
          ++committed;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(thrown.load(), 16);
  // The next write (synchronous and asynchronous) commits: no leader flag left set.
  EXPECT_TRUE(store->Write(create("after")).ok());
  absl::Notification done;
  absl::Status async_status;
  store->WriteAsync([](Transaction&) -> absl::Status { throw std::runtime_error("async throw"); },
                    [&](absl::Status s) {
                      async_status = s;
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(async_status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(store->Write(create("after-async")).ok());
  ASSERT_TRUE(store
                  ->Read([&](Transaction& tx) -> absl::Status {
                    EXPECT_EQ(tx.projects().ListAll()->size(), 64u + 2);
                    return absl::OkStatus();
                  })
                  .ok());
  // A throwing read returns its connection and fails alone too.
  absl::Status r = store->Read([](Transaction&) -> absl::Status { throw std::runtime_error("r"); });
  EXPECT_EQ(r.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(store->Read([](Transaction&) { return absl::OkStatus(); }).ok());
}

TEST(SqliteStoreTest, IntegrityCheckPasses) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  EXPECT_TRUE(store->CheckIntegrity().ok());
}

}  // namespace
}  // namespace kade

namespace kade {
namespace {

TEST(SqliteStoreTest, ConcurrentWritesCommitTogetherAndFailuresStayIsolated) {
  testing::TempDir dir;
  MetadataStoreOptions o;
  o.path = dir.path() + "/kade.db";
  auto store = *MetadataStore::OpenSqlite(o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, failed{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool should_fail = i % 10 == 0;
        absl::Status s = store->Write([&](Transaction& tx) -> absl::Status {
          Project p;
          p.name = "p" + std::to_string(t) + "-" + std::to_string(i);
          p.created_at = 1;
          RETURN_IF_ERROR(tx.projects().Create(p).status());
          if (should_fail) return absl::InternalError("fails after its insert");
          return absl::OkStatus();
        });
        (s.ok() ? ok : failed)++;
        EXPECT_EQ(s.ok(), !should_fail) << s;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8 * 45);
  EXPECT_EQ(failed.load(), 8 * 5);
  ASSERT_TRUE(store
                  ->Read([&](Transaction& tx) -> absl::Status {
                    auto all = tx.projects().ListAll();
                    EXPECT_EQ(all->size(), 8u * 45);
                    for (const auto& p : *all)
                      EXPECT_NE(p.name.substr(p.name.find('-') + 1), "0");  // failed ones absent
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(store->CheckIntegrity().ok());
}

}  // namespace
}  // namespace kade

namespace kade {
namespace {

TEST(SqliteStoreTest, AliasHistoryRecordsEveryMoveAndFeedbackIsLookedUpAndPruned) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/kade.db");
  ASSERT_NE(store, nullptr);
  int64_t endpoint_id = 0, other_endpoint_id = 0, model_id = 0;
  ASSERT_TRUE(store
                  ->Write([&](Transaction& tx) -> absl::Status {
                    Project p;
                    p.name = "ml";
                    p.created_at = 1;
                    ASSIGN_OR_RETURN(p, tx.projects().Create(p));
                    RegisteredModel m;
                    m.project_id = p.id;
                    m.name = "churn";
                    ASSIGN_OR_RETURN(m, tx.registry().CreateModel(m));
                    model_id = m.id;
                    for (int i = 0; i < 2; ++i) {
                      ModelVersion v;
                      v.model_id = m.id;
                      v.source = "import";
                      v.model_sha256 = "x";
                      v.manifest = "{}";
                      ASSIGN_OR_RETURN(v, tx.registry().CreateVersion(v));
                      EXPECT_EQ(v.version, i + 1);  // numbered per model
                    }
                    RETURN_IF_ERROR(tx.registry().SetAlias(m.id, "champion", 1, "a", 10));
                    RETURN_IF_ERROR(tx.registry().SetAlias(m.id, "champion", 2, "b", 20));
                    RETURN_IF_ERROR(
                        tx.registry().SetAlias(m.id, "champion", std::nullopt, "c", 30));
                    Endpoint e;
                    e.project_id = p.id;
                    e.name = "api";
                    e.model_id = m.id;
                    e.config = "{}";
                    ASSIGN_OR_RETURN(e, tx.endpoints().Create(e));
                    endpoint_id = e.id;
                    Endpoint e2 = e;
                    e2.name = "api2";
                    ASSIGN_OR_RETURN(e2, tx.endpoints().Create(e2));
                    other_endpoint_id = e2.id;
                    std::vector<PredictionRecord> records;
                    for (int64_t ts : {100, 200, 300}) {
                      PredictionRecord r;
                      r.endpoint_id = e.id;
                      r.request_id = "r" + std::to_string(ts);
                      r.ts = ts;
                      r.version = 1;
                      r.features = "[]";
                      r.outputs = "{}";
                      records.push_back(r);
                      if (ts == 100) {
                        r.endpoint_id = e2.id;  // an old entry of a second endpoint
                        records.push_back(r);
                      }
                    }
                    RETURN_IF_ERROR(tx.endpoints().AppendPredictions(records));
                    RETURN_IF_ERROR(tx.endpoints().PutFeedback(e.id, "r100", "true", "a", 100));
                    return tx.endpoints().PutFeedback(e.id, "r300", "false", "a", 300);
                  })
                  .ok());
  ASSERT_TRUE(
      store
          ->Write([&](Transaction& tx) -> absl::Status {
            ASSIGN_OR_RETURN(auto h, tx.registry().AliasHistory(model_id, 10));
            EXPECT_EQ(h.size(), 3u);
            EXPECT_FALSE(h[0].version.has_value());  // removed
            EXPECT_EQ(h[0].previous, 2);
            EXPECT_EQ(h[1].version, 2);
            EXPECT_EQ(h[1].previous, 1);
            EXPECT_FALSE(h[2].previous.has_value());
            ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(model_id));
            EXPECT_TRUE(aliases.empty());
            // The table of versions before 0.9, read once to move it into files.
            ASSIGN_OR_RETURN(auto first, tx.endpoints().PredictionsAfter(endpoint_id, 0, 2));
            EXPECT_EQ(first.size(), 2u);
            EXPECT_EQ(first[0].request_id, "r100");
            EXPECT_EQ(first[1].request_id, "r200");
            RETURN_IF_ERROR(tx.endpoints().DeletePredictionsThrough(endpoint_id, first[1].id));
            ASSIGN_OR_RETURN(auto rest, tx.endpoints().PredictionsAfter(endpoint_id, 0, 10));
            EXPECT_EQ(rest.size(), 1u);
            ASSIGN_OR_RETURN(auto other, tx.endpoints().PredictionsAfter(other_endpoint_id, 0, 10));
            EXPECT_EQ(other.size(), 1u);  // another endpoint's rows are untouched
            // Ground truth: looked up by request id, pruned by age.
            ASSIGN_OR_RETURN(auto labels,
                             tx.endpoints().FeedbackLabels(endpoint_id, {"r100", "r200", "r300"}));
            using Labels = std::map<std::string, std::pair<std::string, int64_t>>;
            EXPECT_EQ(labels, (Labels{{"r100", {"true", 100}}, {"r300", {"false", 300}}}));
            ASSIGN_OR_RETURN(int64_t removed, tx.endpoints().PruneFeedback(250));
            EXPECT_EQ(removed, 1);
            ASSIGN_OR_RETURN(labels, tx.endpoints().FeedbackLabels(endpoint_id, {"r100", "r300"}));
            EXPECT_EQ(labels, (Labels{{"r300", {"false", 300}}}));
            return absl::OkStatus();
          })
          .ok());
}

}  // namespace
}  // namespace kade
