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
#include "absl/strings/str_join.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"
#include "data/values.h"
#include "ml/metrics.h"
#include "ml/mlmodel.h"
#include "ml/xgb.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "platform/serving_service.h"

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

// The features of an imported model from a dataset version: the model's features in its
// own order, typed by the version's schema; categories of a text column sorted, as pandas
// orders a category dtype built from the values.
absl::StatusOr<std::vector<ml::Feature>> FeaturesFromDataset(const DatasetVersion& v,
                                                             const Json& profile,
                                                             const ml::TreeModel& engine) {
  Json schema = ParseJsonOr(v.schema, Json::array());
  if (engine.feature_names().empty()) {
    return Bad("the model file has no feature names; give the signature's features instead");
  }
  std::vector<ml::Feature> features;
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
    ml::Feature f;
    f.name = name;
    f.categorical = j < engine.feature_types().size() ? engine.feature_types()[j] == "c"
                                                      : (type == "categorical" || type == "string");
    f.source_type = ParseColumnType(type).value_or(f.categorical ? ColumnType::kCategorical
                                                                 : ColumnType::kFloat64);
    if (f.categorical) {
      const Json* cp = nullptr;
      if (profile.contains("columns") && profile["columns"].is_array()) {
        for (const auto& c : profile["columns"]) {
          if (c.value("name", "") == name) cp = &c;
        }
      }
      if (cp != nullptr && cp->contains("top") && (*cp)["top"].is_array()) {
        for (const auto& t : (*cp)["top"]) {
          if (t.contains("value") && t["value"].is_string()) {
            f.categories.push_back(t["value"].get<std::string>());
          }
        }
      }
      if (f.categories.empty()) {
        return Bad(absl::StrCat("no categories known for '", name,
                                "'; give the signature's categories instead"));
      }
      std::sort(f.categories.begin(), f.categories.end());
    }
    features.push_back(std::move(f));
  }
  return features;
}

// Free text a user gives (descriptions): bounded, like a project's description.
absl::Status CheckDescription(absl::string_view d) {
  if (d.size() > 4000) return Bad("description is longer than 4000 characters");
  return absl::OkStatus();
}

absl::Status CheckTags(const Tags& tags) {
  if (tags.size() > 100) return Bad("tags: expected an object of up to 100 strings");
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 250 || v.size() > 5000) {
      return Bad(
          absl::StrCat("tags.", k.substr(0, 60),
                       ": expected a string (keys up to 250, values up to 5000 characters)"));
    }
  }
  return absl::OkStatus();
}

std::string TagsText(const Tags& tags) {
  Json j = Json::object();
  for (const auto& [k, v] : tags) j[k] = v;
  return j.dump();
}

// A stored model's gates; a stored configuration that no longer parses gates nothing
// through silently: Gates() reports it as a failed check.
absl::StatusOr<GateConfig> StoredGates(const RegisteredModel& m) {
  return GateConfig::FromJson(ParseJsonOr(m.gates, Json::object()));
}

}  // namespace

