// The route table of `kade server`, in one place: the server registers it, and so do the
// OpenAPI document's offline generator (`kade openapi`) and the test that every route is
// documented.
#include "api/openapi.h"
#include "api/router.h"

namespace kade {

void RegisterServerRoutes(Router& r, Metrics* metrics, const HttpServer* server) {
  RegisterSystemRoutes(r, metrics, server);
  RegisterUserRoutes(r);
  RegisterProjectRoutes(r);
  RegisterAuditRoutes(r);
  RegisterArtifactRoutes(r);
  RegisterDatasetRoutes(r);
  RegisterMlflowRoutes(r);
  RegisterMlflowRegistryRoutes(r);
  RegisterTrackingRoutes(r);
  RegisterJobRoutes(r);
  RegisterRegistryRoutes(r);
  RegisterServingRoutes(r);
  RegisterBatchRoutes(r);
  RegisterMonitoringRoutes(r);
  RegisterAlertRoutes(r);
  RegisterOpenApiRoute(r);
}

}  // namespace kade
