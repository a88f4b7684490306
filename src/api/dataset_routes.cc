// The dataset catalog: datasets, versions (streamed upload), profile, quality, preview,
// download, diff, search and lineage.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/router.h"
#include "core/status.h"

namespace kade {

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
        });

  r.Add("POST", base, Permission::kProjectEdit, "dataset.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(DatasetSpec spec, DatasetSpec::FromJson(body));
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Create(rc.ctx, rc.project_record(), name, spec));
          return HttpResponse::MakeJson(201, DatasetToJson(d));
        });

  r.Add("GET", base + "/{dataset}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(auto versions, p->datasets->Versions(rc.project_record(), d.name));
          Json j = DatasetToJson(d);
          Json vs = Json::array();
          for (const auto& v : versions) vs.push_back(DatasetVersionToJson(d, v, false));
          j["versions"] = vs;
          return HttpResponse::MakeJson(200, j);
        });

  r.Add("PATCH", base + "/{dataset}", Permission::kProjectEdit, "dataset.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          if (body.contains("name"))
            return absl::InvalidArgumentError("a dataset cannot be renamed");
          ASSIGN_OR_RETURN(DatasetSpec spec, DatasetSpec::FromJson(body));
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Update(rc.ctx, rc.project_record(),
                                                          rc.Param("dataset"), spec));
          return HttpResponse::MakeJson(200, DatasetToJson(d));
        });

  r.Add("DELETE", base + "/{dataset}", Permission::kProjectManage, "dataset.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->datasets->Delete(rc.ctx, rc.project_record(), rc.Param("dataset")));
          return HttpResponse::MakeJson(200,
                                        Json{{"name", rc.Param("dataset")}, {"status", "deleted"}});
        });

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
              "dataset.version.create", upload);
  r.AddUpload("PUT", base + "/{dataset}/versions", Permission::kProjectEdit,
              "dataset.version.create", upload);

  r.Add("GET", base + "/{dataset}/versions", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(auto versions, p->datasets->Versions(rc.project_record(), d.name));
          Json vs = Json::array();
          for (const auto& v : versions) vs.push_back(DatasetVersionToJson(d, v, false));
          return HttpResponse::MakeJson(200, Json{{"versions", vs}});
        });

  r.Add("GET", base + "/{dataset}/versions/{version}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Dataset d, p->datasets->Get(rc.project_record(), rc.Param("dataset")));
          ASSIGN_OR_RETURN(DatasetVersion v, p->datasets->GetVersion(rc.project_record(), d.name,
                                                                     rc.Param("version"), false));
          return HttpResponse::MakeJson(200, DatasetVersionToJson(d, v, false));
        });

  r.Add("GET", base + "/{dataset}/versions/{version}/profile", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(DatasetVersion v,
                           p->datasets->GetVersion(rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), true));
          HttpResponse resp;
          resp.body = v.profile;  // stored as JSON text already
          return resp;
        });

  r.Add("GET", base + "/{dataset}/versions/{version}/quality", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(DatasetVersion v,
                           p->datasets->GetVersion(rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), false));
          HttpResponse resp;
          resp.body = v.quality;
          return resp;
        });

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
      .blocking = true;

  r.Add("GET", base + "/{dataset}/versions/{version}/lineage", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json j, p->datasets->Lineage(rc.project_record(), rc.Param("dataset"),
                                                        rc.Param("version")));
          return HttpResponse::MakeJson(200, j);
        });

  r.Add("POST", base + "/{dataset}/versions/{version}/usages", Permission::kProjectEdit,
        "dataset.version.use", [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"kind", "ref", "force"}));
          ASSIGN_OR_RETURN(std::string kind, RequiredString(body, "kind"));
          ASSIGN_OR_RETURN(std::string ref, RequiredString(body, "ref"));
          ASSIGN_OR_RETURN(auto force, OptionalBool(body, "force"));
          RETURN_IF_ERROR(p->datasets->RecordUsage(rc.ctx, rc.project_record(), rc.Param("dataset"),
                                                   rc.Param("version"), kind, ref,
                                                   force.value_or(false)));
          return HttpResponse::MakeJson(201, Json{{"status", "recorded"}});
        });

  r.Add("GET", base + "/{dataset}/diff", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          auto from = rc.request->Query("from");
          auto to = rc.request->Query("to");
          if (!from || !to)
            return absl::InvalidArgumentError("give the versions to compare as ?from=N&to=M");
          ASSIGN_OR_RETURN(Json j,
                           p->datasets->Diff(rc.project_record(), rc.Param("dataset"), *from, *to));
          return HttpResponse::MakeJson(200, j);
        });
}

}  // namespace kade