absl::StatusOr<GateConfig> GateConfig::FromJson(const Json& g) {
  if (!g.is_object()) return Bad("gates: expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(
      g, {"metrics", "beat_champion", "latency_p99_ms", "data_quality", "aliases"}));
  GateConfig out;
  if (g.contains("metrics")) {
    if (!g["metrics"].is_array()) return Bad("gates.metrics: expected an array");
    for (size_t i = 0; i < g["metrics"].size(); ++i) {
      const Json& t = g["metrics"][i];
      if (!t.is_object() || !t.contains("metric") || !t["metric"].is_string() ||
          (!t.contains("min") && !t.contains("max")) ||
          (t.contains("min") && !t["min"].is_number()) ||
          (t.contains("max") && !t["max"].is_number()) ||
          !RejectUnknownFields(t, {"metric", "min", "max"}).ok()) {
        return Bad(absl::StrCat("gates.metrics[", i,
                                "]: expected {\"metric\": NAME, \"min\"|\"max\": NUMBER}"));
      }
      MetricBound b;
      b.metric = t["metric"].get<std::string>();
      if (t.contains("min")) b.min = t["min"].get<double>();
      if (t.contains("max")) b.max = t["max"].get<double>();
      out.metrics.push_back(std::move(b));
    }
  }
  if (g.contains("latency_p99_ms")) {
    if (!g["latency_p99_ms"].is_number() || g["latency_p99_ms"].get<double>() <= 0) {
      return Bad("gates.latency_p99_ms: expected a positive number");
    }
    out.latency_p99_ms = g["latency_p99_ms"].get<double>();
  }
  if (g.contains("data_quality")) {
    if (!g["data_quality"].is_boolean()) return Bad("gates.data_quality: expected true or false");
    out.data_quality = g["data_quality"].get<bool>();
  }
  if (g.contains("beat_champion")) {
    const Json& b = g["beat_champion"];
    const bool version_ok = !b.is_object() || !b.contains("version") || b["version"].is_string() ||
                            b["version"].is_number_integer();
    if (!b.is_object() || !b.contains("dataset") || !b["dataset"].is_string() ||
        !b.contains("metric") || !b["metric"].is_string() || !version_ok ||
        (b.contains("alias") && !b["alias"].is_string()) ||
        !RejectUnknownFields(b, {"dataset", "version", "metric", "alias"}).ok()) {
      return Bad(
          "gates.beat_champion: expected {\"dataset\": NAME, \"version\": REF, \"metric\": "
          "NAME, \"alias\": ALIAS}");
    }
    BeatChampion c;
    c.dataset = b["dataset"].get<std::string>();
    c.metric = b["metric"].get<std::string>();
    if (b.contains("version")) {
      c.version = b["version"].is_string() ? b["version"].get<std::string>() : b["version"].dump();
    }
    if (b.contains("alias")) c.alias = b["alias"].get<std::string>();
    out.beat_champion = std::move(c);
  }
  if (g.contains("aliases")) {
    if (!g["aliases"].is_array()) return Bad("gates.aliases: expected an array of alias names");
    std::vector<std::string> aliases;
    for (const auto& a : g["aliases"]) {
      if (!a.is_string()) return Bad("gates.aliases: expected an array of alias names");
      aliases.push_back(a.get<std::string>());
    }
    out.aliases = std::move(aliases);
  }
  return out;
}

