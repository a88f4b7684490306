// Model registry: models, versions (from runs or imported files), aliases, gates, lineage.
//   POST   /api/v1/projects/{p}/models                               {name, description, tags,
//   gates} GET    /api/v1/projects/{p}/models GET    /api/v1/projects/{p}/models/{m} PATCH
//   /api/v1/projects/{p}/models/{m}                           {description, tags, gates} POST
//   /api/v1/projects/{p}/models/{m}/versions                  {run_id, description} POST
//   /api/v1/projects/{p}/models/{m}/import    {model | model_base64 | model_artifact, signature,
//   metrics} GET    /api/v1/projects/{p}/models/{m}/versions/{v}              (v: number or alias)
//   POST   /api/v1/projects/{p}/models/{m}/versions/{v}/archive | restore
//   POST   /api/v1/projects/{p}/models/{m}/versions/{v}/gates        -> gate report
//   GET    /api/v1/projects/{p}/models/{m}/versions/{v}/lineage
//   GET    /api/v1/projects/{p}/models/{m}/compare?versions=1,2
//   GET    /api/v1/projects/{p}/models/{m}/aliases                   -> aliases and their history
//   PUT    /api/v1/projects/{p}/models/{m}/aliases/{a}               {version, force}
//   POST   /api/v1/projects/{p}/models/{m}/aliases/{a}/rollback
//   DELETE /api/v1/projects/{p}/models/{m}/aliases/{a}
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/openapi.h"
#include "api/registry_json.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {

namespace S = schema;
namespace {

absl::StatusOr<int64_t> VersionNumber(absl::string_view text) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a version number"));
  }
  return v;
}

}  // namespace

void RegisterRegistryRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/models";
  const std::string one = base + "/{model}";

  r.Add("POST", base, Permission::kProjectEdit, "model.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(ModelSpec spec, ParseModelSpec(body));
          ASSIGN_OR_RETURN(RegisteredModel m,
                           p->registry->CreateModel(rc.ctx, rc.project_record(), spec));
          return HttpResponse::MakeJson(201, ModelToJson(m));
        })
      .Doc("Register a model", S::Ref("Model"),
           S::Obj({{"name", S::Str()},
                   {"description", S::Str()},
                   {"tags", S::Map(S::Str())},
                   {"gates", S::Any()}},
                  {"name"}),
           201);

  r.Add("GET", base, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto models, p->registry->ListModels(rc.project_record()));
          Json arr = Json::array();
          for (const auto& m : models) arr.push_back(ModelDetailsToJson(m));
          return HttpResponse::MakeJson(200, Json{{"models", arr}});
        })
      .Doc("Models of a project with versions and aliases",
           S::Obj({{"models", S::Arr(S::Ref("Model"))}}));

  r.Add("GET", one, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(ModelDetails d,
                           p->registry->GetModel(rc.project_record(), rc.Param("model")));
          return HttpResponse::MakeJson(200, ModelDetailsToJson(d));
        })
      .Doc("A model", S::Ref("Model"));

  // Gates decide what may serve traffic: changing them is for maintainers.
  r.Add("PATCH", one, Permission::kProjectManage, "model.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(ModelChange change, ParseModelChange(body));
          ASSIGN_OR_RETURN(RegisteredModel m, p->registry->UpdateModel(rc.ctx, rc.project_record(),
                                                                       rc.Param("model"), change));
          return HttpResponse::MakeJson(200, ModelToJson(m));
        })
      .Doc("Change description, tags or quality gates (maintainers)", S::Ref("Model"),
           S::Obj({{"description", S::Str()}, {"tags", S::Map(S::Str())}, {"gates", S::Any()}}));

  r.Add("POST", one + "/versions", Permission::kProjectEdit, "model.version.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"run_id", "description"}));
          ASSIGN_OR_RETURN(std::string run, RequiredString(body, "run_id"));
          ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
          ASSIGN_OR_RETURN(ModelVersion v,
                           p->registry->RegisterRun(rc.ctx, rc.project_record(), rc.Param("model"),
                                                    run, desc.value_or("")));
          return HttpResponse::MakeJson(201, VersionToJson(v));
        })
      .Doc("A new version from a finished training run", S::Ref("ModelVersion"),
           S::Obj({{"run_id", S::Str()}, {"description", S::Str()}}, {"run_id"}), 201)
      .blocking = true;

  r.Add("POST", one + "/import", Permission::kProjectEdit, "model.version.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"model", "model_base64", "model_artifact",
                                                     "signature", "metrics", "description"}));
          ImportSpec spec;
          std::string& bytes = spec.model_bytes;
          if (int{body.contains("model")} + int{body.contains("model_base64")} +
                  int{body.contains("model_artifact")} !=
              1) {
            return absl::InvalidArgumentError(
                "give the model file as 'model' (XGBoost JSON), 'model_base64' (JSON or "
                "UBJSON, base64) or 'model_artifact' (the path of a project artifact, for files "
                "too large for a request body)");
          }
          RETURN_IF_ERROR(ParseImportFields(body, &spec));
          if (body.contains("model_artifact")) {
            ASSIGN_OR_RETURN(std::string path, RequiredString(body, "model_artifact"));
            ASSIGN_OR_RETURN(bytes, p->registry->ReadArtifact(rc.project_record(), path));
          } else if (body.contains("model")) {
            // The file's text (it may hold NaN, which a JSON object cannot), or the object.
            if (body["model"].is_string()) {
              bytes = body["model"].get<std::string>();
            } else if (body["model"].is_object()) {
              bytes = body["model"].dump();
            } else {
              return absl::InvalidArgumentError(
                  "model: expected XGBoost's JSON model (its text, or the object)");
            }
          } else {
            if (!body["model_base64"].is_string() ||
                !absl::Base64Unescape(body["model_base64"].get<std::string>(), &bytes)) {
              return absl::InvalidArgumentError("model_base64: not valid base64");
            }
          }
          ASSIGN_OR_RETURN(ModelVersion v, p->registry->Import(rc.ctx, rc.project_record(),
                                                               rc.Param("model"), spec));
          return HttpResponse::MakeJson(201, VersionToJson(v));
        })
      .Doc("A new version from an XGBoost model file", S::Ref("ModelVersion"),
           S::Obj({{"model", S::Str()},
                   {"model_base64", S::Str()},
                   {"model_artifact", S::Str()},
                   {"signature", S::Any()},
                   {"metrics", S::Map(S::Num())},
                   {"description", S::Str()}},
                  {"signature"}),
           201)
      .blocking = true;

  r.Add("GET", one + "/versions/{version}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(
              ModelVersion v,
              p->registry->GetVersion(rc.project_record(), rc.Param("model"), rc.Param("version")));
          return HttpResponse::MakeJson(200, VersionToJson(v));
        })
      .Doc("A version (a number or an alias) with its manifest", S::Ref("ModelVersion"));

  // Global explanation: SHAP importance over a sample of a dataset version's rows.
  r.Add("GET", one + "/versions/{version}/importance", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t rows = 2000;
          if (auto q = rc.request->Query("rows")) {
            if (!absl::SimpleAtoi(*q, &rows)) {
              return absl::InvalidArgumentError("rows: expected a number of rows (1 to 100000)");
            }
          }
          ASSIGN_OR_RETURN(
              ImportanceReport rep,
              p->explain->Importance(rc.project_record(), rc.Param("model"), rc.Param("version"),
                                     std::string(rc.request->Query("dataset").value_or("")),
                                     std::string(rc.request->Query("dataset_version").value_or("")),
                                     rows));
          Json groups = Json::array();
          for (const auto& g : rep.groups) {
            Json fs = Json::array();
            for (const auto& f : g.features) {
              fs.push_back(
                  Json{{"name", f.name}, {"mean_abs_shap", f.mean_abs}, {"mean_shap", f.mean}});
            }
            Json one_group{{"base_value", g.base_value}, {"features", fs}};
            if (!g.name.empty()) one_group["class"] = g.name;
            groups.push_back(one_group);
          }
          return HttpResponse::MakeJson(200, Json{{"model", rep.model},
                                                  {"version", rep.version},
                                                  {"method", "tree_shap"},
                                                  {"dataset", rep.dataset},
                                                  {"rows", rep.rows},
                                                  {"dataset_rows", rep.dataset_rows},
                                                  {"groups", groups}});
        })
      .Doc(
          "SHAP importance of a version's features (mean |SHAP| and mean SHAP of the margin) "
          "over a uniform sample of a dataset version (default: its training data)",
          S::Obj({{"model", S::Str()},
                  {"version", S::Int()},
                  {"method", S::Str()},
                  {"dataset", S::Str()},
                  {"rows", S::Int()},
                  {"dataset_rows", S::Int()},
                  {"groups",
                   S::Arr(S::Obj({{"class", S::Str()},
                                  {"base_value", S::Num()},
                                  {"features", S::Arr(S::Obj({{"name", S::Str()},
                                                              {"mean_abs_shap", S::Num()},
                                                              {"mean_shap", S::Num()}}))}}))}}))
      .Query("dataset", S::Str(), "dataset to explain on (default: the training data in lineage)")
      .Query("dataset_version", S::Str(), "its version (default: latest)")
      .Query("rows", S::Int(), "rows sampled (default 2000, at most 100000)")
      .blocking = true;

  for (bool archive : {true, false}) {
    r.Add("POST", one + (archive ? "/versions/{version}/archive" : "/versions/{version}/restore"),
          Permission::kProjectEdit, archive ? "model.version.archive" : "model.version.restore",
          [p, archive](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
            ASSIGN_OR_RETURN(int64_t n, VersionNumber(rc.Param("version")));
            ASSIGN_OR_RETURN(ModelVersion v,
                             p->registry->SetArchived(rc.ctx, rc.project_record(),
                                                      rc.Param("model"), n, archive));
            return HttpResponse::MakeJson(200, VersionToJson(v));
          })
        .Doc("Archive or restore a version", S::Ref("ModelVersion"), S::Empty());
  }

  r.Add("POST", one + "/versions/{version}/gates", Permission::kProjectEdit, "model.gates.evaluate",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t n, VersionNumber(rc.Param("version")));
          ASSIGN_OR_RETURN(Json report,
                           p->registry->EvaluateGates(rc.project_record(), rc.Param("model"), n));
          return HttpResponse::MakeJson(200, report);
        })
      .Doc("Evaluate the quality gates and store the report", S::Any(), S::Empty())
      .blocking = true;

  r.Add("GET", one + "/versions/{version}/lineage", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(int64_t n, VersionNumber(rc.Param("version")));
          ASSIGN_OR_RETURN(VersionLineage l,
                           p->registry->Lineage(rc.project_record(), rc.Param("model"), n));
          return HttpResponse::MakeJson(200, LineageToJson(l));
        })
      .Doc("Dataset version, run, aliases and endpoints of a version", S::Any());

  r.Add("GET", one + "/compare", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          std::vector<int64_t> versions;
          for (absl::string_view part :
               absl::StrSplit(rc.request->Query("versions").value_or(""), ',', absl::SkipEmpty())) {
            ASSIGN_OR_RETURN(int64_t n, VersionNumber(part));
            versions.push_back(n);
          }
          ASSIGN_OR_RETURN(auto c,
                           p->registry->Compare(rc.project_record(), rc.Param("model"), versions));
          return HttpResponse::MakeJson(200, ComparisonToJson(rc.Param("model"), c));
        })
      .Doc("Versions side by side", S::Any())
      .Query("versions", S::Str(), "comma-separated numbers");

  r.Add("GET", one + "/aliases", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(ModelDetails d,
                           p->registry->GetModel(rc.project_record(), rc.Param("model")));
          ASSIGN_OR_RETURN(auto history,
                           p->registry->AliasHistory(rc.project_record(), rc.Param("model")));
          Json aliases = Json::array();
          for (const auto& a : d.aliases) {
            aliases.push_back(Json{{"alias", a.alias},
                                   {"version", a.version},
                                   {"updated_by", a.updated_by},
                                   {"updated_at", FormatRfc3339Millis(a.updated_at)}});
          }
          Json h = Json::array();
          for (const auto& c : history) {
            h.push_back(Json{{"alias", c.alias},
                             {"version", c.version ? Json(*c.version) : Json(nullptr)},
                             {"previous", c.previous ? Json(*c.previous) : Json(nullptr)},
                             {"actor", c.actor},
                             {"time", FormatRfc3339Millis(c.ts)}});
          }
          return HttpResponse::MakeJson(200, Json{{"aliases", aliases}, {"history", h}});
        })
      .Doc("Aliases and their history",
           S::Obj({{"aliases", S::Map(S::Int())}, {"history", S::Arr(S::Any())}}));

  r.Add("PUT", one + "/aliases/{alias}", Permission::kProjectEdit, "model.alias.set",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"version", "force"}));
          if (!body.contains("version") || !body["version"].is_number_integer()) {
            return absl::InvalidArgumentError("version: expected the version number to point at");
          }
          ASSIGN_OR_RETURN(auto force, OptionalBool(body, "force"));
          ASSIGN_OR_RETURN(
              ModelAlias a,
              p->registry->SetAlias(rc.ctx, rc.project_record(), rc.project->role,
                                    rc.Param("model"), rc.Param("alias"),
                                    body["version"].get<int64_t>(), force.value_or(false)));
          return HttpResponse::MakeJson(200, Json{{"alias", a.alias}, {"version", a.version}});
        })
      .Doc("Point an alias at a version (gated aliases pass the gates)", S::Any(),
           S::Obj({{"version", S::Int()}, {"force", S::Bool()}}, {"version"}))
      .blocking = true;

  r.Add("POST", one + "/aliases/{alias}/rollback", Permission::kProjectEdit, "model.alias.rollback",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(ModelAlias a,
                           p->registry->Rollback(rc.ctx, rc.project_record(), rc.Param("model"),
                                                 rc.Param("alias")));
          return HttpResponse::MakeJson(200, Json{{"alias", a.alias}, {"version", a.version}});
        })
      .Doc("Move an alias back to its previous version", S::Any(), S::Empty())
      .blocking = true;

  r.Add("DELETE", one + "/aliases/{alias}", Permission::kProjectEdit, "model.alias.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->registry->DeleteAlias(rc.ctx, rc.project_record(), rc.Param("model"),
                                                   rc.Param("alias")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("alias")}});
        })
      .Doc("Delete an alias", S::Empty());
}

}  // namespace kade
