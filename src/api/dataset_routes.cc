// The dataset catalog: datasets, versions (streamed upload), profile, quality, preview,
// download, diff, search and lineage.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"

namespace kade {

namespace S = schema;

namespace {

class DatasetSink : public UploadSink {
 public:
  DatasetSink(std::unique_ptr<DatasetUpload> up, Dataset dataset)
      : up_(std::move(up)), dataset_(std::move(dataset)) {}
  absl::Status Append(absl::string_view chunk) override {
    absl::Status s = up_->Append(chunk);
    if (absl::IsResourceExhausted(s)) return WithHttpStatus(s, 413);
    return s;
  }
  absl::StatusOr<HttpResponse> Finish() override {
    absl::StatusOr<std::pair<DatasetVersion, bool>> r = up_->Finish();
    if (!r.ok()) {
      if (absl::IsResourceExhausted(r.status())) return WithHttpStatus(r.status(), 413);
      return r.status();
    }
    Json j = DatasetVersionToJson(dataset_, r->first, false);
    j["created"] = r->second;
    return HttpResponse::MakeJson(r->second ? 201 : 200, j);
  }

 private:
  std::unique_ptr<DatasetUpload> up_;
  Dataset dataset_;
};

int64_t QueryInt(const HttpRequest& req, const char* key, int64_t fallback, absl::Status* err) {
  auto v = req.Query(key);
  if (!v) return fallback;
  int64_t out = 0;
  if (!absl::SimpleAtoi(*v, &out)) {
    *err =
        absl::InvalidArgumentError(absl::StrCat("query parameter '", key, "' must be an integer"));
  }
  return out;
}

}  // namespace

void RegisterDatasetRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/datasets";