Json GateConfig::ToJson() const {
  Json out = Json::object();
  if (!metrics.empty()) {
    Json ms = Json::array();
    for (const auto& b : metrics) {
      Json t{{"metric", b.metric}};
      if (b.min) t["min"] = *b.min;
      if (b.max) t["max"] = *b.max;
      ms.push_back(std::move(t));
    }
    out["metrics"] = std::move(ms);
  }
  if (beat_champion) {
    out["beat_champion"] = Json{{"dataset", beat_champion->dataset},
                                {"version", beat_champion->version},
                                {"metric", beat_champion->metric},
                                {"alias", beat_champion->alias}};
  }
  if (latency_p99_ms) out["latency_p99_ms"] = *latency_p99_ms;
  if (data_quality) out["data_quality"] = true;
  if (aliases) out["aliases"] = *aliases;
  return out;
}

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
                                                             const ModelSpec& spec) {
  RETURN_IF_ERROR(ValidateName("model", spec.name));
  RETURN_IF_ERROR(CheckDescription(spec.description));
  RETURN_IF_ERROR(CheckTags(spec.tags));
  RegisteredModel m;
  m.project_id = project.id;
  m.name = spec.name;
  m.description = spec.description;
  m.tags = TagsText(spec.tags);
  m.gates = spec.gates.ToJson().dump();
  m.created_by = ctx.principal.user_name;
  m.created_at = m.updated_at = NowMillis();
  RegisteredModel out;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.registry().FindModel(project.id, spec.name));
    if (existing) {
      return absl::AlreadyExistsError(absl::StrCat("model '", spec.name, "' already exists"));
    }
    ASSIGN_OR_RETURN(out, tx.registry().CreateModel(m));
    return AuditLog::AppendInTx(tx, ctx,
                                {"model.create", Target(project, spec.name), project.name});
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
                                                             const ModelChange& change) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, name));
  // The audit record holds what changed.
  Json detail = Json::object();
  if (change.description) {
    RETURN_IF_ERROR(CheckDescription(*change.description));
    m.description = *change.description;
    detail["description"] = m.description;
  }
  if (change.tags) {
    RETURN_IF_ERROR(CheckTags(*change.tags));
    m.tags = TagsText(*change.tags);
    detail["tags"] = ParseJsonOr(m.tags, Json::object());
  }
  if (change.gates) {
    detail["gates"] = change.gates->ToJson();
    m.gates = detail["gates"].dump();
  }
  m.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.registry().UpdateModel(m));
    return AuditLog::AppendInTx(tx, ctx,
                                {"model.update", Target(project, name), project.name, detail});
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
  v.model_path = model_path;
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
                                                     const ImportSpec& spec) {
  RETURN_IF_ERROR(ValidateName("model", model));
  RETURN_IF_ERROR(CheckDescription(spec.description));
  RETURN_IF_ERROR(CheckTags(spec.tags));
  if (spec.model_bytes.empty()) return Bad("the model file is empty");
  if (!spec.run_id.empty()) {
    ASSIGN_OR_RETURN(RunView run, tracking_->GetRun(ctx.principal, spec.run_id));
    if (run.project != project.name) {
      return absl::NotFoundError(absl::StrCat("Run '", spec.run_id, "' not found"));
    }
  }
  // XGBoost reads JSON and UBJSON; its JSON is what Kade stores and serves.
  auto booster = ml::Booster::FromJson(spec.model_bytes);
  if (!booster.ok()) {
    return Bad(
        absl::StrCat("not an XGBoost model file (JSON or UBJSON): ", booster.status().message()));
  }
  ASSIGN_OR_RETURN(std::string model_json, booster->SaveJson());
  ASSIGN_OR_RETURN(auto engine, ml::TreeModel::FromXgboostJson(model_json));
  ml::Encoding sig;
  sig.target = spec.target;
  Json lineage = Json::object();
  if (spec.from_dataset) {
    const auto& from = *spec.from_dataset;
    ASSIGN_OR_RETURN(DatasetVersion dv,
                     datasets_->GetVersion(project, from.dataset, from.version, true));
    ASSIGN_OR_RETURN(sig.features,
                     FeaturesFromDataset(dv, ParseJsonOr(dv.profile, Json::object()), *engine));
    sig.target = from.target;
    lineage = Json{{"dataset", from.dataset}, {"version", dv.version}, {"sha256", dv.sha256}};
  } else {
    if (spec.features.empty()) return Bad("signature: 'features' must be a non-empty array");
    sig.features = spec.features;
  }
  // Task and classes from the objective when not given.
  const std::string& obj = engine->objective();
  sig.task = spec.task                                                 ? *spec.task
             : obj.rfind("multi:", 0) == 0                             ? "multiclass"
             : (obj.rfind("binary:", 0) == 0 || obj == "reg:logistic") ? "binary"
                                                                       : "regression";
  if (spec.classes) {
    sig.classes = *spec.classes;
  } else if (sig.task != "regression") {
    for (int k = 0; k < std::max(2, engine->num_groups()); ++k) {
      sig.classes.push_back(absl::StrCat(k));
    }
  }
  sig.null_tokens = spec.null_tokens ? *spec.null_tokens : DefaultNullTokens();
  Json metrics = Json::object();
  for (const auto& [k, v] : spec.metrics) metrics[k] = v;
  Json manifest{{"format", "kade-model/1"},   {"flavor", "xgboost"},
                {"model_file", "model.json"}, {"xgboost_version", ml::XgboostVersion()},
                {"signature", sig.ToJson()},  {"preprocessing", Json::object()},
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
  v.model_path = path;
  v.source = spec.source_uri.empty() ? "import" : "mlflow";
  v.run_uuid = spec.run_id;
  v.source_uri = spec.source_uri;
  v.tags = TagsText(spec.tags);
  v.model_sha256 = sha;
  v.manifest = manifest.dump();
  v.description = spec.description;
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
    v.updated_at = NowMillis();
    RETURN_IF_ERROR(tx.registry().UpdateVersion(v));
    return AuditLog::AppendInTx(tx, ctx,
                                {archived ? "model.version.archive" : "model.version.restore",
                                 absl::StrCat(Target(project, model), "/", version), project.name});
  }));
  return v;
}

