// MLflow Model Registry REST API (registered-models/, model-versions/) on Kade's registry.
//
// The registered models and versions are the ones the native API and the UI show. MLflow's
// stages map onto aliases (docs/tracking.md): Production is the alias "champion" (gated, the
// alias endpoints serve by default), Staging the alias "staging", Archived a version's
// archived status; a version's current_stage is derived from them. Alias moves made here
// pass the model's quality gates as every alias move does; a refusal is INVALID_STATE with
// the gate report's reason.
//
// Names: on /projects/{p}/api/2.0/mlflow plain; on /api/2.0/mlflow plain in the caller's
// default project, else "PROJECT/NAME" (api/mlflow_common.h).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/mlflow_common.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "platform/policy.h"
#include "platform/run_filter.h"

namespace kade {

namespace S = schema;
namespace {

using mlflow::Fields;

constexpr const char* kProductionAlias = "champion";
constexpr const char* kStagingAlias = "staging";
constexpr int64_t kModelsDefaultMax = 100, kModelsMaxMax = 1000;
constexpr int64_t kVersionsDefaultMax = 10000, kVersionsMaxMax = 200000;

// The project and the plain model name of a request's `name` field.
struct ModelRef {
  ProjectView project;
  std::string name;
  bool plain = false;  // names in this project are shown without PROJECT/
  std::string Display(const std::string& model) const {
    return plain ? model : absl::StrCat(project.project.name, "/", model);
  }
};

// `create`: make the caller's personal project when a plain name on the root URI needs it.
absl::StatusOr<ModelRef> ResolveName(Platform* p, const RouteContext& rc, std::string name,
                                     Permission need, bool create = false) {
  ModelRef ref;
  ASSIGN_OR_RETURN(mlflow::Scope scope, mlflow::ScopeOf(p, rc));
  auto pn = mlflow::ProjectAndName(p, rc, scope, name, create);
  if (!pn.ok() && absl::IsNotFound(pn.status()) && name.find('/') == std::string::npos &&
      !scope.project) {
    return absl::NotFoundError(absl::StrCat("Registered Model with name=", name, " not found"));
  }
  RETURN_IF_ERROR(pn.status());
  ref.project = std::move(pn->first);
  ref.name = std::move(pn->second);
  ref.plain = scope.Plain(ref.project.project.name);
  RETURN_IF_ERROR(Authorize(rc.ctx.principal, need, ref.project.role, ref.project.project.name));
  return ref;
}

absl::StatusOr<ModelRef> NameField(Platform* p, const RouteContext& rc, const Fields& f,
                                   Permission need, bool create = false) {
  ASSIGN_OR_RETURN(std::string name, f.Str("name", true));
  if (name.empty()) {
    return absl::InvalidArgumentError("Missing value for required parameter 'name'.");
  }
  return ResolveName(p, rc, std::move(name), need, create);
}

absl::StatusOr<int64_t> VersionField(const Fields& f) {
  ASSIGN_OR_RETURN(std::string s, f.Str("version", true));
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value ", s, " for parameter 'version' supplied"));
  }
  return v;
}

// MLflow's wording for what is missing.
absl::Status ModelNotFound(const absl::Status& s, const std::string& name) {
  if (!absl::IsNotFound(s)) return s;
  return absl::NotFoundError(absl::StrCat("Registered Model with name=", name, " not found"));
}
absl::Status VersionNotFound(const absl::Status& s, const std::string& name, int64_t version) {
  if (!absl::IsNotFound(s)) return s;
  if (absl::StrContains(s.message(), "does not exist in project")) return ModelNotFound(s, name);
  return absl::NotFoundError(
      absl::StrCat("Model Version (name=", name, ", version=", version, ") not found"));
}

absl::StatusOr<Tags> TagList(const Json& body, const char* field) {
  ASSIGN_OR_RETURN(auto kvs, mlflow::KeyValues(body, field));
  Tags out;
  for (auto& [k, v] : kvs) out[k] = v;
  return out;
}

Tags TagsOf(const std::string& stored) {
  Tags out;
  Json j = ParseJsonOr(stored, Json::object());
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
  }
  return out;
}

Json TagsJson(const std::string& stored) {
  Json arr = Json::array();
  for (const auto& [k, v] : TagsOf(stored)) arr.push_back(Json{{"key", k}, {"value", v}});
  return arr;
}

std::vector<std::string> AliasesOf(const std::vector<ModelAlias>& aliases, int64_t version) {
  std::vector<std::string> out;
  for (const auto& a : aliases) {
    if (a.version == version) out.push_back(a.alias);
  }
  return out;
}

std::string StageOf(const ModelVersion& v, const std::vector<ModelAlias>& aliases) {
  auto mine = AliasesOf(aliases, v.version);
  auto has = [&](const char* a) { return std::find(mine.begin(), mine.end(), a) != mine.end(); };
  if (has(kProductionAlias)) return "Production";
  if (has(kStagingAlias)) return "Staging";
  if (v.status == "archived") return "Archived";
  return "None";
}

