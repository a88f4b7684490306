#include "platform/registry_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"
#include "ml/metrics.h"
#include "ml/xgb.h"
#include "platform/audit_log.h"
#include "platform/names.h"

namespace kade {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

std::string Target(const Project& p, absl::string_view model) {
  return absl::StrCat("project/", p.name, "/model/", model);
}

// Alias names follow the other names, so they are safe in URLs and paths.
absl::Status ValidateAlias(absl::string_view alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  bool digits = !alias.empty() && std::all_of(alias.begin(), alias.end(),
                                              [](char c) { return c >= '0' && c <= '9'; });
  if (digits) return Bad("an alias cannot be a number (numbers name versions)");
  return absl::OkStatus();
}

// The signature for an imported model from a dataset version: the model's features in its
// own order, typed by the version's schema; categories of a text column sorted, as pandas
// orders a category dtype built from the values.
absl::StatusOr<Json> SignatureFromDataset(const DatasetVersion& v, const Json& profile,
                                          const ml::TreeModel& engine, const std::string& target) {
  Json schema = ParseJsonOr(v.schema, Json::array());
  if (engine.feature_names().empty()) {
    return Bad("the model file has no feature names; give the signature's features instead");
  }
  Json features = Json::array();
  for (size_t j = 0; j < engine.feature_names().size(); ++j) {
    const std::string& name = engine.feature_names()[j];
    const Json* col = nullptr;
    for (const auto& c : schema) {
      if (c.value("name", "") == name) col = &c;
    }
    if (col == nullptr) {
      return Bad(absl::StrCat("feature '", name, "' of the model is not a column of ", v.version));
    }
    std::string type = col->value("type", "float64");
    bool categorical = j < engine.feature_types().size()
                           ? engine.feature_types()[j] == "c"
                           : (type == "categorical" || type == "string");
    Json f{
        {"name", name}, {"type", categorical ? "categorical" : "numeric"}, {"source_type", type}};
    if (categorical) {
      std::vector<std::string> cats;
      const Json* cp = nullptr;
      if (profile.contains("columns") && profile["columns"].is_array()) {
        for (const auto& c : profile["columns"]) {
          if (c.value("name", "") == name) cp = &c;
        }
      }
      if (cp != nullptr && cp->contains("top") && (*cp)["top"].is_array()) {
        for (const auto& t : (*cp)["top"]) {
          if (t.contains("value") && t["value"].is_string()) {
            cats.push_back(t["value"].get<std::string>());
          }
        }
      }
      if (cats.empty()) {
        return Bad(absl::StrCat("no categories known for '", name,
                                "'; give the signature's categories instead"));
      }
      std::sort(cats.begin(), cats.end());
      f["categories"] = cats;
    }
    features.push_back(f);
  }
  Json sig{{"features", features}, {"target", target}};
  return sig;
}

// Gate configuration (docs/registry.md): every field checked, so a typo cannot switch a gate off.
absl::Status ValidateGates(const Json& g) {
  if (!g.is_object()) return Bad("gates: expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(
      g, {"metrics", "beat_champion", "latency_p99_ms", "data_quality", "aliases"}));
  if (g.contains("metrics")) {
    if (!g["metrics"].is_array()) return Bad("gates.metrics: expected an array");
    for (size_t i = 0; i < g["metrics"].size(); ++i) {
      const Json& t = g["metrics"][i];
      if (!t.is_object() || !t.contains("metric") || !t["metric"].is_string() ||
          (!t.contains("min") && !t.contains("max")) ||
          (t.contains("min") && !t["min"].is_number()) ||
          (t.contains("max") && !t["max"].is_number())) {
        return Bad(absl::StrCat("gates.metrics[", i,
                                "]: expected {\"metric\": NAME, \"min\"|\"max\": NUMBER}"));
      }
    }
  }
  if (g.contains("latency_p99_ms") &&
      (!g["latency_p99_ms"].is_number() || g["latency_p99_ms"].get<double>() <= 0)) {
    return Bad("gates.latency_p99_ms: expected a positive number");
  }
  if (g.contains("data_quality") && !g["data_quality"].is_boolean()) {
    return Bad("gates.data_quality: expected true or false");
  }
  if (g.contains("beat_champion")) {
    const Json& b = g["beat_champion"];
    if (!b.is_object() || !b.contains("dataset") || !b["dataset"].is_string() ||
        !b.contains("metric") || !b["metric"].is_string()) {
      return Bad(
          "gates.beat_champion: expected {\"dataset\": NAME, \"version\": REF, \"metric\": "
          "NAME}");
    }
  }
  if (g.contains("aliases") && !g["aliases"].is_array()) {
    return Bad("gates.aliases: expected an array of alias names");
  }
  return absl::OkStatus();
}

// Free text a user gives (descriptions): bounded, like a project's description.
absl::Status CheckDescription(const std::optional<std::string>& d) {
  if (d && d->size() > 4000) return Bad("description is longer than 4000 characters");
  return absl::OkStatus();
}

