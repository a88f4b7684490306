#include "api/registry_json.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<std::optional<Tags>> ParseTags(const Json& body) {
  if (!body.contains("tags")) return std::nullopt;
  const Json& t = body["tags"];
  if (!t.is_object()) return Bad("tags: expected an object of up to 100 strings");
  Tags tags;
  for (const auto& [k, v] : t.items()) {
    if (!v.is_string()) {
      return Bad(absl::StrCat("tags.", k.substr(0, 60),
                              ": expected a string (keys up to 250, values up to 5000 "
                              "characters)"));
    }
    tags[k] = v.get<std::string>();
  }
  return tags;
}

absl::StatusOr<std::optional<std::vector<std::string>>> StringList(const Json& obj,
                                                                   absl::string_view field) {
  std::string key(field);
  if (!obj.contains(key)) return std::nullopt;
  const Json& a = obj[key];
  std::vector<std::string> out;
  if (!a.is_array()) return Bad(absl::StrCat(field, ": expected an array of strings"));
  for (const auto& x : a) {
    if (!x.is_string()) return Bad(absl::StrCat(field, ": expected an array of strings"));
    out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace

absl::StatusOr<ModelSpec> ParseModelSpec(const Json& body) {
  RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "description", "tags", "gates"}));
  ModelSpec spec;
  ASSIGN_OR_RETURN(spec.name, RequiredString(body, "name"));
  ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
  spec.description = desc.value_or("");
  ASSIGN_OR_RETURN(auto tags, ParseTags(body));
  if (tags) spec.tags = std::move(*tags);
  if (body.contains("gates")) {
    ASSIGN_OR_RETURN(spec.gates, GateConfig::FromJson(body["gates"]));
  }
  return spec;
}

absl::StatusOr<ModelChange> ParseModelChange(const Json& body) {
  RETURN_IF_ERROR(RejectUnknownFields(body, {"description", "tags", "gates"}));
  ModelChange change;
  ASSIGN_OR_RETURN(change.description, OptionalString(body, "description"));
  ASSIGN_OR_RETURN(change.tags, ParseTags(body));
  if (body.contains("gates")) {
    ASSIGN_OR_RETURN(change.gates, GateConfig::FromJson(body["gates"]));
  }
  return change;
}

absl::Status ParseImportFields(const Json& body, ImportSpec* spec) {
  if (!body.contains("signature")) {
    return Bad(
        "signature: give the features ({\"features\": [...]}) or a dataset version "
        "({\"dataset\", \"version\", \"target\"})");
  }
  const Json& sig = body["signature"];
  if (!sig.is_object()) return Bad("signature: expected an object");
  if (sig.contains("dataset")) {
    RETURN_IF_ERROR(RejectUnknownFields(sig, {"dataset", "version", "target", "classes", "task"}));
    ImportSpec::FromDataset from;
    ASSIGN_OR_RETURN(from.dataset, RequiredString(sig, "dataset"));
    if (sig.contains("version") && sig["version"].is_number_integer()) {
      from.version = sig["version"].dump();
    } else {
      ASSIGN_OR_RETURN(auto ref, OptionalString(sig, "version"));
      from.version = ref.value_or("latest");
    }
    ASSIGN_OR_RETURN(auto target, OptionalString(sig, "target"));
    from.target = target.value_or("");
    spec->from_dataset = std::move(from);
  } else {
    RETURN_IF_ERROR(
        RejectUnknownFields(sig, {"features", "target", "task", "classes", "null_tokens"}));
    // The features as a manifest's signature holds them; the task and classes are read
    // below, so they are left out of this parse.
    ASSIGN_OR_RETURN(ml::Encoding e,
                     ml::EncodingFromJson(Json{{"features", sig.value("features", Json())}}));
    spec->features = std::move(e.features);
    ASSIGN_OR_RETURN(auto target, OptionalString(sig, "target"));
    spec->target = target.value_or("");
    ASSIGN_OR_RETURN(auto tokens, StringList(sig, "null_tokens"));
    spec->null_tokens = std::move(tokens);
  }
  ASSIGN_OR_RETURN(spec->task, OptionalString(sig, "task"));
  if (spec->task && *spec->task != "binary" && *spec->task != "multiclass" &&
      *spec->task != "regression") {
    return Bad("signature.task: binary, multiclass or regression");
  }
  ASSIGN_OR_RETURN(auto classes, StringList(sig, "classes"));
  if (classes) {
    if (classes->size() < 2)
      return Bad("signature.classes: a classifier needs two classes or more");
    spec->classes = std::move(classes);
  }
  if (body.contains("metrics")) {
    const Json& m = body["metrics"];
    if (!m.is_object()) return Bad("metrics: expected an object of numbers");
    for (const auto& [k, v] : m.items()) {
      if (!v.is_number()) return Bad(absl::StrCat("metrics.", k, ": expected a number"));
      spec->metrics[k] = v.get<double>();
    }
  }
  ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
  spec->description = desc.value_or("");
  return absl::OkStatus();
}