  r.Add("GET", base, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto list, p->datasets->List(rc.project_record(),
                                                        rc.request->Query("q").value_or("")));
          Json arr = Json::array();
          for (const auto& d : list) arr.push_back(DatasetToJson(d));
          return HttpResponse::MakeJson(200, Json{{"datasets", arr}});
        })
      .Doc("Datasets of a project (search with q)",
           S::Obj({{"datasets", S::Arr(S::Ref("Dataset"))}}))
      .Query("q", S::Str(), "");

  r.Add("POST", base, Permission::kProjectEdit, "dataset.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(DatasetSpec spec, DatasetSpec::FromJson(body));
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Create(rc.ctx, rc.project_record(), name, spec));
          return HttpResponse::MakeJson(201, DatasetToJson(d));
        })
      .Doc("Create a dataset", S::Ref("Dataset"),
           S::Obj({{"name", S::Str()}, {"description", S::Str()}, {"tags", S::Map(S::Str())}},
                  {"name"}),
           201);

  r.Add("GET", base + "/{dataset}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(auto versions, p->datasets->Versions(rc.project_record(), d.name));
          Json j = DatasetToJson(d);
          Json vs = Json::array();
          for (const auto& v : versions) vs.push_back(DatasetVersionToJson(d, v, false));
          j["versions"] = vs;
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("A dataset with its versions", S::Ref("Dataset"));

  r.Add("PATCH", base + "/{dataset}", Permission::kProjectEdit, "dataset.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          if (body.contains("name"))
            return absl::InvalidArgumentError("a dataset cannot be renamed");
          ASSIGN_OR_RETURN(DatasetSpec spec, DatasetSpec::FromJson(body));
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Update(rc.ctx, rc.project_record(),
                                                          rc.Param("dataset"), spec));
          return HttpResponse::MakeJson(200, DatasetToJson(d));
        })
      .Doc("Change a dataset's description, tags or pinned schema", S::Ref("Dataset"),
           S::Obj({{"description", S::Str()},
                   {"tags", S::Map(S::Str())},
                   {"pinned_schema", S::Any()}}));

  r.Add("DELETE", base + "/{dataset}", Permission::kProjectManage, "dataset.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->datasets->Delete(rc.ctx, rc.project_record(), rc.Param("dataset")));
          return HttpResponse::MakeJson(200,
                                        Json{{"name", rc.Param("dataset")}, {"status", "deleted"}});
        })
      .Doc("Delete a dataset", S::Obj({{"name", S::Str()}, {"status", S::Str()}}));

  auto upload = [p](RouteContext& rc) -> absl::StatusOr<std::unique_ptr<UploadSink>> {
    const HttpRequest& q = *rc.request;
    DatasetSpec spec;
    spec.target = q.Query("target");
    spec.description = q.Query("description");
    spec.delimiter = q.Query("delimiter");
    ASSIGN_OR_RETURN(auto up,
                     p->datasets->BeginUpload(rc.ctx, rc.project_record(), rc.Param("dataset"),
                                              q.Query("filename").value_or(""),
                                              q.Query("format").value_or("auto"), spec));
    Dataset d;
    d.name = rc.Param("dataset");
    return std::unique_ptr<UploadSink>(new DatasetSink(std::move(up), d));
  };
  r.AddUpload("POST", base + "/{dataset}/versions", Permission::kProjectEdit,
              "dataset.version.create", upload)
      .Doc("Upload a new version (CSV, JSON Lines or Parquet; gzip/zstd; streamed)",
           S::Ref("DatasetVersion"), S::Binary(), 201)
      .Consumes("application/octet-stream")
      .Query("target", S::Str(), "")
      .Query("description", S::Str(), "")
      .Query("delimiter", S::Str(), "")
      .Query("filename", S::Str(), "")
      .Query("format", S::Enum({"auto", "csv", "jsonl"}), "");
  r.AddUpload("PUT", base + "/{dataset}/versions", Permission::kProjectEdit,
              "dataset.version.create", upload)
      .Doc("Upload a new version (as POST)", S::Ref("DatasetVersion"), S::Binary(), 201)
      .Consumes("application/octet-stream")
      .Query("target", S::Str(), "")
      .Query("description", S::Str(), "")
      .Query("delimiter", S::Str(), "")
      .Query("filename", S::Str(), "")
      .Query("format", S::Str(), "");

  r.Add("GET", base + "/{dataset}/versions", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(auto versions, p->datasets->Versions(rc.project_record(), d.name));
          Json vs = Json::array();
          for (const auto& v : versions) vs.push_back(DatasetVersionToJson(d, v, false));
          return HttpResponse::MakeJson(200, Json{{"versions", vs}});
        })
      .Doc("Versions of a dataset", S::Obj({{"versions", S::Arr(S::Ref("DatasetVersion"))}}));

  r.Add("GET", base + "/{dataset}/versions/{version}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(DatasetVersion v, p->datasets->GetVersion(rc.project_record(), d.name,
                                                                     rc.Param("version"), false));
          return HttpResponse::MakeJson(200, DatasetVersionToJson(d, v, false));
        })
      .Doc("A dataset version (a number or latest)", S::Ref("DatasetVersion"));

  r.Add("GET", base + "/{dataset}/versions/{version}/profile", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(DatasetVersion v,
                           p->datasets->GetVersion(rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), true));
          HttpResponse resp;
          resp.body = v.profile;  // stored as JSON text already
          return resp;
        })
      .Doc("A version's profile (mergeable sketches per column)", S::Any());

  r.Add("GET", base + "/{dataset}/versions/{version}/quality", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(DatasetVersion v,
                           p->datasets->GetVersion(rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), false));
          HttpResponse resp;
          resp.body = v.quality;
          return resp;
        })
      .Doc("A version's quality report", S::Any());

  r.Add("GET", base + "/{dataset}/versions/{version}/download", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto opened,
                           p->datasets->OpenOriginal(rc.project_record(), rc.Param("dataset"),
                                                     rc.Param("version")));
          HttpResponse resp;
          resp.content_type = "application/octet-stream";
          resp.file_path = opened.second;
          std::string ext = opened.first.format + (opened.first.compression == "gzip"   ? ".gz"
                                                   : opened.first.compression == "zstd" ? ".zst"
                                                                                        : "");
          resp.headers.emplace_back("Content-Disposition",
                                    absl::StrCat("attachment; filename=\"", rc.Param("dataset"),
                                                 "-v", opened.first.version, ".", ext, "\""));
          resp.headers.emplace_back("X-Content-SHA256", opened.first.sha256);
          return resp;
        })
      .Doc("Download a version's file", S::Binary())
      .Produces("application/octet-stream")
      .blocking = true;

  r.Add("GET", base + "/{dataset}/versions/{version}/preview", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          absl::Status err;
          int64_t offset = QueryInt(*rc.request, "offset", 0, &err);
          int64_t limit = QueryInt(*rc.request, "limit", 50, &err);
          RETURN_IF_ERROR(err);
          std::vector<std::string> cols;
          if (auto c = rc.request->Query("columns"))
            cols = absl::StrSplit(*c, ',', absl::SkipEmpty());
          ASSIGN_OR_RETURN(Json j, p->datasets->Preview(rc.project_record(), rc.Param("dataset"),
                                                        rc.Param("version"), offset, limit, cols));
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("The first rows of a version",
           S::Obj({{"columns", S::Arr(S::Str())}, {"rows", S::Arr(S::Arr(S::Any()))}}))
      .Query("limit", S::Int(), "")
      .Query("columns", S::Str(), "comma-separated")
      .blocking = true;

  r.Add("GET", base + "/{dataset}/versions/{version}/lineage", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json j, p->datasets->Lineage(rc.project_record(), rc.Param("dataset"),
                                                        rc.Param("version")));
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("Where a version came from and what used it", S::Any());

  r.Add("POST", base + "/{dataset}/versions/{version}/usages", Permission::kProjectEdit,
        "dataset.version.use",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"kind", "ref", "force"}));
          ASSIGN_OR_RETURN(std::string kind, RequiredString(body, "kind"));
          ASSIGN_OR_RETURN(std::string ref, RequiredString(body, "ref"));
          ASSIGN_OR_RETURN(auto force, OptionalBool(body, "force"));
          RETURN_IF_ERROR(p->datasets->RecordUsage(rc.ctx, rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), kind, ref,
                                                   force.value_or(false)));
          return HttpResponse::MakeJson(201, Json{{"status", "recorded"}});
        })
      .Doc("Record a use of a version (a run or job elsewhere)", S::Obj({{"status", S::Str()}}),
           S::Obj({{"kind", S::Str()}, {"ref", S::Str()}, {"force", S::Bool()}}, {"kind", "ref"}),
           201);

  r.Add("GET", base + "/{dataset}/diff", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          auto from = rc.request->Query("from");
          auto to = rc.request->Query("to");
          if (!from || !to)
            return absl::InvalidArgumentError("give the versions to compare as ?from=N&to=M");
          ASSIGN_OR_RETURN(Json j,
                           p->datasets->Diff(rc.project_record(), rc.Param("dataset"), *from, *to));
          return HttpResponse::MakeJson(200, j);
        })
      .Doc("Schema and profile differences between two versions", S::Any())
      .Query("from", S::Str(), "a version")
      .Query("to", S::Str(), "a version");
}

}  // namespace kade
