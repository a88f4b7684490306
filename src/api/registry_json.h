// The JSON of the registry routes: request bodies parsed into the registry service's typed
// requests (a 400 names the field), and its answers rendered in the shape docs/registry.md
// and the web UI use.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/registry_service.h"

namespace kade {

// {name, description, tags, gates}
absl::StatusOr<ModelSpec> ParseModelSpec(const Json& body);
// {description, tags, gates}: what is given changes.
absl::StatusOr<ModelChange> ParseModelChange(const Json& body);
// The import body's signature ({"features": [...], "target", "task", "classes",
// "null_tokens"} or {"dataset", "version", "target", "task", "classes"}), metrics and
// description, into `spec` (the model bytes are read by the route).
absl::Status ParseImportFields(const Json& body, ImportSpec* spec);

Json ModelToJson(const RegisteredModel& m);
Json VersionToJson(const ModelVersion& v, bool with_manifest = true);
Json ModelDetailsToJson(const ModelDetails& d);
// {"model", "versions": [{version, source, run_id, metrics, params, lineage,
// signature_changes}]}
Json ComparisonToJson(absl::string_view model, const std::vector<VersionComparison>& c);
// {dataset, run_id, model, version, aliases, endpoints}
Json LineageToJson(const VersionLineage& l);

}  // namespace kade
