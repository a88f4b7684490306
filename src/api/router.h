// Routing and the request pipeline every API call goes through:
//   match route -> authenticate (token) -> resolve project -> authorise (policy) ->
//   handler -> on failure of a state-changing route, an audit entry with the outcome.
// Every route declares its Permission and, when it changes state, its audit action, so no
// route can forget either. Handlers hold the business call and the JSON rendering only.
//
// Thread safety: routes are registered before the server starts; afterwards the router is
// read-only and safe to use from every server thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "api/http_types.h"
#include "platform/platform.h"
#include "platform/policy.h"
#include "platform/project_service.h"

namespace kade {

// What a handler gets: the request, who is calling, the project (for project routes) and
// the path parameters.
struct RouteContext {
  const HttpRequest* request = nullptr;
  RequestContext ctx;
  std::optional<ProjectView> project;
  std::vector<std::pair<std::string, std::string>> params;

  const std::string& Param(absl::string_view name) const;
  const Project& project_record() const { return project->project; }
  // Parses the body as a JSON object (400 with line/column when malformed).
  absl::StatusOr<Json> JsonBody(const JsonLimits& limits = {}) const {
    return ParseJsonObject(request->body, limits);
  }
};

// Receives a streamed request body chunk by chunk (artifact uploads).
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  virtual absl::Status Append(absl::string_view chunk) = 0;
  virtual absl::StatusOr<HttpResponse> Finish() = 0;
};

using Handler = std::function<absl::StatusOr<HttpResponse>(RouteContext&)>;

// A state change that waits for its group commit without holding a thread (the hot write
// routes: metric logging). The handler checks the request on the event loop and returns the
// change; the server queues it with MetadataStore::WriteAsync and answers with `respond()`
// once the commit is durable, or with the error the change returned.
struct DeferredWrite {
  std::function<absl::Status(Transaction&)> change;
  std::function<HttpResponse()> respond;
};
using DeferredHandler = std::function<absl::StatusOr<DeferredWrite>(RouteContext&)>;
using UploadHandler = std::function<absl::StatusOr<std::unique_ptr<UploadSink>>(RouteContext&)>;

// What the OpenAPI document says about a route (api/openapi.h), declared where the route is
// registered, next to its permission and audit action.
struct RouteDoc {
  std::string summary;
  std::string tag;  // the group; default from the path
  Json request;     // JSON Schema of the body (null: no body)
  std::string request_type = "application/json";
  Json response;  // JSON Schema of the success body (null: undocumented)
  std::string response_type = "application/json";
  int status = 200;  // the success status
  struct Param {
    std::string name;
    Json schema;
    std::string description;
    bool required = false;
  };
  std::vector<Param> query;
};

struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/projects/{project}/artifacts/{name*}"
  Permission permission = Permission::kAuthenticated;
  std::string audit_action;  // empty for read-only routes
  Handler handler;
  UploadHandler upload;      // set for routes whose body is streamed
  DeferredHandler deferred;  // set for writes that wait for the commit asynchronously
  // Runs on the server's blocking-work pool instead of an event-loop thread: for handlers
  // that read or hash whole files or walk whole tables. Upload chunks always do.
  bool blocking = false;
  // Errors in MLflow's shape ({"error_code", "message"}) instead of Kade's.
  bool mlflow_errors = false;
  // The {model} parameter reads PROJECT:NAME and names the project (Open Inference Protocol
  // routes at the root, where the protocol has no place for a project).
  bool model_names_project = false;
  std::vector<std::string> segments;
  RouteDoc doc;

  // Documentation, chained after registration:
  //   r.Add(...).Doc("Create a model", ModelSchema(), body).Query("view", schema::Str());
  Route& Doc(std::string summary, Json response, Json request = nullptr, int status = 200) {
    doc.summary = std::move(summary);
    doc.response = std::move(response);
    doc.request = std::move(request);
    doc.status = status;
    return *this;
  }
  Route& Query(std::string name, Json schema, std::string description = "", bool required = false) {
    doc.query.push_back({std::move(name), std::move(schema), std::move(description), required});
    return *this;
  }
  Route& Produces(std::string content_type) {
    doc.response_type = std::move(content_type);
    return *this;
  }
  Route& Consumes(std::string content_type) {
    doc.request_type = std::move(content_type);
    return *this;
  }
  Route& Tag(std::string tag) {
    doc.tag = std::move(tag);
    return *this;
  }
};