// MLflow's stage names, any case; nullopt for anything else.
std::optional<std::string> CanonicalStage(absl::string_view s) {
  std::string l = absl::AsciiStrToLower(s);
  if (l == "none") return "None";
  if (l == "staging") return "Staging";
  if (l == "production") return "Production";
  if (l == "archived") return "Archived";
  return std::nullopt;
}

// The model directory a version was registered from, inside the project's artifacts.
std::string VersionDir(const ModelVersion& v) {
  if (!v.run_uuid.empty() && v.source == "run") {
    return absl::StrCat("runs/", v.run_uuid, "/artifacts/model");
  }
  const std::string& path = v.model_path;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(0, slash);
}

std::string SourceOf(const ModelRef& ref, const ModelVersion& v) {
  if (!v.source_uri.empty()) return v.source_uri;
  return absl::StrCat("mlflow-artifacts:/", ref.project.project.name, "/", VersionDir(v));
}

Json VersionJson(const ModelRef& ref, const std::string& model, const ModelVersion& v,
                 const std::vector<ModelAlias>& aliases) {
  return Json{{"name", ref.Display(model)},
              {"version", std::to_string(v.version)},
              {"creation_timestamp", v.created_at},
              {"last_updated_timestamp", v.updated_at != 0 ? v.updated_at : v.created_at},
              {"user_id", v.created_by},
              {"current_stage", StageOf(v, aliases)},
              {"description", v.description},
              {"source", SourceOf(ref, v)},
              {"run_id", v.run_uuid},
              {"status", "READY"},
              {"tags", TagsJson(v.tags)},
              {"run_link", ""},
              {"aliases", AliasesOf(aliases, v.version)}};
}

// The latest version per stage (the stages asked for, or all four in MLflow's order).
Json LatestVersions(const ModelRef& ref, const ModelDetails& d,
                    const std::vector<std::string>& stages) {
  static const std::vector<std::string> kAll = {"None", "Staging", "Production", "Archived"};
  Json out = Json::array();
  for (const std::string& stage : stages.empty() ? kAll : stages) {
    for (const auto& v : d.versions) {  // newest first
      if (StageOf(v, d.aliases) == stage) {
        out.push_back(VersionJson(ref, d.model.name, v, d.aliases));
        break;
      }
    }
  }
  return out;
}

Json ModelJson(const ModelRef& ref, const ModelDetails& d) {
  Json aliases = Json::array();
  for (const auto& a : d.aliases) {
    aliases.push_back(Json{{"alias", a.alias}, {"version", std::to_string(a.version)}});
  }
  return Json{{"name", ref.Display(d.model.name)},
              {"creation_timestamp", d.model.created_at},
              {"last_updated_timestamp", d.model.updated_at},
              {"user_id", d.model.created_by},
              {"description", d.model.description},
              {"latest_versions", LatestVersions(ref, d, {})},
              {"tags", TagsJson(d.model.tags)},
              {"aliases", aliases}};
}

absl::StatusOr<HttpResponse> ModelResponse(Platform* p, const ModelRef& ref,
                                           const std::string& model) {
  auto d = p->registry->GetModel(ref.project.project, model);
  if (!d.ok()) return ModelNotFound(d.status(), ref.Display(model));
  return HttpResponse::MakeJson(200, Json{{"registered_model", ModelJson(ref, *d)}});
}

absl::StatusOr<HttpResponse> VersionResponse(Platform* p, const ModelRef& ref, int64_t version) {
  auto d = p->registry->GetModel(ref.project.project, ref.name);
  if (!d.ok()) return ModelNotFound(d.status(), ref.Display(ref.name));
  for (const auto& v : d->versions) {
    if (v.version == version) {
      return HttpResponse::MakeJson(
          200, Json{{"model_version", VersionJson(ref, ref.name, v, d->aliases)}});
    }
  }
  return absl::NotFoundError(absl::StrCat("Model Version (name=", ref.Display(ref.name),
                                          ", version=", version, ") not found"));
}

// max_results, with MLflow's bounds and wording.
absl::StatusOr<int64_t> MaxResults(const Fields& f, int64_t def, int64_t max) {
  ASSIGN_OR_RETURN(auto n, f.Int("max_results"));
  if (!n) return def;
  if (*n <= 0 || *n > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid value for max_results. It must be at most ", max, ", but got value ", *n));
  }
  return *n;
}

absl::StatusOr<size_t> PageOffset(const Fields& f) {
  ASSIGN_OR_RETURN(std::string token, f.Str("page_token", false));
  if (token.empty()) return 0;
  size_t off = 0;
  if (!absl::SimpleAtoi(token, &off)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid page token '", token, "'"));
  }
  return off;
}