absl::Status CheckTags(const Json& body) {
  if (!body.contains("tags")) return absl::OkStatus();
  const Json& t = body["tags"];
  if (!t.is_object() || t.size() > 100) return Bad("tags: expected an object of up to 100 strings");
  for (const auto& [k, v] : t.items()) {
    if (k.empty() || k.size() > 250 || !v.is_string() || v.get<std::string>().size() > 5000) {
      return Bad(
          absl::StrCat("tags.", k.substr(0, 60),
                       ": expected a string (keys up to 250, values up to 5000 characters)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

RegistryService::RegistryService(MetadataStore* store, ArtifactService* artifacts,
                                 TrackingService* tracking, DatasetService* datasets,
                                 uint64_t servable_budget_bytes)
    : store_(store),
      artifacts_(artifacts),
      tracking_(tracking),
      datasets_(datasets),
      servables_([&] {
        LoadingCacheOptions o;
        o.budget_bytes = servable_budget_bytes;
        return o;
      }()) {}

Json RegistryService::ToJson(const RegisteredModel& m) {
  return Json{{"name", m.name},
              {"description", m.description},
              {"tags", ParseJsonOr(m.tags, Json::object())},
              {"gates", ParseJsonOr(m.gates, Json::object())},
              {"created_by", m.created_by},
              {"created_at", FormatRfc3339Millis(m.created_at)},
              {"updated_at", FormatRfc3339Millis(m.updated_at)}};
}

Json RegistryService::ToJson(const ModelVersion& v, bool with_manifest) {
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

Json RegistryService::ToJson(const ModelDetails& d) {
  Json out = ToJson(d.model);
  Json versions = Json::array();
  for (const auto& v : d.versions) versions.push_back(ToJson(v, false));
  Json aliases = Json::object();
  for (const auto& a : d.aliases) aliases[a.alias] = a.version;
  out["versions"] = versions;
  out["aliases"] = aliases;
  out["latest_version"] = d.versions.empty() ? Json(nullptr) : Json(d.versions.front().version);
  return out;
}

absl::StatusOr<RegisteredModel> RegistryService::FindModel(const Project& project,
                                                           absl::string_view name) {
  std::optional<RegisteredModel> m;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(m, tx.registry().FindModel(project.id, name));
    return absl::OkStatus();
  }));
  if (!m) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "' does not exist in project '", project.name, "'"));
  }
  return *m;
}

absl::StatusOr<RegisteredModel> RegistryService::CreateModel(const RequestContext& ctx,
                                                             const Project& project,
                                                             const Json& body) {
  RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "description", "tags", "gates"}));
  ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
  RETURN_IF_ERROR(ValidateName("model", name));
  RegisteredModel m;
  m.project_id = project.id;
  m.name = name;
  ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
  RETURN_IF_ERROR(CheckDescription(desc));
  m.description = desc.value_or("");
  RETURN_IF_ERROR(CheckTags(body));
  if (body.contains("tags")) m.tags = body["tags"].dump();
  if (body.contains("gates")) {
    RETURN_IF_ERROR(ValidateGates(body["gates"]));
    m.gates = body["gates"].dump();
  }
  m.created_by = ctx.principal.user_name;
  m.created_at = m.updated_at = NowMillis();
  RegisteredModel out;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.registry().FindModel(project.id, name));
    if (existing) {
      return absl::AlreadyExistsError(absl::StrCat("model '", name, "' already exists"));
    }
    ASSIGN_OR_RETURN(out, tx.registry().CreateModel(m));
    return AuditLog::AppendInTx(tx, ctx, {"model.create", Target(project, name), project.name});
  }));
  return out;
}

absl::StatusOr<std::vector<ModelDetails>> RegistryService::ListModels(const Project& project) {
  std::vector<ModelDetails> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto models, tx.registry().ListModels(project.id));
    for (auto& m : models) {
      ModelDetails d;
      d.model = std::move(m);
      ASSIGN_OR_RETURN(d.versions, tx.registry().ListVersions(d.model.id));
      ASSIGN_OR_RETURN(d.aliases, tx.registry().Aliases(d.model.id));
      out.push_back(std::move(d));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<ModelDetails> RegistryService::GetModel(const Project& project,
                                                       absl::string_view name) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, name));
  ModelDetails d;
  d.model = m;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(d.versions, tx.registry().ListVersions(m.id));
    ASSIGN_OR_RETURN(d.aliases, tx.registry().Aliases(m.id));
    return absl::OkStatus();
  }));
  return d;
}

absl::StatusOr<RegisteredModel> RegistryService::UpdateModel(const RequestContext& ctx,
                                                             const Project& project,
                                                             absl::string_view name,
                                                             const Json& body) {
  RETURN_IF_ERROR(RejectUnknownFields(body, {"description", "tags", "gates"}));
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, name));
  ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
  RETURN_IF_ERROR(CheckDescription(desc));
  if (desc) m.description = *desc;
  RETURN_IF_ERROR(CheckTags(body));
  if (body.contains("tags")) m.tags = body["tags"].dump();
  if (body.contains("gates")) {
    RETURN_IF_ERROR(ValidateGates(body["gates"]));
    m.gates = body["gates"].dump();
  }
  m.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.registry().UpdateModel(m));
    return AuditLog::AppendInTx(tx, ctx,
                                {"model.update", Target(project, name), project.name, body});
  }));
  return m;
}

