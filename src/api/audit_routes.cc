// Reading and verifying the audit log. There is deliberately no route that changes or
// deletes audit entries.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"

namespace kade {

namespace S = schema;

namespace {
absl::StatusOr<AuditQuery> QueryFrom(const HttpRequest& req) {
  AuditQuery q;
  q.actor = req.Query("actor");
  q.action = req.Query("action");
  if (auto limit = req.Query("limit")) {
    if (!absl::SimpleAtoi(*limit, &q.limit) || q.limit < 1 || q.limit > 1000) {
      return absl::InvalidArgumentError(
          "query parameter 'limit' must be an integer from 1 to 1000");
    }
  }
  if (auto before = req.Query("before")) {
    int64_t b = 0;
    if (!absl::SimpleAtoi(*before, &b) || b < 1) {
      return absl::InvalidArgumentError(
          "query parameter 'before' must be a positive sequence number");
    }
    q.before_seq = b;
  }
  return q;
}

HttpResponse Page(const std::vector<AuditEntry>& entries, int limit) {
  Json arr = Json::array();
  for (const auto& e : entries) arr.push_back(AuditEntryToJson(e));
  Json j{{"entries", arr}};
  if (static_cast<int>(entries.size()) == limit && !entries.empty()) {
    j["next_before"] = entries.back().seq;
  }
  return HttpResponse::MakeJson(200, j);
}
}  // namespace

void RegisterAuditRoutes(Router& r) {
  Platform* p = r.platform();

  r.Add("GET", "/api/v1/audit", Permission::kAdmin, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(AuditQuery q, QueryFrom(*rc.request));
          q.project = rc.request->Query("project");
          ASSIGN_OR_RETURN(auto entries, p->audit->List(q));
          return Page(entries, q.limit);
        })
      .Doc("The audit log (admins), newest first",
           S::Obj({{"entries", S::Arr(S::Ref("AuditEntry"))}, {"next_before", S::Any()}}))
      .Query("actor", S::Str(), "")
      .Query("action", S::Str(), "")
      .Query("project", S::Str(), "")
      .Query("limit", S::Int(), "")
      .Query("before", S::Int(), "entries before this sequence number");

  r.Add("GET", "/api/v1/projects/{project}/audit", Permission::kProjectManage, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(AuditQuery q, QueryFrom(*rc.request));
          q.project = rc.project_record().name;
          ASSIGN_OR_RETURN(auto entries, p->audit->List(q));
          return Page(entries, q.limit);
        })
      .Doc("A project's audit log (maintainers)",
           S::Obj({{"entries", S::Arr(S::Ref("AuditEntry"))}, {"next_before", S::Any()}}))
      .Query("actor", S::Str(), "")
      .Query("action", S::Str(), "")
      .Query("limit", S::Int(), "")
      .Query("before", S::Int(), "");

  r.Add("GET", "/api/v1/audit/verify", Permission::kAdmin, "",
        [p](RouteContext&) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(AuditVerifyReport rep, p->audit->Verify());
          Json j{{"ok", rep.ok},
                 {"entries", rep.entries},
                 {"head_seq", rep.head_seq},
                 {"head_hash", rep.head_hash}};
          if (!rep.ok) {
            j["first_bad_seq"] = rep.first_bad_seq;
            j["problem"] = rep.problem;
          }
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("Verify the audit log's hash chain (admins)",
           S::Obj({{"ok", S::Bool()}, {"entries", S::Int()}, {"first_bad", S::Any()}}))
      .blocking = true;  // walks the whole log
}

}  // namespace kade
