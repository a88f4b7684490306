#include "platform/audit_log.h"

#include <sqlite3.h>

#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace kade {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/kade.db";
    MetadataStoreOptions o;
    o.path = path_;
    store_ = *MetadataStore::OpenSqlite(o);
    log_ = std::make_unique<AuditLog>(store_.get());
    RequestContext ctx;
    ctx.principal.user_name = "alice";
    ctx.request_id = "r1";
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(log_->Record(ctx, {"project.create", "project/p" + std::to_string(i), "p"}).ok());
    }
  }
  void Sql(const std::string& sql) {
    store_->Close();
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
    MetadataStoreOptions o;
    o.path = path_;
    store_ = *MetadataStore::OpenSqlite(o);
    log_ = std::make_unique<AuditLog>(store_.get());
  }
  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, IntactChainVerifies) {
  auto r = *log_->Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 5);
  EXPECT_EQ(r.head_seq, 5);
}

TEST_F(AuditLogTest, EditedEntryIsDetected) {
  Sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 3;");
  auto r = *log_->Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 3);
  EXPECT_NE(r.problem.find("modified"), std::string::npos);
}

TEST_F(AuditLogTest, EditedEntryWithRecomputedHashBreaksTheNextLink) {
  // Even a forger who recomputes the edited entry's own hash breaks the next entry's link.
  auto entries = *log_->List(AuditQuery{});
  AuditEntry e = entries[2];  // seq 3 (newest first)
  ASSERT_EQ(e.seq, 3);
  e.actor = "mallory";
  std::string forged = AuditLog::EntryHash(e);
  Sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory', hash = '" +
      forged + "' WHERE seq = 3;");
  auto r = *log_->Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 4);
}

TEST_F(AuditLogTest, DeletedEntryIsDetected) {
  Sql("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;");
  auto r = *log_->Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("entry 2 is missing"), std::string::npos) << r.problem;
}

TEST_F(AuditLogTest, TruncatedTailIsDetected) {
  Sql("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 5;");
  auto r = *log_->Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("removed from the end"), std::string::npos) << r.problem;
}

}  // namespace
}  // namespace kade
