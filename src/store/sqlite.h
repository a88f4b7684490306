// Thin RAII wrapper over the SQLite C API: a connection with a prepared-statement cache
// and a statement cursor. Errors become absl::Status. A SqliteConn is used by one thread
// at a time (the store's pool hands connections out exclusively).
#pragma once

#include <sqlite3.h>
#include "absl/strings/string_view.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kade {

class SqliteStmt {
 public:
  SqliteStmt(sqlite3_stmt* stmt, sqlite3* db, bool owned = false)
      : stmt_(stmt), db_(db), owned_(owned) {}
  ~SqliteStmt();
  SqliteStmt(SqliteStmt&& o) noexcept : stmt_(o.stmt_), db_(o.db_), owned_(o.owned_) {
    o.stmt_ = nullptr;
  }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  SqliteStmt& Bind(int index, int64_t v);
  SqliteStmt& BindDouble(int index, double v);
  SqliteStmt& Bind(int index, absl::string_view v);
  // Without a copy: `v` must stay valid until the statement is reset or run again.
  SqliteStmt& BindStatic(int index, absl::string_view v);
  SqliteStmt& Bind(int index, const std::optional<int64_t>& v);
  SqliteStmt& BindNull(int index);
  // Binds bytes as a BLOB. The bytes must outlive the statement's next Step/Run.
  SqliteStmt& BindBlobStatic(int index, absl::string_view bytes);
  // True when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Makes the statement ready to run again (bindings are kept).
  void Reset() { sqlite3_reset(stmt_); }
  // Steps to completion (for statements that return no rows).
  absl::Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::optional<int64_t> OptInt(int col) const;
  std::string Text(int col) const;
  // A BLOB (or text) column's bytes, valid until the next Step or Reset.
  absl::string_view Bytes(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  bool owned_ = false;  // finalized on destruction (not from the connection's cache)
};

class SqliteConn {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteConn>> Open(const std::string& path, bool read_only,
                                                          int busy_timeout_ms);
  ~SqliteConn();
  SqliteConn(const SqliteConn&) = delete;
  SqliteConn& operator=(const SqliteConn&) = delete;

  absl::Status Exec(absl::string_view sql);
  // Returns a cached prepared statement, reset and with bindings cleared.
  absl::StatusOr<SqliteStmt> Prepare(absl::string_view sql);
  // For SQL built per request (searches): not cached, finalized when the statement goes.
  absl::StatusOr<SqliteStmt> PrepareUncached(absl::string_view sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> cache_;
};

// Maps a SQLite result code to a Status with the database's own message.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

}  // namespace kade