absl::StatusOr<std::vector<VersionComparison>> RegistryService::Compare(
    const Project& project, absl::string_view model, const std::vector<int64_t>& versions) {
  if (versions.size() < 2 || versions.size() > 10) {
    return Bad("compare two to ten versions");
  }
  std::vector<VersionComparison> out;
  std::vector<Json> sigs;
  for (int64_t n : versions) {
    VersionComparison c;
    ASSIGN_OR_RETURN(c.version, GetVersion(project, model, absl::StrCat(n)));
    Json m = ParseJsonOr(c.version.manifest, Json::object());
    sigs.push_back(m.value("signature", Json::object()));
    c.metrics = m.value("metrics", Json::object());
    c.params = m.value("params", Json::object());
    c.lineage = m.value("lineage", Json::object());
    out.push_back(std::move(c));
  }
  // Signature differences against the first version.
  auto features = [](const Json& sig) {
    std::map<std::string, Json> f;
    if (sig.contains("features") && sig["features"].is_array()) {
      for (const auto& x : sig["features"]) {
        if (x.is_object()) f[x.value("name", "")] = x;
      }
    }
    return f;
  };
  auto base = features(sigs[0]);
  for (size_t i = 1; i < sigs.size(); ++i) {
    auto other = features(sigs[i]);
    VersionComparison::SignatureChanges ch;
    ch.against = versions[0];
    for (const auto& [n, f] : other) {
      if (!base.count(n)) {
        ch.added.push_back(n);
      } else if (base[n].value("type", "") != f.value("type", "")) {
        ch.type_changed.push_back(n);
      }
    }
    for (const auto& [n, f] : base) {
      if (!other.count(n)) ch.removed.push_back(n);
    }
    ch.task_changed = sigs[0].value("task", "") != sigs[i].value("task", "");
    out[i].signature_changes = std::move(ch);
  }
  return out;
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
  auto stored = StoredGates(m);
  GateConfig gates = stored.ok() ? *stored : GateConfig{};
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
  if (!stored.ok()) {
    add("configuration", false,
        Json{{"reason", absl::StrCat("the stored gate configuration is invalid: ",
                                     stored.status().message())}});
  }
  for (const auto& t : gates.metrics) {
    const std::string& name = t.metric;
    if (!metrics.contains(name) || !metrics[name].is_number()) {
      add("metric", false, Json{{"metric", name}, {"reason", "the version has no such metric"}});
      continue;
    }
    double value = metrics[name].get<double>();
    bool ok = true;
    if (t.min) ok &= value >= *t.min;
    if (t.max) ok &= value <= *t.max;
    Json d{{"metric", name}, {"value", value}};
    if (t.min) d["min"] = *t.min;
    if (t.max) d["max"] = *t.max;
    add("metric", ok, d);
  }
  if (gates.data_quality) {
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
  if (gates.latency_p99_ms) {
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
      double budget = *gates.latency_p99_ms;
      add("latency", p99 <= budget, Json{{"p99_ms", p99}, {"budget_ms", budget}});
    }
  }
  if (gates.beat_champion) {
    const std::string& ds = gates.beat_champion->dataset;
    const std::string& ref = gates.beat_champion->version;
    const std::string& metric = gates.beat_champion->metric;
    const std::string& champion_alias = gates.beat_champion->alias;
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
  auto gates = StoredGates(m);
  std::set<std::string> gated;
  if (gates.ok() && gates->aliases) {
    gated.insert(gates->aliases->begin(), gates->aliases->end());
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
    // Each failed check with its numbers, so a client that shows only the message (MLflow's)
    // says why: "metric auc = 0.71 (min 0.75)".
    for (const auto& c : out.report["checks"]) {
      if (c["passed"].get<bool>()) continue;
      std::string one = c["gate"].get<std::string>();
      if (c.contains("metric") && c["metric"].is_string()) {
        absl::StrAppend(&one, " ", c["metric"].get<std::string>());
      }
      if (c.contains("value") && c["value"].is_number()) {
        absl::StrAppend(&one, " = ", absl::SixDigits(c["value"].get<double>()));
      }
      std::vector<std::string> bounds;
      for (const char* b : {"min", "max", "champion_value"}) {
        if (c.contains(b) && c[b].is_number()) {
          bounds.push_back(absl::StrCat(b, " ", absl::SixDigits(c[b].get<double>())));
        }
      }
      if (!bounds.empty()) absl::StrAppend(&one, " (", absl::StrJoin(bounds, ", "), ")");
      if (c.contains("reason") && c["reason"].is_string()) {
        absl::StrAppend(&one, ": ", c["reason"].get<std::string>());
      }
      absl::StrAppend(&failed, failed.empty() ? "" : "; ", one);
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

absl::StatusOr<VersionLineage> RegistryService::Lineage(const Project& project,
                                                        absl::string_view model, int64_t version) {
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  VersionLineage out;
  out.model = std::string(model);
  out.version = version;
  out.run_id = v.run_uuid;
  out.dataset = ParseJsonOr(v.manifest, Json::object()).value("lineage", Json::object());
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto as, tx.registry().Aliases(v.model_id));
    for (const auto& a : as) {
      if (a.version == version) out.aliases.push_back(a.alias);
    }
    ASSIGN_OR_RETURN(auto eps, tx.endpoints().List(project.id));
    for (const auto& e : eps) {
      if (e.model_id != v.model_id) continue;
      auto cfg = EndpointConfig::FromJson(ParseJsonOr(e.config, Json::object()));
      if (!cfg.ok()) continue;
      std::vector<EndpointConfig::Target> targets = cfg->targets;
      if (cfg->shadow) targets.push_back(*cfg->shadow);
      bool uses = false;
      for (const auto& t : targets) {
        if (t.alias.empty()
                ? t.version == version
                : std::find(out.aliases.begin(), out.aliases.end(), t.alias) != out.aliases.end()) {
          uses = true;
        }
      }
      if (uses) out.endpoints.push_back(e.name);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<ModelDetails>> RegistryService::ListModelsBrief(const Project& project) {
  std::vector<ModelDetails> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto models, tx.registry().ListModels(project.id));
    ASSIGN_OR_RETURN(auto versions, tx.registry().ProjectVersions(project.id));
    ASSIGN_OR_RETURN(auto aliases, tx.registry().ProjectAliases(project.id));
    std::map<int64_t, size_t> index;
    for (auto& m : models) {
      index[m.id] = out.size();
      out.push_back(ModelDetails{std::move(m), {}, {}});
    }
    for (auto& v : versions) {
      auto it = index.find(v.model_id);
      if (it != index.end()) out[it->second].versions.push_back(std::move(v));
    }
    for (auto& [model_id, a] : aliases) {
      auto it = index.find(model_id);
      if (it != index.end()) out[it->second].aliases.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<RegisteredModel> RegistryService::RenameModel(const RequestContext& ctx,
                                                             const Project& project,
                                                             absl::string_view name,
                                                             absl::string_view new_name) {
  RETURN_IF_ERROR(ValidateName("model", new_name));
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, name));
  if (name == new_name) return m;
  m.name = std::string(new_name);
  m.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.registry().FindModel(project.id, new_name));
    if (existing) {
      return absl::AlreadyExistsError(absl::StrCat("model '", new_name, "' already exists"));
    }
    RETURN_IF_ERROR(tx.registry().UpdateModel(m));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.rename", Target(project, name), project.name, Json{{"new_name", new_name}}});
  }));
  NotifyAlias(m.id);  // endpoints re-read the model's name
  return m;
}

