// The tamper-evident audit log. Each entry's hash covers its own fields and the previous
// entry's hash, so editing or deleting any entry breaks the chain from that point on, and
// the recorded head (sequence and hash of the newest entry) catches a truncated tail.
// Entries are only ever appended; no API updates or deletes them.
//
// Successful changes are appended by the service inside the same transaction as the change
// (AppendInTx), so a change and its audit entry commit together. Refused or failed calls are
// appended by the API layer on their own (Record).
//
// Thread safety: thread-safe; appends are serialised by the store's write transaction.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/context.h"
#include "store/metadata.h"

namespace kade {

struct AuditEvent {
  std::string action;   // "project.create", "member.add", ...
  std::string target;   // "project/churn", "user/alice", ...
  std::string project;  // project name, when the change is inside one
  Json detail = Json::object();
  std::string outcome = "ok";
};

struct AuditVerifyReport {
  bool ok = true;
  int64_t entries = 0;
  int64_t head_seq = 0;
  std::string head_hash;
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;        // what was wrong, when not ok
};

class AuditLog {
 public:
  explicit AuditLog(MetadataStore* store) : store_(store) {}

  static absl::Status AppendInTx(Transaction& tx, const RequestContext& ctx, const AuditEvent& ev);
  absl::Status Record(const RequestContext& ctx, const AuditEvent& ev);
  absl::StatusOr<std::vector<AuditEntry>> List(const AuditQuery& query);
  absl::StatusOr<AuditVerifyReport> Verify();

  // The hash of an entry given the previous entry's hash (exposed for tests).
  static std::string EntryHash(const AuditEntry& e);

 private:
  MetadataStore* store_;
};

Json AuditEntryToJson(const AuditEntry& e);

}  // namespace kade