absl::StatusOr<std::string> RegistryService::ReadArtifact(const Project& project,
                                                          const std::string& path,
                                                          uint64_t max_bytes) {
  // The size is checked before the blob is hashed or read: a model is loaded whole.
  ASSIGN_OR_RETURN(Artifact a, artifacts_->Get(project, path));
  if (static_cast<uint64_t>(a.size) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "artifact '", path, "' has ", a.size, " bytes; a model file may have at most ", max_bytes));
  }
  ASSIGN_OR_RETURN(ArtifactDownload d, artifacts_->OpenForDownload(project, path));
  std::ifstream in(d.local_path, std::ios::binary);
  std::string bytes(static_cast<size_t>(d.artifact.size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::InternalError(absl::StrCat("cannot read artifact '", path, "'"));
  }
  return bytes;
}

absl::StatusOr<ModelVersion> RegistryService::CreateVersion(const RequestContext& ctx,
                                                            const Project& project,
                                                            absl::string_view model_name,
                                                            ModelVersion v, bool create_model) {
  ModelVersion out;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto m, tx.registry().FindModel(project.id, model_name));
    if (!m) {
      if (!create_model) {
        return absl::NotFoundError(absl::StrCat("model '", model_name, "' does not exist"));
      }
      RegisteredModel nm;
      nm.project_id = project.id;
      nm.name = std::string(model_name);
      nm.created_by = ctx.principal.user_name;
      nm.created_at = nm.updated_at = NowMillis();
      ASSIGN_OR_RETURN(nm, tx.registry().CreateModel(nm));
      RETURN_IF_ERROR(AuditLog::AppendInTx(
          tx, ctx, {"model.create", Target(project, model_name), project.name}));
      m = nm;
    }
    v.model_id = m->id;
    ASSIGN_OR_RETURN(out, tx.registry().CreateVersion(v));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.version.create", absl::StrCat(Target(project, model_name), "/", out.version),
         project.name,
         Json{{"source", v.source}, {"run_id", v.run_uuid}, {"sha256", v.model_sha256}}});
  }));
  return out;
}

absl::StatusOr<ModelVersion> RegistryService::RegisterRun(const RequestContext& ctx,
                                                          const Project& project,
                                                          absl::string_view model,
                                                          absl::string_view run_id,
                                                          absl::string_view description) {
  RETURN_IF_ERROR(ValidateName("model", model));
  RETURN_IF_ERROR(CheckDescription(std::string(description)));
  ASSIGN_OR_RETURN(RunView run, tracking_->GetRun(ctx.principal, run_id));
  if (run.project != project.name) {
    return absl::NotFoundError(
        absl::StrCat("run '", run_id, "' is not in project '", project.name, "'"));
  }
  if (run.run.status != "FINISHED") {
    return absl::FailedPreconditionError(
        absl::StrCat("run '", run_id, "' is ", run.run.status, "; register a finished run"));
  }
  const std::string base = absl::StrCat("runs/", run.run.uuid, "/artifacts/model/");
  auto manifest_text = ReadArtifact(project, base + "kade_model.json");
  if (!manifest_text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run '", run_id, "' has no Kade model (model/kade_model.json); import the file instead"));
  }
  Json manifest = ParseJsonOr(*manifest_text, Json());
  if (!manifest.is_object()) return absl::DataLossError("the run's model manifest is not JSON");
  const std::string model_path = base + manifest.value("model_file", std::string("model.json"));
  ASSIGN_OR_RETURN(std::string model_json, ReadArtifact(project, model_path));
  // Proves the model loads and agrees with its signature before anything is recorded.
  ASSIGN_OR_RETURN(auto servable, ml::Servable::Load(manifest, model_json));
  (void)servable;
  Json params = Json::object();
  for (const auto& [k, v] : run.data.params) params[k] = v;
  manifest["params"] = params;
  manifest["model_path"] = model_path;
  ModelVersion v;
  v.source = "run";
  v.run_uuid = run.run.uuid;
  v.model_sha256 = Sha256Hex(model_json);
  v.manifest = manifest.dump();
  v.description = std::string(description);
  v.created_by = ctx.principal.user_name;
  v.created_at = NowMillis();
  return CreateVersion(ctx, project, model, std::move(v), /*create_model=*/true);
}