Json ModelToJson(const RegisteredModel& m) {
  return Json{{"name", m.name},
              {"description", m.description},
              {"tags", ParseJsonOr(m.tags, Json::object())},
              {"gates", ParseJsonOr(m.gates, Json::object())},
              {"created_by", m.created_by},
              {"created_at", FormatRfc3339Millis(m.created_at)},
              {"updated_at", FormatRfc3339Millis(m.updated_at)}};
}

Json VersionToJson(const ModelVersion& v, bool with_manifest) {
  Json manifest = ParseJsonOr(v.manifest, Json::object());
  Json out{{"version", v.version},
           {"source", v.source},
           {"run_id", v.run_uuid},
           {"model_sha256", v.model_sha256},
           {"description", v.description},
           {"tags", ParseJsonOr(v.tags, Json::object())},
           {"status", v.status},
           {"gate_report", ParseJsonOr(v.gate_report, Json::object())},
           {"metrics", manifest.value("metrics", Json::object())},
           {"created_by", v.created_by},
           {"created_at", FormatRfc3339Millis(v.created_at)}};
  if (with_manifest) out["manifest"] = manifest;
  return out;
}

Json ModelDetailsToJson(const ModelDetails& d) {
  Json out = ModelToJson(d.model);
  Json versions = Json::array();
  for (const auto& v : d.versions) versions.push_back(VersionToJson(v, false));
  Json aliases = Json::object();
  for (const auto& a : d.aliases) aliases[a.alias] = a.version;
  out["versions"] = versions;
  out["aliases"] = aliases;
  out["latest_version"] = d.versions.empty() ? Json(nullptr) : Json(d.versions.front().version);
  return out;
}

Json ComparisonToJson(absl::string_view model, const std::vector<VersionComparison>& c) {
  Json versions = Json::array();
  for (const auto& v : c) {
    Json j{{"version", v.version.version}, {"source", v.version.source},
           {"run_id", v.version.run_uuid}, {"metrics", v.metrics},
           {"params", v.params},           {"lineage", v.lineage}};
    if (v.signature_changes) {
      const auto& s = *v.signature_changes;
      j["signature_changes"] = Json{{"against", s.against},
                                    {"added", s.added},
                                    {"removed", s.removed},
                                    {"type_changed", s.type_changed},
                                    {"task_changed", s.task_changed}};
    }
    versions.push_back(std::move(j));
  }
  return Json{{"model", model}, {"versions", versions}};
}

Json LineageToJson(const VersionLineage& l) {
  return Json{{"dataset", l.dataset}, {"run_id", l.run_id},   {"model", l.model},
              {"version", l.version}, {"aliases", l.aliases}, {"endpoints", l.endpoints}};
}

}  // namespace kade
