// The OpenAPI 3.1 description of Kade's API, generated from the route table: every route
// declares its request and response schemas where it is registered (Route::Doc), and the
// document is built from those declarations, so it cannot drift from what is served.
//
// `schema` holds a small vocabulary for writing JSON Schemas next to the routes, and the
// shared component schemas (errors, experiments, runs, models, ...) they refer to by name.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "api/router.h"
#include "core/json.h"

namespace kade {
namespace schema {

Json Str(std::string description = "");
Json Int(std::string description = "");
Json Num(std::string description = "");
Json Bool(std::string description = "");
Json Any(std::string description = "");
Json Time();  // an RFC 3339 timestamp string
Json Enum(std::initializer_list<const char*> values);
Json Arr(Json items);
Json Map(Json values);  // an object of arbitrary keys
// An object with these properties (further properties allowed unless `closed`).
Json Obj(std::vector<std::pair<std::string, Json>> properties,
         std::vector<std::string> required = {}, bool closed = false);
Json Ref(const std::string& component);  // #/components/schemas/<component>
Json Empty();                            // {} (MLflow's answer to most writes)
Json Binary();                           // a file's bytes
Json Text();                             // a text body

// The component schemas the routes refer to.
Json Components();

}  // namespace schema

// The whole document: paths from the router's routes, components, bearer security.
Json OpenApiDocument(const Router& router);

// Routes whose documentation is missing (no summary or no response schema), as
// "METHOD pattern"; the test suite requires none.
std::vector<std::string> UndocumentedRoutes(const Router& router);

// GET /api/v1/openapi.json (any signed-in user).
void RegisterOpenApiRoute(Router& r);

}  // namespace kade