absl::StatusOr<ModelVersion> RegistryService::Import(const RequestContext& ctx,
                                                     const Project& project,
                                                     absl::string_view model,
                                                     absl::string_view model_bytes,
                                                     const Json& signature, const Json& metrics,
                                                     absl::string_view description) {
  RETURN_IF_ERROR(ValidateName("model", model));
  RETURN_IF_ERROR(CheckDescription(std::string(description)));
  if (model_bytes.empty()) return Bad("the model file is empty");
  // XGBoost reads JSON and UBJSON; its JSON is what Kade stores and serves.
  auto booster = ml::Booster::FromJson(model_bytes);
  if (!booster.ok()) {
    return Bad(
        absl::StrCat("not an XGBoost model file (JSON or UBJSON): ", booster.status().message()));
  }
  ASSIGN_OR_RETURN(std::string model_json, booster->SaveJson());
  ASSIGN_OR_RETURN(auto engine, ml::TreeModel::FromXgboostJson(model_json));
  if (!signature.is_object()) return Bad("signature: expected an object");
  Json sig;
  Json lineage = Json::object();
  if (signature.contains("dataset")) {
    RETURN_IF_ERROR(
        RejectUnknownFields(signature, {"dataset", "version", "target", "classes", "task"}));
    ASSIGN_OR_RETURN(std::string ds, RequiredString(signature, "dataset"));
    ASSIGN_OR_RETURN(auto ref, OptionalString(signature, "version"));
    ASSIGN_OR_RETURN(auto target, OptionalString(signature, "target"));
    ASSIGN_OR_RETURN(DatasetVersion dv,
                     datasets_->GetVersion(project, ds, ref.value_or("latest"), true));
    ASSIGN_OR_RETURN(sig, SignatureFromDataset(dv, ParseJsonOr(dv.profile, Json::object()), *engine,
                                               target.value_or("")));
    lineage = Json{{"dataset", ds}, {"version", dv.version}, {"sha256", dv.sha256}};
  } else {
    sig = signature;
  }
  // Task and classes from the objective when not given.
  const std::string& obj = engine->objective();
  if (!sig.contains("task")) {
    sig["task"] = obj.rfind("multi:", 0) == 0                               ? "multiclass"
                  : (obj.rfind("binary:", 0) == 0 || obj == "reg:logistic") ? "binary"
                                                                            : "regression";
  }
  if (signature.contains("task")) sig["task"] = signature["task"];
  if (signature.contains("classes")) sig["classes"] = signature["classes"];
  if (!sig.contains("classes") && sig["task"] != "regression") {
    Json classes = Json::array();
    for (int k = 0; k < std::max(2, engine->num_groups()); ++k) classes.push_back(absl::StrCat(k));
    sig["classes"] = classes;
  }
  if (!sig.contains("null_tokens")) sig["null_tokens"] = DefaultNullTokens();
  if (!metrics.is_object()) return Bad("metrics: expected an object of numbers");
  for (const auto& [k, v] : metrics.items()) {
    if (!v.is_number()) return Bad(absl::StrCat("metrics.", k, ": expected a number"));
  }
  Json manifest{{"format", "kade-model/1"},   {"flavor", "xgboost"},
                {"model_file", "model.json"}, {"xgboost_version", ml::XgboostVersion()},
                {"signature", sig},           {"preprocessing", Json::object()},
                {"metrics", metrics},         {"params", Json::object()},
                {"lineage", lineage}};
  ASSIGN_OR_RETURN(auto servable, ml::Servable::Load(manifest, model_json));
  (void)servable;
  const std::string sha = Sha256Hex(model_json);
  const std::string path = absl::StrCat("models/", model, "/", sha.substr(0, 16), "/model.json");
  ASSIGN_OR_RETURN(auto up, artifacts_->BeginUpload(project, path, "application/json"));
  RETURN_IF_ERROR(up->Append(model_json));
  RETURN_IF_ERROR(up->Finish(ctx).status());
  manifest["model_path"] = path;
  ModelVersion v;
  v.source = "import";
  v.model_sha256 = sha;
  v.manifest = manifest.dump();
  v.description = std::string(description);
  v.created_by = ctx.principal.user_name;
  v.created_at = NowMillis();
  return CreateVersion(ctx, project, model, std::move(v), /*create_model=*/true);
}

absl::StatusOr<ModelVersion> RegistryService::GetVersion(const Project& project,
                                                         absl::string_view model,
                                                         absl::string_view ref) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  std::optional<ModelVersion> v;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    int64_t number = 0;
    if (!absl::SimpleAtoi(ref, &number)) {
      ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(m.id));
      for (const auto& a : aliases) {
        if (a.alias == ref) number = a.version;
      }
      if (number == 0) {
        return absl::NotFoundError(
            absl::StrCat("model '", model, "' has no version or alias '", ref, "'"));
      }
    }
    ASSIGN_OR_RETURN(v, tx.registry().FindVersion(m.id, number));
    return absl::OkStatus();
  }));
  if (!v) return absl::NotFoundError(absl::StrCat("model '", model, "' has no version ", ref));
  return *v;
}

absl::StatusOr<ModelVersion> RegistryService::SetArchived(const RequestContext& ctx,
                                                          const Project& project,
                                                          absl::string_view model, int64_t version,
                                                          bool archived) {
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    if (archived) {
      ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(v.model_id));
      for (const auto& a : aliases) {
        if (a.version == version) {
          return absl::FailedPreconditionError(absl::StrCat("version ", version, " is '", a.alias,
                                                            "'; move the alias before archiving"));
        }
      }
    }
    v.status = archived ? "archived" : "ready";
    RETURN_IF_ERROR(tx.registry().UpdateVersion(v));
    return AuditLog::AppendInTx(tx, ctx,
                                {archived ? "model.version.archive" : "model.version.restore",
                                 absl::StrCat(Target(project, model), "/", version), project.name});
  }));
  return v;
}