// Routes registered together (one handler under several paths), documented at once.
struct RouteGroup {
  std::vector<Route*> routes;
  RouteGroup& Doc(const std::string& summary, const Json& response, const Json& request = nullptr,
                  int status = 200) {
    for (Route* r : routes) r->Doc(summary, response, request, status);
    return *this;
  }
  RouteGroup& Query(const std::string& name, const Json& schema, const std::string& d = "") {
    for (Route* r : routes) r->Query(name, schema, d);
    return *this;
  }
};

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  absl::Status error;  // NotFound / method not allowed / bad escape when route is null
};

class Router {
 public:
  // `platform` may be null for a router that only describes its routes (`kade openapi`).
  explicit Router(Platform* platform)
      : platform_(platform), authenticator_(platform ? platform->auth.get() : nullptr) {}

  Route& Add(std::string method, std::string pattern, Permission permission,
             std::string audit_action, Handler handler);
  Route& AddUpload(std::string method, std::string pattern, Permission permission,
                   std::string audit_action, UploadHandler handler);
  Route& AddDeferred(std::string method, std::string pattern, Permission permission,
                     std::string audit_action, DeferredHandler handler);

  RouteMatch Match(absl::string_view method, absl::string_view path) const;

  // Authenticates and authorises the caller for `match` and builds the handler context. On
  // failure records the refusal in the audit log for state-changing routes.
  absl::StatusOr<RouteContext> Admit(const RouteMatch& match, const HttpRequest& request);

  // Runs a matched, admitted route and renders its result (or error).
  HttpResponse Run(const Route& route, RouteContext& rc);
  // Renders a route's outcome: on failure audits it (state-changing routes), logs server
  // errors and renders the error in the route's shape.
  HttpResponse Render(const Route& route, const RouteContext& rc,
                      absl::StatusOr<HttpResponse> result);

  // Match + Admit + Run for requests whose body is already read.
  HttpResponse Handle(const HttpRequest& request, std::string* route_name);

  // Records a failed state-changing call (used for upload failures after admission).
  void AuditFailure(const Route& route, const RouteContext& rc, const absl::Status& status);

  Platform* platform() { return platform_; }
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  // Who checks tokens: the platform's AuthService unless replaced (a serving replica asks
  // the server it mirrors). Set before the server starts.
  void set_authenticator(Authenticator* a) { authenticator_ = a; }
  // True when admitting this request may wait on the network (a token a replica has not
  // checked lately): the server then admits and runs it on its blocking pool, so one slow
  // check does not hold up the other connections of an event loop.
  bool AdmitBlocks(const HttpRequest& req) const {
    return authenticator_->MayBlock(req.authorization, req.remote);
  }

 private:
  Platform* platform_;
  Authenticator* authenticator_;
  std::vector<std::unique_ptr<Route>> routes_;
  // Indexes into routes_, in order, by pattern segment count; routes with a rest parameter
  // apart. Match looks only at the routes a path's segment count allows.
  std::vector<std::vector<size_t>> by_length_;
  std::vector<size_t> with_rest_;
};

// Route registration, one function per capability file.
class Metrics;
class HttpServer;
// A job as the job routes show it (api/job_routes.cc).
Json JobToJson(const Job& j);

void RegisterSystemRoutes(Router& r, Metrics* metrics, const HttpServer* server);
void RegisterUserRoutes(Router& r);
void RegisterProjectRoutes(Router& r);
void RegisterAuditRoutes(Router& r);
void RegisterArtifactRoutes(Router& r);
void RegisterDatasetRoutes(Router& r);
void RegisterMlflowRoutes(Router& r);
void RegisterMlflowRegistryRoutes(Router& r);
void RegisterTrackingRoutes(Router& r);
void RegisterJobRoutes(Router& r);
void RegisterRegistryRoutes(Router& r);
void RegisterServingRoutes(Router& r);
// Endpoint reads, predictions and the Open Inference Protocol (a part of the above).
void RegisterServingReadRoutes(Router& r);
class ReplicaService;
// A serving replica's routes: what RegisterServingRoutes reads and predicts, feedback into
// the replica's outbox, and endpoint changes refused with a pointer to the server.
void RegisterReplicaRoutes(Router& r, ReplicaService* replica);
void RegisterBatchRoutes(Router& r);
void RegisterMonitoringRoutes(Router& r);
void RegisterAlertRoutes(Router& r);
// Every route of `kade server` (system routes need the server for draining; null is fine
// for a router that only describes itself, as `kade openapi` does).
void RegisterServerRoutes(Router& r, Metrics* metrics, const HttpServer* server);

}  // namespace kade