absl::Status RegistryService::DeleteModel(const RequestContext& ctx, const Project& project,
                                          absl::string_view name) {
  ASSIGN_OR_RETURN(RegisteredModel m, FindModel(project, name));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto endpoints, tx.endpoints().List(project.id));
    for (const auto& e : endpoints) {
      if (e.model_id == m.id) {
        return absl::FailedPreconditionError(absl::StrCat(
            "model '", name, "' is served by endpoint '", e.name, "'; delete the endpoint first"));
      }
    }
    RETURN_IF_ERROR(tx.registry().DeleteModel(m.id));
    return AuditLog::AppendInTx(tx, ctx, {"model.delete", Target(project, name), project.name});
  }));
  servables_.EraseIf([&](const ServableKey& k) { return k.first == m.id; });
  return absl::OkStatus();
}

absl::StatusOr<ModelVersion> RegistryService::UpdateVersion(const RequestContext& ctx,
                                                            const Project& project,
                                                            absl::string_view model,
                                                            int64_t version,
                                                            const VersionChange& change) {
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  Json detail = Json::object();
  if (change.description) {
    RETURN_IF_ERROR(CheckDescription(*change.description));
    v.description = *change.description;
    detail["description"] = v.description;
  }
  if (change.tags) {
    RETURN_IF_ERROR(CheckTags(*change.tags));
    v.tags = TagsText(*change.tags);
    detail["tags"] = ParseJsonOr(v.tags, Json::object());
  }
  v.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.registry().UpdateVersion(v));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.version.update", absl::StrCat(Target(project, model), "/", version), project.name,
         detail});
  }));
  return v;
}