absl::StatusOr<Json> RegistryService::Compare(const Project& project, absl::string_view model,
                                              const std::vector<int64_t>& versions) {
  if (versions.size() < 2 || versions.size() > 10) {
    return Bad("compare two to ten versions");
  }
  Json out = Json::array();
  std::vector<Json> sigs;
  for (int64_t n : versions) {
    ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(n)));
    Json m = ParseJsonOr(v.manifest, Json::object());
    sigs.push_back(m.value("signature", Json::object()));
    out.push_back(Json{{"version", v.version},
                       {"source", v.source},
                       {"run_id", v.run_uuid},
                       {"metrics", m.value("metrics", Json::object())},
                       {"params", m.value("params", Json::object())},
                       {"lineage", m.value("lineage", Json::object())}});
  }
  // Signature differences against the first version.
  auto features = [](const Json& sig) {
    std::map<std::string, Json> f;
    if (sig.contains("features")) {
      for (const auto& x : sig["features"]) f[x.value("name", "")] = x;
    }
    return f;
  };
  auto base = features(sigs[0]);
  for (size_t i = 1; i < sigs.size(); ++i) {
    auto other = features(sigs[i]);
    Json added = Json::array(), removed = Json::array(), changed = Json::array();
    for (const auto& [n, f] : other) {
      if (!base.count(n)) {
        added.push_back(n);
      } else if (base[n].value("type", "") != f.value("type", "")) {
        changed.push_back(n);
      }
    }
    for (const auto& [n, f] : base) {
      if (!other.count(n)) removed.push_back(n);
    }
    out[i]["signature_changes"] =
        Json{{"against", versions[0]},
             {"added", added},
             {"removed", removed},
             {"type_changed", changed},
             {"task_changed", sigs[0].value("task", "") != sigs[i].value("task", "")}};
  }
  return Json{{"model", model}, {"versions", out}};
}

namespace {
ServableCache::LoadFn ServableLoad(RegistryService* registry, const Project& project,
                                   const ModelVersion& version) {
  return [registry, project, version]() -> absl::StatusOr<ServableCache::Loaded> {
    Json manifest = ParseJsonOr(version.manifest, Json());
    ASSIGN_OR_RETURN(std::string model_json,
                     registry->ReadArtifact(project, manifest.value("model_path", std::string())));
    if (Sha256Hex(model_json) != version.model_sha256) {
      return absl::DataLossError(absl::StrCat("model file of version ", version.version,
                                              " does not match its recorded hash"));
    }
    ASSIGN_OR_RETURN(auto servable, ml::Servable::Load(manifest, model_json));
    return ServableCache::Loaded{std::move(servable), model_json.size()};
  };
}
}  // namespace

absl::StatusOr<std::shared_ptr<const ml::Servable>> RegistryService::LoadServable(
    const Project& project, const ModelVersion& version, absl::Duration wait) {
  return servables_.Get({version.model_id, version.version}, ServableLoad(this, project, version),
                        wait);
}

void RegistryService::LoadServableInBackground(const Project& project,
                                               const ModelVersion& version) {
  servables_.LoadInBackground({version.model_id, version.version},
                              ServableLoad(this, project, version));
}

absl::StatusOr<double> RegistryService::Rescore(const Project& project, const ModelVersion& v,
                                                const std::string& dataset, const std::string& ref,
                                                const std::string& metric) {
  ASSIGN_OR_RETURN(auto servable, LoadServable(project, v));
  auto builder = ml::TableBuilder::WithFixedEncoding(servable->signature());
  RETURN_IF_ERROR(datasets_->Scan(project, dataset, ref, &builder));
  ASSIGN_OR_RETURN(ml::Table table, builder.Finish());
  ml::Batch batch;
  batch.rows = table.rows();
  batch.x = std::move(table.x);
  ml::Prediction p = servable->Predict(batch);
  Json m;
  const std::string& task = servable->signature().task;
  if (task == "binary") {
    m = ml::BinaryMetrics(table.y, p.output);
  } else if (task == "multiclass") {
    m = ml::MulticlassMetrics(table.y, p.output, static_cast<int>(p.width));
  } else {
    m = ml::RegressionMetrics(table.y, p.output);
  }
  if (!m.contains(metric) || !m[metric].is_number()) {
    return Bad(absl::StrCat("metric '", metric, "' is not computed for a ", task, " model"));
  }
  return m[metric].get<double>();
}

