// Health, readiness, metrics and identity ("who am I") routes.
#include <set>
#include <string>

#include "api/http_server.h"
#include "api/metrics.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/version.h"

namespace kade {

namespace S = schema;

void RegisterSystemRoutes(Router& r, Metrics* metrics, const HttpServer* server) {
  r.Add("GET", "/healthz", Permission::kPublic, "",
        [](RouteContext&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(200, Json{{"status", "ok"}, {"version", kVersion}});
        })
      .Doc("Liveness of the process", S::Obj({{"status", S::Str()}, {"version", S::Str()}}));

  // MLflow's clients and load balancers probe /health and expect a plain "OK".
  r.Add("GET", "/health", Permission::kPublic, "",
        [](RouteContext&) -> absl::StatusOr<HttpResponse> {
          HttpResponse resp;
          resp.content_type = "text/plain; charset=utf-8";
          resp.body = "OK";
          return resp;
        })
      .Doc("Liveness as MLflow clients probe it (plain OK)", S::Text())
      .Produces("text/plain");

  Platform* platform = r.platform();
  r.Add("GET", "/readyz", Permission::kPublic, "",
        [platform, server](RouteContext&) -> absl::StatusOr<HttpResponse> {
          if (server != nullptr && server->draining()) {
            return HttpResponse::MakeJson(503, Json{{"status", "draining"}});
          }
          absl::Status db = platform->store->Read(
              [](Transaction& tx) -> absl::Status { return tx.users().Count().status(); });
          if (!db.ok()) {
            return HttpResponse::MakeJson(503, Json{{"status", "unavailable"},
                                                    {"metadata_store", std::string(db.message())}});
          }
          return HttpResponse::MakeJson(
              200, Json{{"status", "ready"}, {"schema_version", platform->store->SchemaVersion()}});
        })
      .Doc("Readiness: the metadata store answers and the server is not draining",
           S::Obj({{"status", S::Str()}, {"schema_version", S::Int()}}));

  r.Add("GET", "/metrics", Permission::kAuthenticated, "",
        [metrics, platform](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          // Per-project series only for projects the caller can see (admins: all).
          std::set<std::string, std::less<>> projects;
          const bool all = rc.ctx.principal.is_admin;
          if (!all) {
            ASSIGN_OR_RETURN(auto views, platform->projects->List(rc.ctx.principal));
            for (const auto& v : views) projects.insert(v.project.name);
          }
          HttpResponse resp;
          resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
          resp.body = metrics->Render();
          resp.body += RenderServingMetrics(platform->serving->Metrics(
              [&](absl::string_view project) { return all || projects.count(project) > 0; }));
          // Monitoring gauges and alert states of the visible projects.
          std::vector<Project> visible;
          {
            ASSIGN_OR_RETURN(auto views, platform->projects->List(rc.ctx.principal));
            for (const auto& v : views) visible.push_back(v.project);
          }
          std::vector<AlertState> alerts;
          for (const auto& project : visible) {
            auto rules = platform->alerts->Rules(project);
            if (!rules.ok()) continue;
            for (const auto& a : *rules) {
              alerts.push_back(
                  {project.name, a.spec.name, a.spec.endpoint, a.spec.severity, a.record.state});
            }
          }
          resp.body += RenderMonitoringMetrics(platform->monitoring->Gauges(visible), alerts);
          return resp;
        })
      .Doc("Prometheus metrics (per-project series of visible projects only)", S::Text())
      .Produces("text/plain");

  r.Add("GET", "/api/v1/whoami", Permission::kAuthenticated, "",
        [platform](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(User u, platform->auth->GetUser(rc.ctx.principal.user_name));
          Json j = UserToJson(u);
          j["token_id"] = rc.ctx.principal.token_id;
          j["version"] = kVersion;
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("The caller", S::Ref("User"));
}

}  // namespace kade