absl::Status RegistryService::DeleteVersion(const RequestContext& ctx, const Project& project,
                                            absl::string_view model, int64_t version) {
  ASSIGN_OR_RETURN(ModelVersion v, GetVersion(project, model, absl::StrCat(version)));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto aliases, tx.registry().Aliases(v.model_id));
    for (const auto& a : aliases) {
      if (a.version == version) {
        return absl::FailedPreconditionError(absl::StrCat("version ", version, " is '", a.alias,
                                                          "'; move or delete the alias first"));
      }
    }
    ASSIGN_OR_RETURN(auto endpoints, tx.endpoints().List(project.id));
    for (const auto& e : endpoints) {
      if (e.model_id != v.model_id) continue;
      auto config = EndpointConfig::FromJson(ParseJsonOr(e.config, Json::object()));
      if (!config.ok()) continue;
      bool pinned =
          config->shadow && config->shadow->alias.empty() && config->shadow->version == version;
      for (const auto& t : config->targets)
        pinned = pinned || (t.alias.empty() && t.version == version);
      if (pinned) {
        return absl::FailedPreconditionError(
            absl::StrCat("version ", version, " is served by endpoint '", e.name, "'"));
      }
    }
    v.status = "deleted";
    v.updated_at = NowMillis();
    RETURN_IF_ERROR(tx.registry().UpdateVersion(v));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"model.version.delete", absl::StrCat(Target(project, model), "/", version), project.name});
  }));
  servables_.EraseIf([&](const ServableKey& k) { return k == ServableKey{v.model_id, version}; });
  return absl::OkStatus();
}

