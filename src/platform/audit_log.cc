#include "platform/audit_log.h"

#include "absl/strings/str_cat.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {

namespace {
constexpr char kGenesis[] = "0000000000000000000000000000000000000000000000000000000000000000";
}

std::string AuditLog::EntryHash(const AuditEntry& e) {
  // A JSON array gives an unambiguous encoding of the fields (no delimiter confusion).
  Json fields = Json::array({e.seq, e.ts, e.actor, e.action, e.target, e.project, e.request_id,
                             e.outcome, e.detail, e.remote, e.prev_hash});
  return Sha256Hex(fields.dump(-1, ' ', false, Json::error_handler_t::replace));
}

absl::Status AuditLog::AppendInTx(Transaction& tx, const RequestContext& ctx,
                                  const AuditEvent& ev) {
  ASSIGN_OR_RETURN(auto last, tx.audit().Last());
  AuditEntry e;
  e.seq = last ? last->seq + 1 : 1;
  e.ts = NowMillis();
  e.actor = ctx.principal.user_name.empty() ? "anonymous" : ctx.principal.user_name;
  e.action = ev.action;
  e.target = ev.target;
  e.project = ev.project;
  e.request_id = ctx.request_id;
  e.outcome = ev.outcome;
  e.detail = ev.detail.dump(-1, ' ', false, Json::error_handler_t::replace);
  e.remote = ctx.remote;
  e.prev_hash = last ? last->hash : kGenesis;
  e.hash = EntryHash(e);
  return tx.audit().Append(&e);
}

absl::Status AuditLog::Record(const RequestContext& ctx, const AuditEvent& ev) {
  return store_->Write([&](Transaction& tx) { return AppendInTx(tx, ctx, ev); });
}

absl::StatusOr<std::vector<AuditEntry>> AuditLog::List(const AuditQuery& query) {
  std::vector<AuditEntry> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.audit().Query(query));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AuditVerifyReport> AuditLog::Verify() {
  AuditVerifyReport report;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    std::string prev = kGenesis;
    int64_t expect_seq = 1;
    absl::Status walk = tx.audit().ForEach([&](const AuditEntry& e) -> absl::Status {
      auto fail = [&](std::string problem) {
        report.ok = false;
        report.first_bad_seq = e.seq;
        report.problem = std::move(problem);
        return absl::CancelledError("stop");
      };
      if (e.seq != expect_seq) {
        return fail(absl::StrCat("entry ", expect_seq, " is missing (next entry is ", e.seq, ")"));
      }
      if (e.prev_hash != prev) {
        return fail(absl::StrCat("entry ", e.seq, " does not link to the entry before it"));
      }
      if (EntryHash(e) != e.hash) {
        return fail(
            absl::StrCat("entry ", e.seq, " was modified: its content does not match its hash"));
      }
      prev = e.hash;
      ++expect_seq;
      ++report.entries;
      report.head_seq = e.seq;
      report.head_hash = e.hash;
      return absl::OkStatus();
    });
    if (!walk.ok() && !absl::IsCancelled(walk)) return walk;
    if (!report.ok) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto head, tx.audit().Head());
    int64_t head_seq = head ? head->first : 0;
    std::string head_hash = head ? head->second : std::string();
    if (head_seq != report.head_seq || (head_seq > 0 && head_hash != report.head_hash)) {
      report.ok = false;
      report.first_bad_seq = report.head_seq + 1;
      report.problem = absl::StrCat("the log ends at entry ", report.head_seq,
                                    " but its recorded head is entry ", head_seq,
                                    ": entries were removed from the end");
    }
    return absl::OkStatus();
  }));
  return report;
}

Json AuditEntryToJson(const AuditEntry& e) {
  Json detail = Json::parse(e.detail, nullptr, false);
  if (detail.is_discarded()) detail = e.detail;
  return Json{{"seq", e.seq},
              {"time", FormatRfc3339Millis(e.ts)},
              {"actor", e.actor},
              {"action", e.action},
              {"target", e.target},
              {"project", e.project},
              {"request_id", e.request_id},
              {"outcome", e.outcome},
              {"detail", detail},
              {"remote", e.remote},
              {"hash", e.hash}};
}

}  // namespace kade