absl::StatusOr<std::vector<std::string>> OrderBy(const Fields& f) {
  std::vector<std::string> out;
  const Json& body = f.body();
  if (!body.contains("order_by") || body["order_by"].is_null()) return out;
  Json ob = body["order_by"].is_array() ? body["order_by"] : Json::array({body["order_by"]});
  for (const auto& o : ob) {
    if (!o.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid value ", o.dump(), " for parameter 'order_by' supplied"));
    }
    out.push_back(o.get<std::string>());
  }
  return out;
}

// Every project a search covers: the scoped one, or all the caller can see.
absl::StatusOr<std::vector<ModelRef>> SearchScopes(Platform* p, const RouteContext& rc) {
  std::vector<ModelRef> out;
  ASSIGN_OR_RETURN(mlflow::Scope scope, mlflow::ScopeOf(p, rc));
  if (scope.project) {
    ModelRef r;
    r.plain = true;
    ASSIGN_OR_RETURN(r.project, p->projects->Resolve(rc.ctx.principal, scope.project->name));
    out.push_back(std::move(r));
    return out;
  }
  ASSIGN_OR_RETURN(auto views, p->projects->List(rc.ctx.principal));
  for (auto& v : views) {
    ModelRef r;
    r.plain = scope.Plain(v.project.name);
    r.project = std::move(v);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> TagValue(const Tags& tags, const std::string& key) {
  auto it = tags.find(key);
  if (it == tags.end()) return std::nullopt;
  return it->second;
}

// Sorts `rows` by MLflow order_by clauses over string and numeric keys; `key(row, attr)`
// gives (text, number) for an attribute.
template <typename Row, typename KeyFn>
absl::Status SortRows(std::vector<Row>& rows, const std::vector<std::string>& order_by,
                      const FilterVocabulary& vocab, KeyFn key) {
  std::vector<RunOrder> orders;
  for (const auto& o : order_by) {
    ASSIGN_OR_RETURN(RunOrder ro, ParseOrder(o, vocab));
    if (ro.entity != "attribute") {
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid order_by clause '", o, "': order by attributes only"));
    }
    orders.push_back(std::move(ro));
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    for (const auto& o : orders) {
      auto [ta, na] = key(a, o.key);
      auto [tb, nb] = key(b, o.key);
      if (ta != tb) return o.ascending ? ta < tb : ta > tb;
      if (na != nb) return o.ascending ? na < nb : na > nb;
    }
    return false;
  });
  return absl::OkStatus();
}

}  // namespace