absl::StatusOr<ModelVersion> RegistryService::RegisterArtifactModel(const RequestContext& ctx,
                                                                    const Project& project,
                                                                    absl::string_view model,
                                                                    const ArtifactModelSpec& spec) {
  RETURN_IF_ERROR(ValidateName("model", model));
  std::string dir = spec.dir;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  if (dir.empty() || dir.find("..") != std::string::npos) {
    return Bad(absl::StrCat("source '", spec.source_uri, "' names no model directory"));
  }
  // A model Kade trained: registered from its run, as the native API does.
  const std::string run_prefix = "runs/";
  if (auto manifest = artifacts_->Get(project, dir + "/kade_model.json"); manifest.ok()) {
    std::string run_id = spec.run_id;
    if (run_id.empty() && dir.rfind(run_prefix, 0) == 0) {
      run_id = dir.substr(run_prefix.size(), dir.find('/', run_prefix.size()) - run_prefix.size());
    }
    if (dir != absl::StrCat("runs/", run_id, "/artifacts/model")) {
      return Bad(absl::StrCat("source '", spec.source_uri,
                              "' is a Kade model outside its run's artifacts/model directory"));
    }
    ASSIGN_OR_RETURN(ModelVersion v, RegisterRun(ctx, project, model, run_id, spec.description));
    if (!spec.tags.empty() || !spec.source_uri.empty()) {
      v.tags = TagsText(spec.tags);
      v.source_uri = spec.source_uri;
      RETURN_IF_ERROR(CheckTags(spec.tags));
      RETURN_IF_ERROR(
          store_->Write([&](Transaction& tx) { return tx.registry().UpdateVersion(v); }));
    }
    return v;
  }
  auto text = ReadArtifact(project, dir + "/MLmodel", 1 << 20);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return Bad(absl::StrCat("source '", spec.source_uri, "': no MLmodel file at '", dir,
                              "/MLmodel' in project '", project.name, "'"));
    }
    return text.status();
  }
  auto mlmodel = ml::ReadMlmodel(*text);
  if (!mlmodel.ok()) {
    return Bad(absl::StrCat("source '", spec.source_uri, "': ", mlmodel.status().message()));
  }
  if (!mlmodel->xgboost_file) {
    return Bad(absl::StrCat("source '", spec.source_uri, "' has the flavors ",
                            absl::StrJoin(mlmodel->flavors, ", "),
                            "; Kade registers models with the xgboost flavor and models it "
                            "trained (docs/tracking.md)"));
  }
  ImportSpec imp;
  ASSIGN_OR_RETURN(imp.model_bytes, ReadArtifact(project, dir + "/" + *mlmodel->xgboost_file));
  if (mlmodel->inputs && !mlmodel->tensor_signature) {
    auto features = ml::FeaturesFromSignature(*mlmodel->inputs);
    if (!features.ok()) {
      return Bad(absl::StrCat("source '", spec.source_uri, "': ", features.status().message()));
    }
    imp.features = *std::move(features);
  } else {
    // No column signature: the feature names XGBoost kept in the model, when it kept them.
    auto booster = ml::Booster::FromJson(imp.model_bytes);
    Json learner;
    if (booster.ok()) {
      if (auto json = booster->SaveJson(); json.ok()) {
        learner = ParseJsonOr(*json, Json()).value("learner", Json());
      }
    }
    const Json names = learner.is_object() ? learner.value("feature_names", Json()) : Json();
    if (!names.is_array() || names.empty()) {
      return Bad(absl::StrCat("source '", spec.source_uri,
                              "': the model has no column signature and its XGBoost file names "
                              "no features; log it with signature=infer_signature(X, y)"));
    }
    for (const auto& n : names) {
      ml::Feature f;
      f.name = n.is_string() ? n.get<std::string>() : n.dump();
      imp.features.push_back(std::move(f));
    }
  }
  std::string run_id = spec.run_id.empty() ? mlmodel->run_id : spec.run_id;
  if (!run_id.empty()) {
    auto run = tracking_->GetRun(ctx.principal, run_id);
    if (run.ok() && run->project == project.name) {
      for (const auto& m : run->data.metrics) {
        if (m.kind == 0) imp.metrics[m.key] = m.value;
      }
    } else if (!spec.run_id.empty()) {
      return absl::NotFoundError(absl::StrCat("Run '", spec.run_id, "' not found"));
    } else {
      run_id.clear();  // the MLmodel names a run elsewhere: not linked
    }
  }
  imp.run_id = run_id;
  imp.source_uri = spec.source_uri.empty() ? dir : spec.source_uri;
  imp.description = spec.description;
  imp.tags = spec.tags;
  return Import(ctx, project, model, imp);
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