absl::StatusOr<Json> RegistryService::Gates(const Project& project, const RegisteredModel& m,
                                            const ModelVersion& v) {
  Json gates = ParseJsonOr(m.gates, Json::object());
  Json manifest = ParseJsonOr(v.manifest, Json::object());
  Json metrics = manifest.value("metrics", Json::object());
  Json checks = Json::array();
  bool passed = true;
  auto add = [&](std::string gate, bool ok, Json detail) {
    passed &= ok;
    detail["gate"] = std::move(gate);
    detail["passed"] = ok;
    checks.push_back(std::move(detail));
  };
  if (gates.contains("metrics")) {
    for (const auto& t : gates["metrics"]) {
      const std::string name = t["metric"].get<std::string>();
      if (!metrics.contains(name) || !metrics[name].is_number()) {
        add("metric", false, Json{{"metric", name}, {"reason", "the version has no such metric"}});
        continue;
      }
      double value = metrics[name].get<double>();
      bool ok = true;
      if (t.contains("min")) ok &= value >= t["min"].get<double>();
      if (t.contains("max")) ok &= value <= t["max"].get<double>();
      Json d{{"metric", name}, {"value", value}};
      if (t.contains("min")) d["min"] = t["min"];
      if (t.contains("max")) d["max"] = t["max"];
      add("metric", ok, d);
    }
  }
  if (gates.value("data_quality", false)) {
    Json lineage = manifest.value("lineage", Json::object());
    if (!lineage.contains("dataset")) {
      add("data_quality", false, Json{{"reason", "the version records no training data"}});
    } else {
      std::string ds = lineage["dataset"].get<std::string>();
      std::string ref = lineage.contains("version") ? lineage["version"].dump() : "latest";
      auto dv = datasets_->GetVersion(project, ds, ref, false);
      if (!dv.ok()) {
        add("data_quality", false, Json{{"reason", std::string(dv.status().message())}});
      } else {
        add("data_quality", dv->quality_status != "failed",
            Json{{"dataset", absl::StrCat(ds, "@", dv->version)}, {"quality", dv->quality_status}});
      }
    }
  }
  if (gates.contains("latency_p99_ms")) {
    auto s = LoadServable(project, v);
    if (!s.ok()) {
      add("latency", false, Json{{"reason", std::string(s.status().message())}});
    } else {
      // Single-row predictions in process, on a row of typical values (0, first category).
      const auto& sig = (*s)->signature();
      ml::Batch row;
      row.rows = 1;
      row.x.assign(sig.features.size(), 0.0f);
      std::vector<double> us;
      for (int i = 0; i < 2000; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        ml::Prediction p = (*s)->Predict(row);
        auto t1 = std::chrono::steady_clock::now();
        (void)p;
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      std::sort(us.begin(), us.end());
      double p99 = us[us.size() * 99 / 100] / 1000.0;
      double budget = gates["latency_p99_ms"].get<double>();
      add("latency", p99 <= budget, Json{{"p99_ms", p99}, {"budget_ms", budget}});
    }
  }
  if (gates.contains("beat_champion")) {
    const Json& b = gates["beat_champion"];
    const std::string ds = b["dataset"].get<std::string>();
    const std::string ref =
        b.contains("version")
            ? (b["version"].is_string() ? b["version"].get<std::string>() : b["version"].dump())
            : "latest";
    const std::string metric = b["metric"].get<std::string>();
    const std::string champion_alias = b.value("alias", std::string("champion"));
    std::optional<ModelVersion> champion;
    RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(m.id));
      for (const auto& a : aliases) {
        if (a.alias == champion_alias) {
          ASSIGN_OR_RETURN(champion, tx.registry().FindVersion(m.id, a.version));
        }
      }
      return absl::OkStatus();
    }));
    if (!champion || champion->version == v.version) {
      add("beat_champion", true,
          Json{{"reason", champion ? "this version is the champion" : "no champion yet"}});
    } else {
      auto mine = Rescore(project, v, ds, ref, metric);
      auto theirs = Rescore(project, *champion, ds, ref, metric);
      if (!mine.ok() || !theirs.ok()) {
        add("beat_champion", false,
            Json{
                {"reason", std::string((!mine.ok() ? mine.status() : theirs.status()).message())}});
      } else {
        bool lower_better = metric == "logloss" || metric == "rmse" || metric == "mae";
        bool ok = lower_better ? *mine <= *theirs : *mine >= *theirs;
        add("beat_champion", ok,
            Json{{"metric", metric},
                 {"dataset", absl::StrCat(ds, "@", ref)},
                 {"value", *mine},
                 {"champion_version", champion->version},
                 {"champion_value", *theirs}});
      }
    }
  }
  return Json{{"version", v.version},
              {"passed", passed},
              {"checks", checks},
              {"evaluated_at", FormatRfc3339Millis(NowMillis())}};
}

absl::StatusOr<Json> RegistryService::EvaluateGates(const Project& project, absl::string_view model,
                                                    int64_t version) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  ASSIGN_OR_RETURN(Json report, Gates(project, m, v));
  v.gate_report = report.dump();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) { return tx.registry().UpdateVersion(v); }));
  return report;
}