void RegisterMlflowRegistryRoutes(Router& r) {
  Platform* p = r.platform();
  auto add = [&r](const std::string& method, const std::string& path, const std::string& action,
                  Handler h) { return mlflow::AddBoth(r, method, path, action, std::move(h)); };

  // ---- registered-models ------------------------------------------------------------------

  add("POST", "/registered-models/create", "model.create",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit, true));
        ModelSpec spec;
        spec.name = ref.name;
        ASSIGN_OR_RETURN(spec.description, f.Str("description", false));
        ASSIGN_OR_RETURN(spec.tags, TagList(f.body(), "tags"));
        auto m = p->registry->CreateModel(rc.ctx, ref.project.project, spec);
        if (absl::IsAlreadyExists(m.status())) {
          return absl::AlreadyExistsError(
              absl::StrCat("Registered Model (name=", ref.Display(ref.name), ") already exists."));
        }
        RETURN_IF_ERROR(m.status());
        return ModelResponse(p, ref, ref.name);
      })
      .Doc(
          "Create a registered model",
          S::Obj({{"registered_model", S::Ref("MlflowRegisteredModel")}}),
          S::Obj(
              {{"name", S::Str()}, {"tags", S::Arr(S::Ref("KeyValue"))}, {"description", S::Str()}},
              {"name"}));

  add("GET", "/registered-models/get", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectView));
        return ModelResponse(p, ref, ref.name);
      })
      .Doc("A registered model", S::Obj({{"registered_model", S::Ref("MlflowRegisteredModel")}}),
           S::Obj({{"name", S::Str()}}, {"name"}));

  add("POST", "/registered-models/rename", "model.rename",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ASSIGN_OR_RETURN(std::string new_name, f.Str("new_name", true));
        {
          // On the root URI the new name may be PROJECT/NAME too, in the same project.
          ASSIGN_OR_RETURN(ModelRef to, ResolveName(p, rc, new_name, Permission::kProjectEdit));
          if (to.project.project.id != ref.project.project.id) {
            return absl::InvalidArgumentError("a registered model cannot move between projects");
          }
          new_name = to.name;
        }
        auto m = p->registry->RenameModel(rc.ctx, ref.project.project, ref.name, new_name);
        if (absl::IsAlreadyExists(m.status())) {
          return absl::AlreadyExistsError(
              absl::StrCat("Registered Model (name=", ref.Display(new_name), ") already exists."));
        }
        if (!m.ok()) return ModelNotFound(m.status(), ref.Display(ref.name));
        return ModelResponse(p, ref, new_name);
      })
      .Doc("Rename a registered model",
           S::Obj({{"registered_model", S::Ref("MlflowRegisteredModel")}}),
           S::Obj({{"name", S::Str()}, {"new_name", S::Str()}}, {"name", "new_name"}));

  add("PATCH", "/registered-models/update", "model.update",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ModelChange change;
        ASSIGN_OR_RETURN(std::string d, f.Str("description", false));
        change.description = d;
        auto m = p->registry->UpdateModel(rc.ctx, ref.project.project, ref.name, change);
        if (!m.ok()) return ModelNotFound(m.status(), ref.Display(ref.name));
        return ModelResponse(p, ref, ref.name);
      })
      .Doc("Change a registered model's description",
           S::Obj({{"registered_model", S::Ref("MlflowRegisteredModel")}}),
           S::Obj({{"name", S::Str()}, {"description", S::Str()}}, {"name"}));

  add("DELETE", "/registered-models/delete", "model.delete",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectManage));
        absl::Status s = p->registry->DeleteModel(rc.ctx, ref.project.project, ref.name);
        if (!s.ok()) return ModelNotFound(s, ref.Display(ref.name));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Delete a registered model (refused while an endpoint serves it)", S::Empty(),
           S::Obj({{"name", S::Str()}}, {"name"}));

  for (const bool set : {true, false}) {
    add(set ? "POST" : "DELETE",
        set ? "/registered-models/set-tag" : "/registered-models/delete-tag", "model.update",
        [p, set](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
          ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
          ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
          if (key.empty())
            return absl::InvalidArgumentError("Missing value for required parameter 'key'");
          auto d = p->registry->GetModel(ref.project.project, ref.name);
          if (!d.ok()) return ModelNotFound(d.status(), ref.Display(ref.name));
          Tags tags = TagsOf(d->model.tags);
          if (set) {
            ASSIGN_OR_RETURN(std::string value, f.Str("value", false));
            tags[key] = value;
          } else if (tags.erase(key) == 0) {
            return absl::NotFoundError(absl::StrCat(
                "No tag with name: ", key, " in registered model ", ref.Display(ref.name)));
          }
          ModelChange change;
          change.tags = std::move(tags);
          RETURN_IF_ERROR(
              p->registry->UpdateModel(rc.ctx, ref.project.project, ref.name, change).status());
          return HttpResponse::MakeJson(200, Json::object());
        })
        .Doc(set ? "Set a registered model tag" : "Delete a registered model tag", S::Empty(),
             S::Obj({{"name", S::Str()}, {"key", S::Str()}, {"value", S::Str()}}, {"name", "key"}));
  }

  add("POST", "/registered-models/alias", "model.alias.set",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ASSIGN_OR_RETURN(std::string alias, f.Str("alias", true));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        auto a = p->registry->SetAlias(rc.ctx, ref.project.project, ref.project.role, ref.name,
                                       alias, version, /*force=*/false);
        if (!a.ok()) return VersionNotFound(a.status(), ref.Display(ref.name), version);
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Point an alias at a version (through the quality gates)", S::Empty(),
           S::Obj({{"name", S::Str()}, {"alias", S::Str()}, {"version", S::Str()}},
                  {"name", "alias", "version"}));

  add("DELETE", "/registered-models/alias", "model.alias.delete",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ASSIGN_OR_RETURN(std::string alias, f.Str("alias", true));
        absl::Status s = p->registry->DeleteAlias(rc.ctx, ref.project.project, ref.name, alias);
        if (absl::IsNotFound(s) && absl::StrContains(s.message(), "has no alias")) {
          return absl::NotFoundError(absl::StrCat("Registered model alias ", alias, " not found."));
        }
        if (!s.ok()) return ModelNotFound(s, ref.Display(ref.name));
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Delete an alias", S::Empty(),
           S::Obj({{"name", S::Str()}, {"alias", S::Str()}}, {"name", "alias"}));

  add("GET", "/registered-models/alias", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectView));
        ASSIGN_OR_RETURN(std::string alias, f.Str("alias", true));
        auto d = p->registry->GetModel(ref.project.project, ref.name);
        if (!d.ok()) return ModelNotFound(d.status(), ref.Display(ref.name));
        for (const auto& a : d->aliases) {
          if (a.alias == alias) return VersionResponse(p, ref, a.version);
        }
        return absl::NotFoundError(absl::StrCat("Registered model alias ", alias, " not found."));
      })
      .Doc("The version an alias points at",
           S::Obj({{"model_version", S::Ref("MlflowModelVersion")}}),
           S::Obj({{"name", S::Str()}, {"alias", S::Str()}}, {"name", "alias"}));

  add("POST", "/registered-models/get-latest-versions", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectView));
        std::vector<std::string> stages;
        const Json& body = f.body();
        if (body.contains("stages") && !body["stages"].is_null()) {
          Json list = body["stages"].is_array() ? body["stages"] : Json::array({body["stages"]});
          for (const auto& s : list) {
            auto st = s.is_string() ? CanonicalStage(s.get<std::string>()) : std::nullopt;
            if (!st) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "Invalid Model Version stage: ", s.is_string() ? s.get<std::string>() : s.dump(),
                  ". Value must be one of None, Staging, Production, Archived."));
            }
            stages.push_back(*st);
          }
        }
        auto d = p->registry->GetModel(ref.project.project, ref.name);
        if (!d.ok()) return ModelNotFound(d.status(), ref.Display(ref.name));
        return HttpResponse::MakeJson(200,
                                      Json{{"model_versions", LatestVersions(ref, *d, stages)}});
      })
      .Doc("The newest version per stage",
           S::Obj({{"model_versions", S::Arr(S::Ref("MlflowModelVersion"))}}),
           S::Obj({{"name", S::Str()}, {"stages", S::Arr(S::Str())}}, {"name"}));

  add("GET", "/registered-models/search", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string filter, f.Str("filter", false));
        ASSIGN_OR_RETURN(auto clauses, ParseFilter(filter, ModelVocabulary()));
        ASSIGN_OR_RETURN(int64_t max, MaxResults(f, kModelsDefaultMax, kModelsMaxMax));
        ASSIGN_OR_RETURN(size_t offset, PageOffset(f));
        ASSIGN_OR_RETURN(auto order_by, OrderBy(f));
        ASSIGN_OR_RETURN(auto scopes, SearchScopes(p, rc));
        struct Row {
          const ModelRef* ref;
          ModelDetails d;
          std::string shown;
        };
        std::vector<Row> rows;
        for (const auto& ref : scopes) {
          ASSIGN_OR_RETURN(auto models, p->registry->ListModelsBrief(ref.project.project));
          for (auto& d : models) {
            Row row{&ref, std::move(d), ""};
            row.shown = ref.Display(row.d.model.name);
            Tags tags = TagsOf(row.d.model.tags);
            bool ok = true;
            for (const auto& c : clauses) {
              if (c.entity == "tag") {
                ok = ClauseMatches(c, TagValue(tags, c.key));
              } else if (c.key == "name") {
                ok = ClauseMatches(c, row.shown);
              } else {
                const double t =
                    static_cast<double>(c.key == "creation_timestamp" ? row.d.model.created_at
                                                                      : row.d.model.updated_at);
                ok = ClauseMatches(c, std::nullopt, t);
              }
              if (!ok) break;
            }
            if (ok) rows.push_back(std::move(row));
          }
        }
        if (order_by.empty()) order_by.push_back("name ASC");
        RETURN_IF_ERROR(
            SortRows(rows, order_by, ModelVocabulary(), [](const Row& r, const std::string& k) {
              if (k == "name") return std::make_pair(r.shown, 0.0);
              return std::make_pair(std::string(), static_cast<double>(k == "creation_timestamp"
                                                                           ? r.d.model.created_at
                                                                           : r.d.model.updated_at));
            }));
        Json arr = Json::array();
        for (size_t i = offset; i < rows.size() && static_cast<int64_t>(arr.size()) < max; ++i) {
          arr.push_back(ModelJson(*rows[i].ref, rows[i].d));
        }
        Json out{{"registered_models", arr}};
        if (offset + arr.size() < rows.size())
          out["next_page_token"] = std::to_string(offset + arr.size());
        return HttpResponse::MakeJson(200, out);
      })
      .Doc("Search registered models",
           S::Obj({{"registered_models", S::Arr(S::Ref("MlflowRegisteredModel"))},
                   {"next_page_token", S::Str()}}),
           S::Obj({{"filter", S::Str()},
                   {"max_results", S::Int()},
                   {"order_by", S::Arr(S::Str())},
                   {"page_token", S::Str()}}));

  // ---- model-versions ---------------------------------------------------------------------

  add("POST", "/model-versions/create", "model.version.create",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit, true));
        ASSIGN_OR_RETURN(std::string source, f.Str("source", true));
        if (source.empty()) {
          return absl::InvalidArgumentError("Missing value for required parameter 'source'");
        }
        ArtifactModelSpec spec;
        spec.source_uri = source;
        ASSIGN_OR_RETURN(spec.run_id, f.Str("run_id", false));
        ASSIGN_OR_RETURN(spec.description, f.Str("description", false));
        ASSIGN_OR_RETURN(spec.tags, TagList(f.body(), "tags"));
        const std::string& project = ref.project.project.name;
        // The source, as a directory of the project's artifacts.
        absl::string_view s = source;
        std::string dir;
        if (absl::ConsumePrefix(&s, "mlflow-artifacts:/")) {
          while (absl::ConsumePrefix(&s, "/")) {
          }
          if (!absl::ConsumePrefix(&s, project + "/")) {
            return absl::InvalidArgumentError(absl::StrCat(
                "source '", source, "' is outside project '", project, "''s artifacts"));
          }
          dir = std::string(s);
        } else if (absl::ConsumePrefix(&s, "runs:/")) {
          size_t slash = s.find('/');
          std::string run(s.substr(0, slash));
          if (spec.run_id.empty()) spec.run_id = run;
          dir = absl::StrCat("runs/", run, "/artifacts/",
                             slash == absl::string_view::npos ? "" : s.substr(slash + 1));
        } else if (absl::ConsumePrefix(&s, "models:/")) {
          // Another registered version (MLflow's copy_model_version).
          std::string rest(s);
          size_t at = rest.find('@'), slash = rest.rfind('/');
          std::string model, refname;
          if (at != std::string::npos) {
            model = rest.substr(0, at);
            refname = rest.substr(at + 1);
          } else if (slash != std::string::npos) {
            model = rest.substr(0, slash);
            refname = rest.substr(slash + 1);
          }
          if (model.empty() || refname.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "source '", source, "': expected models:/NAME/VERSION or models:/NAME@ALIAS"));
          }
          if (absl::StartsWith(model, project + "/")) {
            model = model.substr(project.size() + 1);
          }
          auto v = p->registry->GetVersion(ref.project.project, model, refname);
          if (!v.ok()) return ModelNotFound(v.status(), model);
          dir = VersionDir(*v);
          if (spec.run_id.empty()) spec.run_id = v->run_uuid;
        } else if (source.find("://") == std::string::npos &&
                   source.find(":/") == std::string::npos) {
          dir = source;  // a plain artifact path in the project
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              "source '", source,
              "' is not in Kade's artifact store; log the model to a run on this server "
              "(mlflow-artifacts:/, runs:/ or models:/ URIs)"));
        }
        spec.dir = dir;
        auto v = p->registry->RegisterArtifactModel(rc.ctx, ref.project.project, ref.name, spec);
        RETURN_IF_ERROR(v.status());
        return VersionResponse(p, ref, v->version);
      })
      .Doc("Create a model version from a model directory (Kade or MLflow xgboost flavor)",
           S::Obj({{"model_version", S::Ref("MlflowModelVersion")}}),
           S::Obj({{"name", S::Str()},
                   {"source", S::Str()},
                   {"run_id", S::Str()},
                   {"tags", S::Arr(S::Ref("KeyValue"))},
                   {"run_link", S::Str()},
                   {"description", S::Str()}},
                  {"name", "source"}));

  add("GET", "/model-versions/get", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectView));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        return VersionResponse(p, ref, version);
      })
      .Doc("A model version", S::Obj({{"model_version", S::Ref("MlflowModelVersion")}}),
           S::Obj({{"name", S::Str()}, {"version", S::Str()}}, {"name", "version"}));

  add("PATCH", "/model-versions/update", "model.version.update",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        VersionChange change;
        ASSIGN_OR_RETURN(std::string d, f.Str("description", false));
        change.description = d;
        auto v = p->registry->UpdateVersion(rc.ctx, ref.project.project, ref.name, version, change);
        if (!v.ok()) return VersionNotFound(v.status(), ref.Display(ref.name), version);
        return VersionResponse(p, ref, version);
      })
      .Doc("Change a model version's description",
           S::Obj({{"model_version", S::Ref("MlflowModelVersion")}}),
           S::Obj({{"name", S::Str()}, {"version", S::Str()}, {"description", S::Str()}},
                  {"name", "version"}));

  add("DELETE", "/model-versions/delete", "model.version.delete",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectManage));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        absl::Status s = p->registry->DeleteVersion(rc.ctx, ref.project.project, ref.name, version);
        if (!s.ok()) return VersionNotFound(s, ref.Display(ref.name), version);
        return HttpResponse::MakeJson(200, Json::object());
      })
      .Doc("Delete a model version (refused while an alias or endpoint uses it)", S::Empty(),
           S::Obj({{"name", S::Str()}, {"version", S::Str()}}, {"name", "version"}));

  for (const bool set : {true, false}) {
    add(set ? "POST" : "DELETE", set ? "/model-versions/set-tag" : "/model-versions/delete-tag",
        "model.version.update",
        [p, set](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
          ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
          ASSIGN_OR_RETURN(int64_t version, VersionField(f));
          ASSIGN_OR_RETURN(std::string key, f.Str("key", true));
          if (key.empty())
            return absl::InvalidArgumentError("Missing value for required parameter 'key'");
          auto v = p->registry->GetVersion(ref.project.project, ref.name, absl::StrCat(version));
          if (!v.ok()) return VersionNotFound(v.status(), ref.Display(ref.name), version);
          Tags tags = TagsOf(v->tags);
          if (set) {
            ASSIGN_OR_RETURN(std::string value, f.Str("value", false));
            tags[key] = value;
          } else if (tags.erase(key) == 0) {
            return absl::NotFoundError(absl::StrCat("No tag with name: ", key,
                                                    " for model version ", ref.Display(ref.name),
                                                    " ", version));
          }
          VersionChange change;
          change.tags = std::move(tags);
          RETURN_IF_ERROR(
              p->registry->UpdateVersion(rc.ctx, ref.project.project, ref.name, version, change)
                  .status());
          return HttpResponse::MakeJson(200, Json::object());
        })
        .Doc(
            set ? "Set a model version tag" : "Delete a model version tag", S::Empty(),
            S::Obj(
                {{"name", S::Str()}, {"version", S::Str()}, {"key", S::Str()}, {"value", S::Str()}},
                {"name", "version", "key"}));
  }

  add("GET", "/model-versions/get-download-uri", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectView));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        auto v = p->registry->GetVersion(ref.project.project, ref.name, absl::StrCat(version));
        if (!v.ok()) return VersionNotFound(v.status(), ref.Display(ref.name), version);
        // The files themselves, in the project's artifacts (the MLflow directory for a
        // version registered through MLflow, else the directory of Kade's model file).
        std::string dir = VersionDir(*v);
        if (v->source == "mlflow") {
          absl::string_view s = v->source_uri;
          if (absl::ConsumePrefix(&s, "mlflow-artifacts:/")) {
            return HttpResponse::MakeJson(200, Json{{"artifact_uri", v->source_uri}});
          }
          if (absl::ConsumePrefix(&s, "runs:/")) {
            size_t slash = s.find('/');
            dir = absl::StrCat("runs/", s.substr(0, slash), "/artifacts/",
                               slash == absl::string_view::npos ? "" : s.substr(slash + 1));
          }
        }
        return HttpResponse::MakeJson(
            200, Json{{"artifact_uri",
                       absl::StrCat("mlflow-artifacts:/", ref.project.project.name, "/", dir)}});
      })
      .Doc("Where a version's files can be downloaded", S::Obj({{"artifact_uri", S::Str()}}),
           S::Obj({{"name", S::Str()}, {"version", S::Str()}}, {"name", "version"}));

  add("POST", "/model-versions/transition-stage", "model.version.transition",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(ModelRef ref, NameField(p, rc, f, Permission::kProjectEdit));
        ASSIGN_OR_RETURN(int64_t version, VersionField(f));
        ASSIGN_OR_RETURN(std::string stage_in, f.Str("stage", true));
        auto stage = CanonicalStage(stage_in);
        if (!stage) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid Model Version stage: ", stage_in,
                           ". Value must be one of None, Staging, Production, Archived."));
        }
        bool archive_existing = false;
        if (f.body().contains("archive_existing_versions")) {
          const Json& a = f.body()["archive_existing_versions"];
          if (a.is_boolean()) {
            archive_existing = a.get<bool>();
          } else if (a.is_string() && (a == "true" || a == "false")) {
            archive_existing = a == "true";
          } else if (!a.is_null()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "Invalid value ", a.dump(), " for parameter 'archive_existing_versions' supplied"));
          }
        }
        const Project& project = ref.project.project;
        auto d = p->registry->GetModel(project, ref.name);
        if (!d.ok()) return ModelNotFound(d.status(), ref.Display(ref.name));
        auto it = std::find_if(d->versions.begin(), d->versions.end(),
                               [&](const ModelVersion& v) { return v.version == version; });
        if (it == d->versions.end()) {
          return absl::NotFoundError(absl::StrCat("Model Version (name=", ref.Display(ref.name),
                                                  ", version=", version, ") not found"));
        }
        // Which versions hold the stage's alias now (to archive them afterwards).
        auto holders = [&](const char* alias) {
          std::vector<int64_t> out;
          for (const auto& a : d->aliases) {
            if (a.alias == alias && a.version != version) out.push_back(a.version);
          }
          return out;
        };
        // The version leaves the other stage's alias when it takes one.
        auto drop = [&](const char* alias) -> absl::Status {
          for (const auto& a : d->aliases) {
            if (a.alias == alias && a.version == version) {
              return p->registry->DeleteAlias(rc.ctx, project, ref.name, alias);
            }
          }
          return absl::OkStatus();
        };
        if (it->status == "archived" && *stage != "Archived") {
          RETURN_IF_ERROR(
              p->registry->SetArchived(rc.ctx, project, ref.name, version, false).status());
        }
        std::vector<int64_t> previous;
        if (*stage == "Production" || *stage == "Staging") {
          const char* alias = *stage == "Production" ? kProductionAlias : kStagingAlias;
          previous = holders(alias);
          RETURN_IF_ERROR(p->registry
                              ->SetAlias(rc.ctx, project, ref.project.role, ref.name, alias,
                                         version,
                                         /*force=*/false)
                              .status());
          RETURN_IF_ERROR(drop(*stage == "Production" ? kStagingAlias : kProductionAlias));
        } else {
          RETURN_IF_ERROR(drop(kProductionAlias));
          RETURN_IF_ERROR(drop(kStagingAlias));
          if (*stage == "Archived") {
            RETURN_IF_ERROR(
                p->registry->SetArchived(rc.ctx, project, ref.name, version, true).status());
          }
        }
        if (archive_existing) {
          // As MLflow: the versions that were in the stage are archived (those that still
          // hold another alias stay, since an alias must point at a servable version).
          for (int64_t old : previous) {
            (void)p->registry->SetArchived(rc.ctx, project, ref.name, old, true);
          }
        }
        return VersionResponse(p, ref, version);
      })
      .Doc("Move a version to a stage (mapped onto the champion/staging aliases)",
           S::Obj({{"model_version", S::Ref("MlflowModelVersion")}}),
           S::Obj({{"name", S::Str()},
                   {"version", S::Str()},
                   {"stage", S::Enum({"None", "Staging", "Production", "Archived"})},
                   {"archive_existing_versions", S::Bool()}},
                  {"name", "version", "stage"}));

  add("GET", "/model-versions/search", "",
      [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
        ASSIGN_OR_RETURN(Fields f, Fields::From(rc));
        ASSIGN_OR_RETURN(std::string filter, f.Str("filter", false));
        ASSIGN_OR_RETURN(auto clauses, ParseFilter(filter, ModelVersionVocabulary()));
        ASSIGN_OR_RETURN(int64_t max, MaxResults(f, kVersionsDefaultMax, kVersionsMaxMax));
        ASSIGN_OR_RETURN(size_t offset, PageOffset(f));
        ASSIGN_OR_RETURN(auto order_by, OrderBy(f));
        ASSIGN_OR_RETURN(auto scopes, SearchScopes(p, rc));
        struct Row {
          const ModelRef* ref;
          std::shared_ptr<const ModelDetails> d;
          const ModelVersion* v;
          std::string shown;
        };
        std::vector<Row> rows;
        for (const auto& ref : scopes) {
          ASSIGN_OR_RETURN(auto models, p->registry->ListModelsBrief(ref.project.project));
          for (auto& m : models) {
            auto d = std::make_shared<const ModelDetails>(std::move(m));
            const std::string shown = ref.Display(d->model.name);
            for (const auto& v : d->versions) {
              Tags tags = TagsOf(v.tags);
              bool ok = true;
              for (const auto& c : clauses) {
                if (c.entity == "tag") {
                  ok = ClauseMatches(c, TagValue(tags, c.key));
                } else if (c.key == "name") {
                  ok = ClauseMatches(c, shown);
                } else if (c.key == "run_id") {
                  ok = ClauseMatches(c, v.run_uuid);
                } else if (c.key == "source_path") {
                  ok = ClauseMatches(c, SourceOf(ref, v));
                } else if (c.key == "user_id") {
                  ok = ClauseMatches(c, v.created_by);
                } else if (c.key == "current_stage") {
                  ok = ClauseMatches(c, StageOf(v, d->aliases));
                } else if (c.key == "status") {
                  ok = ClauseMatches(c, std::string("READY"));
                } else {
                  const double x =
                      static_cast<double>(c.key == "version_number"       ? v.version
                                          : c.key == "creation_timestamp" ? v.created_at
                                                                          : v.updated_at);
                  ok = ClauseMatches(c, std::nullopt, x);
                }
                if (!ok) break;
              }
              if (ok) rows.push_back(Row{&ref, d, &v, shown});
            }
          }
        }
        if (order_by.empty()) order_by = {"name ASC", "version_number DESC"};
        RETURN_IF_ERROR(SortRows(
            rows, order_by, ModelVersionVocabulary(), [](const Row& r, const std::string& k) {
              if (k == "name") return std::make_pair(r.shown, 0.0);
              if (k == "run_id") return std::make_pair(r.v->run_uuid, 0.0);
              if (k == "user_id") return std::make_pair(r.v->created_by, 0.0);
              double x = static_cast<double>(k == "version_number"       ? r.v->version
                                             : k == "creation_timestamp" ? r.v->created_at
                                                                         : r.v->updated_at);
              return std::make_pair(std::string(), x);
            }));
        Json arr = Json::array();
        for (size_t i = offset; i < rows.size() && static_cast<int64_t>(arr.size()) < max; ++i) {
          arr.push_back(
              VersionJson(*rows[i].ref, rows[i].d->model.name, *rows[i].v, rows[i].d->aliases));
        }
        Json out{{"model_versions", arr}};
        if (offset + arr.size() < rows.size())
          out["next_page_token"] = std::to_string(offset + arr.size());
        return HttpResponse::MakeJson(200, out);
      })
      .Doc("Search model versions",
           S::Obj({{"model_versions", S::Arr(S::Ref("MlflowModelVersion"))},
                   {"next_page_token", S::Str()}}),
           S::Obj({{"filter", S::Str()},
                   {"max_results", S::Int()},
                   {"order_by", S::Arr(S::Str())},
                   {"page_token", S::Str()}}));
}

}  // namespace kade
