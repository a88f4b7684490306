// A serving replica's routes (`kade replica`). It serves what the server decides: endpoint
// reads, predictions and the Open Inference Protocol as on the server; ground truth posted
// here is kept and forwarded to the server; changes to endpoints are refused with 405 and
// the server's address, since the next sync would undo them.
#include "absl/strings/str_cat.h"
#include "api/openapi.h"
#include "api/router.h"
#include "api/serving_json.h"
#include "core/status.h"
#include "platform/replica_service.h"

namespace kade {

namespace S = schema;

void RegisterReplicaRoutes(Router& r, ReplicaService* replica) {
  RegisterServingReadRoutes(r);
  const std::string base = "/api/v1/projects/{project}/endpoints";
  const std::string one = base + "/{endpoint}";

  r.Add("POST", one + "/feedback", Permission::kProjectEdit, "endpoint.feedback",
        [replica](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(FeedbackItems items, ParseFeedback(body));
          RETURN_IF_ERROR(
              replica->Feedback(rc.ctx, rc.project_record(), rc.Param("endpoint"), items));
          return HttpResponse::MakeJson(
              200, Json{{"accepted", items.size()}, {"forwarding_to", replica->upstream()}});
        })
      .Doc("Ground truth (queued and forwarded to the server)", S::Obj({{"accepted", S::Int()}}),
           S::Obj({{"items", S::Arr(S::Obj({{"request_id", S::Str()}, {"label", S::Any()}},
                                           {"request_id", "label"}))}},
                  {"items"}))
      .blocking = true;

  auto refuse = [replica](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
    return WithHttpStatus(
        absl::FailedPreconditionError(absl::StrCat(
            "this is a serving replica of ", replica->upstream(), ": ", rc.request->method, " ",
            rc.request->path, " changes the registry; send it to the server")),
        405);
  };
  r.Add("POST", base, Permission::kAuthenticated, "", refuse)
      .Doc("Refused on a replica (405): change endpoints on the server", S::Empty(), S::Empty());
  r.Add("PATCH", one, Permission::kAuthenticated, "", refuse)
      .Doc("Refused on a replica (405)", S::Empty(), S::Empty());
  r.Add("DELETE", one, Permission::kAuthenticated, "", refuse)
      .Doc("Refused on a replica (405)", S::Empty());
  r.Add("POST", one + "/predictions", Permission::kAuthenticated, "", refuse)
      .Doc("Refused on a replica (405)", S::Empty(), S::Empty());
}

}  // namespace kade