std::set<std::string> RegistryService::GatedAliases(const RegisteredModel& m) {
  // The configured aliases (default "champion") and those endpoints follow.
  Json gates = ParseJsonOr(m.gates, Json::object());
  std::set<std::string> gated;
  if (gates.contains("aliases")) {
    for (const auto& a : gates["aliases"]) {
      if (a.is_string()) gated.insert(a.get<std::string>());
    }
  } else {
    gated.insert("champion");
  }
  absl::MutexLock l(&mu_);
  if (serving_aliases_) {
    for (auto& a : serving_aliases_(m.id)) gated.insert(a);
  }
  return gated;
}

bool RegistryService::IsGatedAlias(int64_t model_id, absl::string_view alias) {
  std::optional<RegisteredModel> m;
  if (!store_
           ->Read([&](Transaction& tx) -> absl::Status {
             ASSIGN_OR_RETURN(m, tx.registry().FindModelById(model_id));
             return absl::OkStatus();
           })
           .ok() ||
      !m) {
    return false;
  }
  return GatedAliases(*m).count(std::string(alias)) > 0;
}

absl::StatusOr<RegistryService::Clearance> RegistryService::Judge(
    const RequestContext& ctx, const Project& project, std::optional<Role> role,
    const RegisteredModel& m, ModelVersion& v, bool force, absl::string_view what) {
  Clearance out;
  ASSIGN_OR_RETURN(out.report, Gates(project, m, v));
  v.gate_report = out.report.dump();
  if (out.report["passed"].get<bool>()) return out;
  if (!force) {
    RETURN_IF_ERROR(store_->Write([&](Transaction& tx) { return tx.registry().UpdateVersion(v); }));
    std::string failed;
    for (const auto& c : out.report["checks"]) {
      if (!c["passed"].get<bool>())
        absl::StrAppend(&failed, failed.empty() ? "" : ", ", c["gate"].get<std::string>());
    }
    return absl::FailedPreconditionError(
        absl::StrCat("version ", v.version, " failed the quality gates (", failed, ") for ", what,
                     "; see its gate report, or override with force (maintainer)"));
  }
  if (!ctx.principal.is_admin && (!role || *role < Role::kMaintainer)) {
    return absl::PermissionDeniedError(
        "overriding a failed quality gate needs the maintainer role");
  }
  out.overridden = true;
  return out;
}

absl::StatusOr<RegistryService::Clearance> RegistryService::ClearForServing(
    const Project& project, std::optional<Role> role, const RequestContext& ctx, int64_t model_id,
    int64_t version, bool force, absl::string_view what) {
  std::optional<RegisteredModel> m;
  std::optional<ModelVersion> v;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(m, tx.registry().FindModelById(model_id));
    ASSIGN_OR_RETURN(v, tx.registry().FindVersion(model_id, version));
    return absl::OkStatus();
  }));
  if (!m || !v) return absl::NotFoundError(absl::StrCat("model version ", version, " not found"));
  if (v->status == "archived") {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", version, " is archived; restore it before serving it"));
  }
  ASSIGN_OR_RETURN(Clearance c, Judge(ctx, project, role, *m, *v, force, what));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) { return tx.registry().UpdateVersion(*v); }));
  return c;
}

absl::StatusOr<ModelAlias> RegistryService::SetAlias(
    const RequestContext& ctx, const Project& project, std::optional<Role> role,
    absl::string_view model, absl::string_view alias, int64_t version, bool force) {
  RETURN_IF_ERROR(ValidateAlias(alias));
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  if (v.status == "archived") {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", version, " is archived; restore it before giving it an alias"));
  }
  std::set<std::string> gated = GatedAliases(m);
  Json report;
  bool overridden = false;
  // What the gates are judged against: the model's aliases (the champion to beat) and its
  // gate settings. The move commits only if neither changed while the gates ran, so two
  // moves racing each other cannot both pass against the same, old champion.
  std::vector<ModelAlias> judged_aliases;
  if (gated.count(std::string(alias))) {
    RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(judged_aliases, tx.registry().Aliases(m.id));
      return absl::OkStatus();
    }));
    ASSIGN_OR_RETURN(Clearance c,
                     Judge(ctx, project, role, m, v, force, absl::StrCat("alias '", alias, "'")));
    report = std::move(c.report);
    overridden = c.overridden;
  }
  const int64_t now = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    if (!report.is_null()) {
      ASSIGN_OR_RETURN(std::vector<ModelAlias> aliases_now, tx.registry().Aliases(m.id));
      ASSIGN_OR_RETURN(std::optional<RegisteredModel> m_now, tx.registry().FindModelById(m.id));
      auto versions = [](const std::vector<ModelAlias>& as) {
        std::map<std::string, int64_t> out;
        for (const auto& a : as) out[a.alias] = a.version;
        return out;
      };
      if (!m_now || m_now->gates != m.gates || versions(aliases_now) != versions(judged_aliases)) {
        return absl::AbortedError(
            absl::StrCat("the aliases or gates of model '", model,
                         "' changed while the gates ran; nothing was moved, try again"));
      }
      RETURN_IF_ERROR(tx.registry().UpdateVersion(v));
    }
    RETURN_IF_ERROR(tx.registry().SetAlias(m.id, alias, version, ctx.principal.user_name, now));
    Json detail{{"alias", alias}, {"version", version}};
    if (overridden) {
      detail["gate_override"] = true;
      detail["gate_report"] = report;
    }
    return AuditLog::AppendInTx(tx, ctx,
                                {overridden ? "model.alias.override" : "model.alias.set",
                                 Target(project, model), project.name, detail});
  }));
  NotifyAlias(m.id);
  return ModelAlias{std::string(alias), version, ctx.principal.user_name, now};
}

