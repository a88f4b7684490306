#include "api/openapi.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/version.h"
#include "platform/policy.h"

namespace kade {
namespace schema {
namespace {
Json Typed(const char* type, const std::string& description) {
  Json j{{"type", type}};
  if (!description.empty()) j["description"] = description;
  return j;
}
}  // namespace

Json Str(std::string d) { return Typed("string", d); }
Json Int(std::string d) { return Typed("integer", d); }
Json Num(std::string d) { return Typed("number", d); }
Json Bool(std::string d) { return Typed("boolean", d); }
Json Any(std::string d) {
  Json j = Json::object();
  if (!d.empty()) j["description"] = d;
  return j;
}
Json Time() { return Json{{"type", "string"}, {"format", "date-time"}}; }
Json Enum(std::initializer_list<const char*> values) {
  Json e = Json::array();
  for (const char* v : values) e.push_back(v);
  return Json{{"type", "string"}, {"enum", e}};
}
Json Arr(Json items) { return Json{{"type", "array"}, {"items", std::move(items)}}; }
Json Map(Json values) {
  return Json{{"type", "object"}, {"additionalProperties", std::move(values)}};
}
Json Obj(std::vector<std::pair<std::string, Json>> properties, std::vector<std::string> required,
         bool closed) {
  Json props = Json::object();
  for (auto& [k, v] : properties) props[k] = std::move(v);
  Json j{{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) j["required"] = required;
  if (closed) j["additionalProperties"] = false;
  return j;
}
Json Ref(const std::string& component) {
  return Json{{"$ref", absl::StrCat("#/components/schemas/", component)}};
}
Json Empty() { return Json{{"type", "object"}}; }
Json Binary() { return Json{{"type", "string"}, {"contentMediaType", "application/octet-stream"}}; }
Json Text() { return Json{{"type", "string"}}; }

Json Components() {
  const Json kv = Obj({{"key", Str()}, {"value", Str()}}, {"key"});
  Json c = Json::object();
  c["Error"] = Obj({{"error", Obj({{"code", Str("e.g. INVALID_ARGUMENT, NOT_FOUND")},
                                   {"message", Str("what was wrong and where")}},
                                  {"code", "message"})}},
                   {"error"});
  c["MlflowError"] = Obj({{"error_code", Str("e.g. INVALID_PARAMETER_VALUE")}, {"message", Str()}},
                         {"error_code", "message"});
  c["KeyValue"] = kv;
  c["Project"] = Obj({{"name", Str()},
                      {"description", Str()},
                      {"role", Str("the caller's role")},
                      {"created_by", Str()},
                      {"created_at", Time()}},
                     {"name"});
  c["Member"] = Obj({{"user", Str()}, {"role", Enum({"viewer", "editor", "maintainer", "owner"})}},
                    {"user", "role"});
  c["User"] = Obj({{"name", Str()},
                   {"display_name", Str()},
                   {"email", Str()},
                   {"admin", Bool()},
                   {"disabled", Bool()},
                   {"default_project", Str("where plain MLflow names live on the root URI")},
                   {"created_at", Time()}},
                  {"name"});
  c["Token"] = Obj({{"id", Int()},
                    {"user", Str()},
                    {"name", Str()},
                    {"prefix", Str()},
                    {"token", Str("the secret, only in the answer that creates it")},
                    {"status", Str()},
                    {"expires_at", Any()},
                    {"revoked_at", Any()},
                    {"last_used_at", Any()}},
                   {"id", "name"});
  c["AuditEntry"] = Obj({{"seq", Int()},
                         {"time", Time()},
                         {"actor", Str()},
                         {"action", Str()},
                         {"target", Str()},
                         {"project", Str()},
                         {"outcome", Str()},
                         {"detail", Any()},
                         {"hash", Str()}},
                        {"seq", "action"});
  c["Artifact"] = Obj({{"name", Str()},
                       {"size", Int()},
                       {"sha256", Str()},
                       {"content_type", Str()},
                       {"created_at", Time()}},
                      {"name"});
  c["Dataset"] = Obj({{"name", Str()},
                      {"description", Str()},
                      {"tags", Map(Str())},
                      {"latest_version", Any()},
                      {"created_at", Time()}},
                     {"name"});
  c["DatasetVersion"] = Obj({{"version", Int()},
                             {"rows", Int()},
                             {"size", Int()},
                             {"sha256", Str()},
                             {"schema", Any()},
                             {"created_at", Time()}},
                            {"version"});
  c["Job"] = Obj({{"id", Int()},
                  {"kind", Str()},
                  {"status", Enum({"queued", "running", "succeeded", "failed", "cancelled"})},
                  {"spec", Any()},
                  {"result", Any()},
                  {"error", Str()},
                  {"attempts", Int()},
                  {"run_id", Str()},
                  {"created_at", Time()}},
                 {"id", "kind", "status"});
  c["Schedule"] = Obj({{"id", Int()},
                       {"name", Str()},
                       {"cron", Str()},
                       {"timezone", Str()},
                       {"spec", Any()},
                       {"enabled", Bool()}},
                      {"id"});
  c["Model"] = Obj({{"name", Str()},
                    {"description", Str()},
                    {"tags", Map(Str())},
                    {"gates", Any("quality gates (docs/registry.md)")},
                    {"versions", Arr(Ref("ModelVersion"))},
                    {"aliases", Map(Int())},
                    {"latest_version", Any()},
                    {"created_by", Str()},
                    {"created_at", Time()},
                    {"updated_at", Time()}},
                   {"name"});
  c["ModelVersion"] = Obj({{"version", Int()},
                           {"source", Enum({"run", "import", "mlflow"})},
                           {"run_id", Str()},
                           {"model_sha256", Str()},
                           {"description", Str()},
                           {"tags", Map(Str())},
                           {"status", Str()},
                           {"gate_report", Any()},
                           {"metrics", Map(Num())},
                           {"manifest", Any()},
                           {"created_by", Str()},
                           {"created_at", Time()}},
                          {"version"});
  c["Endpoint"] =
      Obj({{"name", Str()},
           {"model", Str()},
           {"description", Str()},
           {"targets", Arr(Obj({{"alias", Str()}, {"version", Int()}, {"weight", Num()}}))},
           {"shadow", Any()},
           {"log_sample", Num()},
           {"state", Any("serving versions, loading and failures")}},
          {"name"});
  // Request bodies several routes share (batch jobs and schedules; endpoint create and change).
  c["BatchSpec"] = Obj({{"model", Str()},
                        {"version", Any("a number, an alias, or latest")},
                        {"dataset", Str()},
                        {"dataset_version", Any()},
                        {"output", Str()},
                        {"threads", Int()},
                        {"force", Bool("score a version that failed its quality checks")}},
                       {"model", "dataset"});
  const Json targets = Arr(Obj({{"alias", Str()}, {"version", Int()}, {"weight", Num()}}));
  std::vector<std::pair<std::string, Json>> change = {{"alias", Str()},       {"targets", targets},
                                                      {"shadow", Any()},      {"log_sample", Num()},
                                                      {"description", Str()}, {"force", Bool()}};
  c["EndpointChange"] = Obj(change, {}, /*closed=*/true);
  change.insert(change.begin(), {{"name", Str()}, {"model", Str()}});
  c["EndpointSpec"] = Obj(change, {"name", "model"}, /*closed=*/true);
  c["PredictRequest"] =
      Obj({{"instances", Arr(Map(Any()))},
           {"dataframe_split", Obj({{"columns", Arr(Str())}, {"data", Arr(Arr(Any()))}})},
           {"explain", Bool()}});
  c["PredictResponse"] = Obj({{"predictions", Arr(Any())},
                              {"probabilities", Arr(Arr(Num()))},
                              {"classes", Arr(Str())},
                              {"model", Str()},
                              {"version", Int()},
                              {"request_id", Str()}},
                             {"predictions"});
  const Json tensor = Obj({{"name", Str()},
                           {"shape", Arr(Int())},
                           {"datatype", Str()},
                           {"data", Any()},
                           {"parameters", Any()}},
                          {"name", "shape", "datatype", "data"});
  c["InferenceTensor"] = tensor;
  c["InferenceRequest"] = Obj({{"id", Str()},
                               {"inputs", Arr(Ref("InferenceTensor"))},
                               {"outputs", Arr(Any())},
                               {"parameters", Any()}},
                              {"inputs"});
  c["InferenceResponse"] = Obj({{"model_name", Str()},
                                {"model_version", Str()},
                                {"id", Str()},
                                {"outputs", Arr(Ref("InferenceTensor"))}},
                               {"model_name", "outputs"});
  // MLflow's entities (mlflow/protos/service.proto and model_registry.proto).
  c["MlflowExperiment"] = Obj({{"experiment_id", Str()},
                               {"name", Str()},
                               {"artifact_location", Str()},
                               {"lifecycle_stage", Str()},
                               {"creation_time", Int()},
                               {"last_update_time", Int()},
                               {"tags", Arr(Ref("KeyValue"))}},
                              {"experiment_id", "name"});
  c["MlflowMetric"] = Obj({{"key", Str()},
                           {"value", Any("a number, or NaN/Infinity/-Infinity")},
                           {"timestamp", Int()},
                           {"step", Int()}},
                          {"key", "value", "timestamp"});
  c["MlflowRunInfo"] = Obj({{"run_id", Str()},
                            {"run_uuid", Str()},
                            {"run_name", Str()},
                            {"experiment_id", Str()},
                            {"user_id", Str()},
                            {"status", Str()},
                            {"start_time", Int()},
                            {"end_time", Int()},
                            {"artifact_uri", Str()},
                            {"lifecycle_stage", Str()}},
                           {"run_id"});
  c["MlflowRun"] = Obj({{"info", Ref("MlflowRunInfo")},
                        {"data", Obj({{"metrics", Arr(Ref("MlflowMetric"))},
                                      {"params", Arr(Ref("KeyValue"))},
                                      {"tags", Arr(Ref("KeyValue"))}})},
                        {"inputs", Obj({{"dataset_inputs", Arr(Any())}})}},
                       {"info"});
  c["MlflowModelVersion"] =
      Obj({{"name", Str()},
           {"version", Str()},
           {"creation_timestamp", Int()},
           {"last_updated_timestamp", Int()},
           {"user_id", Str()},
           {"current_stage", Enum({"None", "Staging", "Production", "Archived"})},
           {"description", Str()},
           {"source", Str()},
           {"run_id", Str()},
           {"status", Str()},
           {"tags", Arr(Ref("KeyValue"))},
           {"run_link", Str()},
           {"aliases", Arr(Str())}},
          {"name", "version"});
  c["MlflowRegisteredModel"] = Obj({{"name", Str()},
                                    {"creation_timestamp", Int()},
                                    {"last_updated_timestamp", Int()},
                                    {"user_id", Str()},
                                    {"description", Str()},
                                    {"latest_versions", Arr(Ref("MlflowModelVersion"))},
                                    {"tags", Arr(Ref("KeyValue"))},
                                    {"aliases", Arr(Obj({{"alias", Str()}, {"version", Str()}}))}},
                                   {"name"});
  return c;
}

}  // namespace schema

namespace {

std::string OpenApiPath(const std::string& pattern) {
  return absl::StrReplaceAll(pattern, {{"*}", "}"}});
}

std::string OperationId(const Route& r) {
  std::string id = absl::AsciiStrToLower(r.method);
  for (char c : r.pattern) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      id.push_back(c);
    } else if (c == '/' || c == '-' || c == '.' || c == '_') {
      if (id.back() != '_') id.push_back('_');
    }
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

std::string TagOf(const Route& r) {
  if (!r.doc.tag.empty()) return r.doc.tag;
  const std::string& p = r.pattern;
  if (absl::StrContains(p, "/2.0/mlflow/registered-models") ||
      absl::StrContains(p, "/2.0/mlflow/model-versions")) {
    return "MLflow model registry";
  }
  if (absl::StrContains(p, "/2.0/mlflow-artifacts")) return "MLflow artifacts";
  if (absl::StrContains(p, "/2.0/mlflow")) return "MLflow tracking";
  if (absl::StartsWith(p, "/v2")) return "Open Inference Protocol";
  absl::string_view rest = p;
  if (absl::ConsumePrefix(&rest, "/api/v1/projects/{project}/")) {
    std::string first(rest.substr(0, rest.find('/')));
    if (first == "runs-compare" || first == "experiments") return "runs";
    if (first == "members") return "projects";
    return first;
  }
  if (absl::ConsumePrefix(&rest, "/api/v1/")) {
    std::string first(rest.substr(0, rest.find('/')));
    if (first == "whoami" || first == "openapi.json") return "system";
    return first;
  }
  return "system";
}

Json Parameters(const Route& r) {
  Json params = Json::array();
  for (const auto& seg : r.segments) {
    if (seg.size() < 3 || seg.front() != '{') continue;
    const bool rest = seg[seg.size() - 2] == '*';
    std::string name = seg.substr(1, seg.size() - (rest ? 3 : 2));
    Json p{{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema::Str()}};
    if (rest) p["description"] = "the rest of the path; may contain '/'";
    params.push_back(std::move(p));
  }
  for (const auto& q : r.doc.query) {
    Json p{{"name", q.name}, {"in", "query"}, {"required", q.required}, {"schema", q.schema}};
    if (!q.description.empty()) p["description"] = q.description;
    params.push_back(std::move(p));
  }
  return params;
}

Json Operation(const Route& r) {
  Json op{{"operationId", OperationId(r)},
          {"summary", r.doc.summary},
          {"tags", Json::array({TagOf(r)})},
          {"x-kade-permission", PermissionName(r.permission)}};
  if (!r.audit_action.empty()) op["x-kade-audit-action"] = r.audit_action;
  Json params = Parameters(r);
  if (!params.empty()) op["parameters"] = std::move(params);
  if (r.permission == Permission::kPublic) op["security"] = Json::array();
  if (r.method == "GET" && r.doc.request.is_object() && r.doc.request.contains("properties")) {
    // A GET takes its fields from the query string (MLflow's reads are served as GET and
    // POST alike).
    std::set<std::string> required;
    for (const auto& n : r.doc.request.value("required", Json::array())) {
      required.insert(n.get<std::string>());
    }
    if (!op.contains("parameters")) op["parameters"] = Json::array();
    for (auto it = r.doc.request["properties"].begin(); it != r.doc.request["properties"].end();
         ++it) {
      op["parameters"].push_back(Json{{"name", it.key()},
                                      {"in", "query"},
                                      {"required", required.count(it.key()) > 0},
                                      {"schema", it.value()}});
    }
  } else if (!r.doc.request.is_null()) {
    op["requestBody"] =
        Json{{"required", true},
             {"content", Json{{r.doc.request_type, Json{{"schema", r.doc.request}}}}}};
  }
  Json responses = Json::object();
  Json ok{{"description", r.doc.summary.empty() ? "success" : r.doc.summary}};
  if (!r.doc.response.is_null()) {
    ok["content"] = Json{{r.doc.response_type, Json{{"schema", r.doc.response}}}};
  }
  responses[std::to_string(r.doc.status)] = std::move(ok);
  const Json error_schema = schema::Ref(r.mlflow_errors ? "MlflowError" : "Error");
  const Json error_content{{"application/json", Json{{"schema", error_schema}}}};
  responses["4XX"] =
      Json{{"description", "the request was refused; the message says why and where"},
           {"content", error_content}};
  responses["5XX"] =
      Json{{"description", "a server error (retry later)"}, {"content", error_content}};
  op["responses"] = std::move(responses);
  return op;
}

}  // namespace

Json OpenApiDocument(const Router& router) {
  Json paths = Json::object();
  std::set<std::string> tags;
  for (const auto& r : router.routes()) {
    std::string path = OpenApiPath(r->pattern);
    std::string method = absl::AsciiStrToLower(r->method);
    if (paths.contains(path) && paths[path].contains(method)) continue;  // served twice
    paths[path][method] = Operation(*r);
    tags.insert(TagOf(*r));
  }
  Json tag_list = Json::array();
  for (const auto& t : tags) tag_list.push_back(Json{{"name", t}});
  return Json{
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "Kade API"},
        {"version", kVersion},
        {"description",
         "Kade's REST API: the native API under /api/v1, MLflow's tracking and model registry "
         "REST API under /api/2.0/mlflow (also per project under /projects/{project}/api/2.0/"
         "mlflow), and the Open Inference Protocol under /v2. Every call except health checks "
         "needs a bearer token. x-kade-permission names the role a route needs; "
         "x-kade-audit-action the audit log entry it writes."}}},
      {"servers", Json::array({Json{{"url", "/"}}})},
      {"security", Json::array({Json{{"bearer", Json::array()}}})},
      {"tags", tag_list},
      {"paths", paths},
      {"components",
       {{"schemas", schema::Components()},
        {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

std::vector<std::string> UndocumentedRoutes(const Router& router) {
  std::vector<std::string> out;
  for (const auto& r : router.routes()) {
    // Writes declare their body (schema::Empty() when they take none).
    const bool write = r->method == "POST" || r->method == "PUT" || r->method == "PATCH";
    if (r->doc.summary.empty() || r->doc.response.is_null() ||
        (write && r->doc.request.is_null())) {
      out.push_back(absl::StrCat(r->method, " ", r->pattern));
    }
  }
  return out;
}

void RegisterOpenApiRoute(Router& r) {
  const Router* router = &r;
  r.Add("GET", "/api/v1/openapi.json", Permission::kAuthenticated, "",
        [router](RouteContext&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(200, OpenApiDocument(*router));
        })
      .Doc("This API's OpenAPI 3.1 description", Json{{"type", "object"}})
      .Tag("system");
}

}  // namespace kade
