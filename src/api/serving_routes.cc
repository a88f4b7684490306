// Real-time endpoints and the Open Inference Protocol.
//   POST   /api/v1/projects/{p}/endpoints               {name, model, alias | targets, shadow,
//   log_sample} GET    /api/v1/projects/{p}/endpoints GET    /api/v1/projects/{p}/endpoints/{e}
//   PATCH  /api/v1/projects/{p}/endpoints/{e}           {alias | targets, shadow, log_sample}
//   DELETE /api/v1/projects/{p}/endpoints/{e}
//   POST   /api/v1/projects/{p}/endpoints/{e}/predict   {instances | inputs | dataframe_split}
//   POST   /api/v1/projects/{p}/endpoints/{e}/feedback  {request_id, label} | {items: [...]}
//   GET    /api/v1/projects/{p}/endpoints/{e}/predictions?limit=N
// Open Inference Protocol (KServe V2); the model name is PROJECT:ENDPOINT at the root, or the
// endpoint's name under a project's base URL (/api/v1/projects/{p}/v2/...):
//   GET  /v2/health/live, /v2/health/ready, /v2
//   GET  /v2/models/{model}[/versions/{v}], /v2/models/{model}/ready
//   POST /v2/models/{model}[/versions/{v}]/infer
// Predictions need the viewer role (a read of the model); they are not audited one by one but
// written to the prediction log.
#include "absl/strings/numbers.h"
#include "api/oip.h"
#include "api/openapi.h"
#include "api/router.h"
#include "api/serving_json.h"
#include "core/status.h"
#include "core/time.h"
#include "core/version.h"

namespace kade {

namespace S = schema;
namespace {

absl::StatusOr<std::optional<int64_t>> PinnedVersion(const RouteContext& rc) {
  std::string text = rc.request->model_version;
  if (auto v = rc.Param("version"); !v.empty()) text = v;
  if (text.empty()) return std::optional<int64_t>();
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model version '", text, "' is not a version number"));
  }
  return std::optional<int64_t>(n);
}

ServingService::PredictRequest MakeRequest(const RouteContext& rc, std::optional<int64_t> pinned) {
  ServingService::PredictRequest req;
  req.request_id = rc.request->request_id;
  req.pinned_version = pinned;
  req.raw_body = rc.request->body;
  return req;
}

}  // namespace

void RegisterServingRoutes(Router& r) {
  RegisterServingReadRoutes(r);
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/endpoints";
  const std::string one = base + "/{endpoint}";

  r.Add("POST", base, Permission::kProjectEdit, "endpoint.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(EndpointSpec spec, ParseEndpointSpec(body));
          ASSIGN_OR_RETURN(EndpointStatus e,
                           p->serving->Create(rc.ctx, rc.project_record(), rc.project->role, spec));
          return HttpResponse::MakeJson(201, EndpointStatusToJson(e));
        })
      .Doc("Create an endpoint", S::Ref("Endpoint"), S::Ref("EndpointSpec"), 201)
      .blocking = true;

  r.Add("PATCH", one, Permission::kProjectEdit, "endpoint.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(EndpointChange change, ParseEndpointChange(body));
          ASSIGN_OR_RETURN(EndpointStatus e,
                           p->serving->Update(rc.ctx, rc.project_record(), rc.project->role,
                                              rc.Param("endpoint"), change));
          return HttpResponse::MakeJson(200, EndpointStatusToJson(e));
        })
      .Doc("Change traffic, shadow, log sampling (serving a version passes its gates)",
           S::Ref("Endpoint"), S::Ref("EndpointChange"))
      .blocking = true;

  r.Add("DELETE", one, Permission::kProjectManage, "endpoint.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->serving->Delete(rc.ctx, rc.project_record(), rc.Param("endpoint")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("endpoint")}});
        })
      .Doc("Delete an endpoint", S::Obj({{"deleted", S::Str()}}));

  r.Add("POST", one + "/feedback", Permission::kProjectEdit, "endpoint.feedback",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(FeedbackItems items, ParseFeedback(body));
          RETURN_IF_ERROR(
              p->serving->StoreFeedback(rc.ctx, rc.project_record(), rc.Param("endpoint"), items));
          return HttpResponse::MakeJson(200, Json{{"accepted", items.size()}});
        })
      .Doc("Ground truth for logged predictions, by request id", S::Obj({{"accepted", S::Int()}}),
           S::Obj({{"items", S::Arr(S::Obj({{"request_id", S::Str()}, {"label", S::Any()}},
                                           {"request_id", "label"}))}},
                  {"items"}))
      .blocking = true;

  r.Add("POST", one + "/predictions", Permission::kProjectEdit, "endpoint.log.ingest",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(ForwardedLog log, ParseForwardedLog(body));
          const size_t n = log.records.size();
          RETURN_IF_ERROR(p->serving->IngestLog(rc.ctx, rc.project_record(), rc.Param("endpoint"),
                                                std::move(log.records), log.replica));
          return HttpResponse::MakeJson(200, Json{{"accepted", n}});
        })
      .Doc("Prediction log entries forwarded by a replica", S::Obj({{"accepted", S::Int()}}),
           S::Obj({{"records", S::Arr(S::Map(S::Any()))}, {"replica", S::Str()}}, {"records"}))
      .blocking = true;
}

void RegisterServingReadRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/endpoints";
  const std::string one = base + "/{endpoint}";

  r.Add("GET", base, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto list, p->serving->List(rc.project_record()));
          Json arr = Json::array();
          for (const auto& e : list) arr.push_back(EndpointStatusToJson(e));
          return HttpResponse::MakeJson(200, Json{{"endpoints", arr}});
        })
      .Doc("Endpoints of a project with their state",
           S::Obj({{"endpoints", S::Arr(S::Ref("Endpoint"))}}));

  r.Add("GET", one, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(EndpointStatus e,
                           p->serving->Get(rc.project_record(), rc.Param("endpoint")));
          return HttpResponse::MakeJson(200, EndpointStatusToJson(e));
        })
      .Doc("An endpoint with its serving state", S::Ref("Endpoint"));

  // The body is decoded from its text (a fast path for well-formed records).
  r.Add("POST", one + "/predict", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto pinned, PinnedVersion(rc));
          ASSIGN_OR_RETURN(std::string out,
                           p->serving->PredictText(rc.project_record(), rc.Param("endpoint"),
                                                   MakeRequest(rc, pinned)));
          return HttpResponse::MakeJsonText(200, std::move(out));
        })
      .Doc("Predict (rows as instances or dataframe_split)", S::Ref("PredictResponse"),
           S::Ref("PredictRequest"));

  r.Add("POST", one + "/explain", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto pinned, PinnedVersion(rc));
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(Json out, p->serving->Explain(rc.project_record(), rc.Param("endpoint"),
                                                         body, MakeRequest(rc, pinned)));
          return HttpResponse::MakeJson(200, out);
        })
      .Doc(
          "Explain predictions: per row the exact SHAP contributions of each feature to the "
          "margin (log-odds for binary models, per class for multi-class), the base value and "
          "the margin; the same body as predict, at most 1000 rows",
          S::Obj({{"model", S::Str()},
                  {"version", S::Int()},
                  {"method", S::Str()},
                  {"output", S::Str()},
                  {"request_id", S::Str()},
                  {"explanations", S::Arr(S::Obj({{"contributions", S::Map(S::Num())},
                                                  {"base_value", S::Num()},
                                                  {"margin", S::Num()},
                                                  {"classes", S::Any()},
                                                  {"prediction", S::Any()}}))}}),
          S::Ref("PredictRequest"));

  r.Add("GET", one + "/predictions", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t limit = 100;
          if (auto l = rc.request->Query("limit")) {
            if (!absl::SimpleAtoi(*l, &limit) || limit < 1 || limit > 10000) {
              return absl::InvalidArgumentError("limit must be between 1 and 10000");
            }
          }
          ASSIGN_OR_RETURN(
              PredictionPage page,
              p->serving->Predictions(rc.project_record(), rc.Param("endpoint"), limit));
          return HttpResponse::MakeJson(200, PredictionPageToJson(page));
        })
      .Doc("The newest prediction log entries", S::Obj({{"predictions", S::Arr(S::Any())}}))
      .Query("limit", S::Int(), "")
      .blocking = true;

  // Model fit over a window: the logged answers joined with the fed-back ground truth.
  r.Add("GET", one + "/monitoring/performance", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t window_ms,
                           ParseWindow(rc.request->Query("window").value_or("24h")));
          ASSIGN_OR_RETURN(
              EndpointPerformance perf,
              p->monitoring->Performance(rc.project_record(), rc.Param("endpoint"), window_ms));
          return HttpResponse::MakeJson(200, PerformanceToJson(perf, window_ms));
        })
      .Doc(
          "Realised model fit per version over a window, from the fed-back ground truth, next "
          "to the training holdout metrics",
          S::Obj({{"window", S::Str()},
                  {"from", S::Time()},
                  {"to", S::Time()},
                  {"scanned", S::Int()},
                  {"versions", S::Arr(S::Obj({{"version", S::Int()},
                                              {"task", S::Str()},
                                              {"predictions", S::Int()},
                                              {"labelled", S::Int()},
                                              {"label_coverage", S::Num()},
                                              {"unmatched_labels", S::Int()},
                                              {"metrics", S::Any()},
                                              {"holdout", S::Any()},
                                              {"estimated", S::Any()},
                                              {"label_delay_s", S::Any()}}))}}))
      .Query("window", S::Str(), "1h, 24h (default), 7d, 30d, or seconds")
      .blocking = true;

  // Open Inference Protocol.
  r.Add("GET", "/v2/health/live", Permission::kPublic, "",
        [](RouteContext&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(200, Json{{"live", true}});
        })
      .Doc("Open Inference Protocol: liveness", S::Obj({{"live", S::Bool()}}));
  r.Add("GET", "/v2/health/ready", Permission::kPublic, "",
        [](RouteContext&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(200, Json{{"ready", true}});
        })
      .Doc("Open Inference Protocol: readiness", S::Obj({{"ready", S::Bool()}}));
  r.Add("GET", "/v2", Permission::kPublic, "",
        [](RouteContext&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(
              200, Json{{"name", "kade"}, {"version", kVersion}, {"extensions", Json::array()}});
        })
      .Doc("Open Inference Protocol: server metadata",
           S::Obj({{"name", S::Str()}, {"version", S::Str()}, {"extensions", S::Arr(S::Str())}}));
  for (const std::string& prefix : {std::string("/v2/models/{model}"),
                                    std::string("/api/v1/projects/{project}/v2/models/{model}")}) {
    const bool root = prefix[1] == 'v';
    auto add = [&](const char* method, const std::string& path, Handler h) -> Route& {
      Route& route = r.Add(method, path, Permission::kProjectView, "", std::move(h));
      route.model_names_project = root;
      return route;
    };
    for (const std::string& suffix : {std::string(""), std::string("/versions/{version}")}) {
      add("GET", prefix + suffix,
          [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
            ASSIGN_OR_RETURN(auto pinned, PinnedVersion(rc));
            ASSIGN_OR_RETURN(
                Json meta, p->serving->OipMetadata(rc.project_record(), rc.Param("model"), pinned));
            return HttpResponse::MakeJson(200, meta);
          })
          .Doc(
              "Open Inference Protocol: model metadata (model = endpoint; PROJECT:ENDPOINT at the "
              "root)",
              S::Any());
      add("POST", prefix + suffix + "/infer",
          [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
            ASSIGN_OR_RETURN(Json body, rc.JsonBody(kPredictJsonLimits));
            ASSIGN_OR_RETURN(auto pinned, PinnedVersion(rc));
            ASSIGN_OR_RETURN(Json columns, OipInferRequestToColumns(body));
            ServingService::PredictRequest req = MakeRequest(rc, pinned);
            req.raw_body = {};  // logged as columns, like every other request
            ASSIGN_OR_RETURN(Json answer, p->serving->Predict(rc.project_record(),
                                                              rc.Param("model"), &columns, req));
            const std::string id =
                body.contains("id") ? body["id"].get<std::string>() : rc.request->request_id;
            return HttpResponse::MakeJson(200, OipInferResponse(answer, rc.Param("model"), id));
          })
          .Doc("Open Inference Protocol: inference", S::Ref("InferenceResponse"),
               S::Ref("InferenceRequest"));
    }
    add("GET", prefix + "/ready",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(bool ready,
                           p->serving->OipReady(rc.project_record(), rc.Param("model")));
          return HttpResponse::MakeJson(ready ? 200 : 503,
                                        Json{{"name", rc.Param("model")}, {"ready", ready}});
        })
        .Doc("Open Inference Protocol: model readiness",
             S::Obj({{"name", S::Str()}, {"ready", S::Bool()}}));
  }
}

}  // namespace kade