absl::StatusOr<ModelAlias> RegistryService::Rollback(const RequestContext& ctx,
                                                     const Project& project,
                                                     absl::string_view model,
                                                     absl::string_view alias) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  const int64_t now = NowMillis();
  int64_t target = 0;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto history, tx.registry().AliasHistory(m.id, 1000));
    std::optional<AliasChange> last;
    for (const auto& h : history) {
      if (h.alias == alias) {
        last = h;
        break;
      }
    }
    if (!last || !last->previous) {
      return absl::FailedPreconditionError(
          absl::StrCat("alias '", alias, "' has no earlier version to roll back to"));
    }
    target = *last->previous;
    ASSIGN_OR_RETURN(auto prev, tx.registry().FindVersion(m.id, target));
    if (!prev || prev->status == "archived") {
      return absl::FailedPreconditionError(
          absl::StrCat("version ", target, " is archived; restore it first"));
    }
    RETURN_IF_ERROR(tx.registry().SetAlias(m.id, alias, target, ctx.principal.user_name, now));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.alias.rollback", Target(project, model), project.name,
         Json{{"alias", alias}, {"from", last->version.value_or(0)}, {"to", target}}});
  }));
  NotifyAlias(m.id);
  return ModelAlias{std::string(alias), target, ctx.principal.user_name, now};
}

absl::Status RegistryService::DeleteAlias(const RequestContext& ctx, const Project& project,
                                          absl::string_view model, absl::string_view alias) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  {
    absl::MutexLock l(&mu_);
    if (serving_aliases_) {
      for (auto& a : serving_aliases_(m.id)) {
        if (a == alias) {
          return absl::FailedPreconditionError(
              absl::StrCat("alias '", alias, "' serves an endpoint; point the endpoint elsewhere"));
        }
      }
    }
  }
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(m.id));
    bool found = std::any_of(aliases.begin(), aliases.end(),
                             [&](const ModelAlias& a) { return a.alias == alias; });
    if (!found)
      return absl::NotFoundError(absl::StrCat("model '", model, "' has no alias '", alias, "'"));
    RETURN_IF_ERROR(
        tx.registry().SetAlias(m.id, alias, std::nullopt, ctx.principal.user_name, NowMillis()));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.alias.delete", Target(project, model), project.name, Json{{"alias", alias}}});
  }));
  NotifyAlias(m.id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AliasChange>> RegistryService::AliasHistory(const Project& project,
                                                                       absl::string_view model) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, model));
  std::vector<AliasChange> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.registry().AliasHistory(m.id, 200));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Json> RegistryService::Lineage(const Project& project, absl::string_view model,
                                              int64_t version) {
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  Json manifest = ParseJsonOr(v.manifest, Json::object());
  Json endpoints = Json::array();
  Json aliases = Json::array();
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto as, tx.registry().Aliases(v.model_id));
    for (const auto& a : as) {
      if (a.version == version) aliases.push_back(a.alias);
    }
    ASSIGN_OR_RETURN(auto eps, tx.endpoints().List(project.id));
    for (const auto& e : eps) {
      if (e.model_id != v.model_id) continue;
      Json cfg = ParseJsonOr(e.config, Json::object());
      bool uses = false;
      for (const auto& part :
           {cfg.value("targets", Json::array()), Json::array({cfg.value("shadow", Json())})}) {
        for (const auto& t : part) {
          if (!t.is_object()) continue;
          if (t.contains("version") && t["version"] == version) uses = true;
          if (t.contains("alias") &&
              std::find(aliases.begin(), aliases.end(), t["alias"]) != aliases.end()) {
            uses = true;
          }
        }
      }
      if (uses) endpoints.push_back(e.name);
    }
    return absl::OkStatus();
  }));
  return Json{{"dataset", manifest.value("lineage", Json::object())},
              {"run_id", v.run_uuid},
              {"model", model},
              {"version", version},
              {"aliases", aliases},
              {"endpoints", endpoints}};
}

void RegistryService::AddAliasObserver(std::function<void(int64_t)> fn) {
  absl::MutexLock l(&mu_);
  observers_.push_back(std::move(fn));
}

void RegistryService::SetServingAliases(std::function<std::vector<std::string>(int64_t)> fn) {
  absl::MutexLock l(&mu_);
  serving_aliases_ = std::move(fn);
}

void RegistryService::NotifyAlias(int64_t model_id) {
  std::vector<std::function<void(int64_t)>> obs;
  {
    absl::MutexLock l(&mu_);
    obs = observers_;
  }
  for (auto& f : obs) f(model_id);
}

}  // namespace kade
