// Project artifacts (streamed upload and download) and artifact garbage collection.
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"

namespace kade {

namespace S = schema;

namespace {
class ArtifactSink : public UploadSink {
 public:
  ArtifactSink(std::unique_ptr<ArtifactUpload> up, RequestContext ctx)
      : up_(std::move(up)), ctx_(std::move(ctx)) {}
  absl::Status Append(absl::string_view chunk) override {
    absl::Status s = up_->Append(chunk);
    if (absl::IsResourceExhausted(s)) return WithHttpStatus(s, 413);
    return s;
  }
  absl::StatusOr<HttpResponse> Finish() override {
    ASSIGN_OR_RETURN(Artifact a, up_->Finish(ctx_));
    return HttpResponse::MakeJson(201, ArtifactToJson(a));
  }

 private:
  std::unique_ptr<ArtifactUpload> up_;
  RequestContext ctx_;
};
}  // namespace

void RegisterArtifactRoutes(Router& r) {
  Platform* p = r.platform();

  r.Add("GET", "/api/v1/projects/{project}/artifacts", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          std::string prefix = rc.request->Query("prefix").value_or("");
          ASSIGN_OR_RETURN(auto list, p->artifacts->List(rc.project_record(), prefix));
          Json arr = Json::array();
          for (const auto& a : list) arr.push_back(ArtifactToJson(a));
          return HttpResponse::MakeJson(200, Json{{"artifacts", arr}});
        })
      .Doc("List a project's artifacts", S::Obj({{"artifacts", S::Arr(S::Ref("Artifact"))}}))
      .Query("prefix", S::Str(), "");

  r.AddUpload("PUT", "/api/v1/projects/{project}/artifacts/{name*}", Permission::kProjectEdit,
              "artifact.put",
              [p](RouteContext& rc) -> absl::StatusOr<std::unique_ptr<UploadSink>> {
                ASSIGN_OR_RETURN(auto up,
                                 p->artifacts->BeginUpload(rc.project_record(), rc.Param("name"),
                                                           rc.request->content_type));
                return std::unique_ptr<UploadSink>(new ArtifactSink(std::move(up), rc.ctx));
              })
      .Doc("Upload an artifact (streamed; content-addressed)", S::Ref("Artifact"), S::Binary(), 201)
      .Consumes("application/octet-stream");

  r.Add("GET", "/api/v1/projects/{project}/artifacts/{name*}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(ArtifactDownload d,
                           p->artifacts->OpenForDownload(rc.project_record(), rc.Param("name")));
          HttpResponse resp;
          resp.content_type = d.artifact.content_type;
          resp.file_path = d.local_path;
          resp.headers.emplace_back("ETag", absl::StrCat("\"", d.artifact.sha256, "\""));
          resp.headers.emplace_back("X-Content-SHA256", d.artifact.sha256);
          // Artifacts are user content: never let a browser render them as part of the UI.
          resp.headers.emplace_back("Content-Disposition", "attachment");
          resp.headers.emplace_back("Cache-Control", "no-store");
          return resp;
        })
      .Doc("Download an artifact", S::Binary())
      .Produces("application/octet-stream")
      .blocking = true;  // re-hashes the whole blob

  r.Add("DELETE", "/api/v1/projects/{project}/artifacts/{name*}", Permission::kProjectEdit,
        "artifact.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->artifacts->Delete(rc.ctx, rc.project_record(), rc.Param("name")));
          return HttpResponse::MakeJson(200,
                                        Json{{"name", rc.Param("name")}, {"status", "deleted"}});
        })
      .Doc("Delete an artifact", S::Empty());

  r.Add("POST", "/api/v1/admin/gc", Permission::kAdmin, "artifact.gc",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          Json body = Json::object();
          if (!rc.request->body.empty()) {
            ASSIGN_OR_RETURN(body, rc.JsonBody());
          }
          RETURN_IF_ERROR(RejectUnknownFields(body, {"dry_run", "grace_seconds"}));
          ASSIGN_OR_RETURN(auto dry, OptionalBool(body, "dry_run"));
          ASSIGN_OR_RETURN(auto grace, OptionalInt(body, "grace_seconds"));
          ASSIGN_OR_RETURN(GcReport rep, p->artifacts->CollectGarbage(rc.ctx, dry.value_or(false),
                                                                      grace.value_or(3600)));
          return HttpResponse::MakeJson(200, Json{{"dry_run", rep.dry_run},
                                                  {"blobs_total", rep.blobs_total},
                                                  {"blobs_referenced", rep.blobs_referenced},
                                                  {"blobs_removed", rep.blobs_removed},
                                                  {"bytes_removed", rep.bytes_removed},
                                                  {"blobs_kept_young", rep.blobs_kept_young}});
        })
      .Doc("Collect blobs no artifact refers to (admins)",
           S::Obj({{"removed", S::Int()}, {"bytes", S::Int()}, {"dry_run", S::Bool()}}),
           S::Obj({{"dry_run", S::Bool()}, {"grace_seconds", S::Int()}}))
      .blocking = true;
}

}  // namespace kade
