#include "platform/artifact_service.h"
#include "absl/strings/string_view.h"

#include <ctime>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/audit_log.h"

namespace kade {

absl::Status ArtifactUpload::Append(absl::string_view data) {
  if (writer_->bytes_written() + data.size() > max_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("upload exceeds the limit of ", max_bytes_, " bytes"));
  }
  return writer_->Append(data);
}

absl::StatusOr<Artifact> ArtifactUpload::Finish(const RequestContext& ctx) {
  ASSIGN_OR_RETURN(BlobInfo blob, writer_->Commit());
  Artifact stored;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    Artifact a;
    a.project_id = project_.id;
    a.name = name_;
    a.sha256 = blob.sha256;
    a.size = static_cast<int64_t>(blob.size);
    a.content_type = content_type_;
    a.created_at = NowMillis();
    a.created_by = ctx.principal.user_name;
    ASSIGN_OR_RETURN(stored, tx.artifacts().Put(a));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"artifact.put", absl::StrCat("project/", project_.name, "/artifacts/", name_),
         project_.name, Json{{"sha256", blob.sha256}, {"size", blob.size}}});
  }));
  return stored;
}

absl::StatusOr<std::unique_ptr<ArtifactUpload>> ArtifactService::BeginUpload(
    const Project& project, absl::string_view name, absl::string_view content_type) {
  RETURN_IF_ERROR(ValidateArtifactName(name));
  if (content_type.size() > 200) return absl::InvalidArgumentError("content type is too long");
  ASSIGN_OR_RETURN(auto writer, blobs_->NewWriter());
  return std::make_unique<ArtifactUpload>(
      store_, std::move(writer), project, std::string(name),
      content_type.empty() ? "application/octet-stream" : std::string(content_type),
      max_upload_bytes_);
}

absl::StatusOr<std::vector<Artifact>> ArtifactService::List(const Project& project,
                                                            absl::string_view prefix) {
  std::vector<Artifact> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.artifacts().List(project.id, prefix));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Artifact> ArtifactService::Get(const Project& project, absl::string_view name) {
  RETURN_IF_ERROR(ValidateArtifactName(name));
  std::optional<Artifact> a;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(a, tx.artifacts().Find(project.id, name));
    return absl::OkStatus();
  }));
  if (!a) {
    return absl::NotFoundError(
        absl::StrCat("artifact '", name, "' not found in project '", project.name, "'"));
  }
  return *a;
}

absl::StatusOr<ArtifactDownload> ArtifactService::OpenForDownload(const Project& project,
                                                                  absl::string_view name) {
  ASSIGN_OR_RETURN(Artifact a, Get(project, name));
  absl::Status v = blobs_->Verify(a.sha256);
  if (absl::IsNotFound(v)) {
    return absl::DataLossError(absl::StrCat("the content of artifact '", name, "' (blob ", a.sha256,
                                            ") is missing from the artifact store"));
  }
  RETURN_IF_ERROR(v);
  std::string path = blobs_->LocalPath(a.sha256);
  return ArtifactDownload{std::move(a), std::move(path)};
}

absl::Status ArtifactService::Delete(const RequestContext& ctx, const Project& project,
                                     absl::string_view name) {
  RETURN_IF_ERROR(ValidateArtifactName(name));
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto a, tx.artifacts().Find(project.id, name));
    if (!a) {
      return absl::NotFoundError(
          absl::StrCat("artifact '", name, "' not found in project '", project.name, "'"));
    }
    RETURN_IF_ERROR(tx.artifacts().Delete(project.id, name));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"artifact.delete", absl::StrCat("project/", project.name, "/artifacts/", name),
         project.name, Json{{"sha256", a->sha256}}});
  });
}

absl::StatusOr<GcReport> ArtifactService::CollectGarbage(const RequestContext& ctx, bool dry_run,
                                                         int64_t grace_s) {
  if (grace_s < 0) return absl::InvalidArgumentError("grace period must not be negative");
  GcReport report;
  report.dry_run = dry_run;
  // List blobs first, then references: a blob committed after the listing is not
  // considered, and one committed before it is either referenced or young.
  ASSIGN_OR_RETURN(std::vector<BlobInfo> blobs, blobs_->List());
  absl::flat_hash_set<std::string> referenced;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto refs, tx.ReferencedBlobs());
    referenced.insert(refs.begin(), refs.end());
    return absl::OkStatus();
  }));
  int64_t now_s = static_cast<int64_t>(std::time(nullptr));
  report.blobs_total = static_cast<int64_t>(blobs.size());
  for (const BlobInfo& b : blobs) {
    if (referenced.contains(b.sha256)) {
      ++report.blobs_referenced;
      continue;
    }
    if (now_s - b.mtime_unix < grace_s) {
      ++report.blobs_kept_young;
      continue;
    }
    if (!dry_run) RETURN_IF_ERROR(blobs_->Remove(b.sha256));
    ++report.blobs_removed;
    report.bytes_removed += static_cast<int64_t>(b.size);
  }
  if (!dry_run) {
    RETURN_IF_ERROR(store_->Write([&](Transaction& tx) {
      return AuditLog::AppendInTx(
          tx, ctx,
          {"artifact.gc", "artifacts", "",
           Json{{"removed", report.blobs_removed}, {"bytes", report.bytes_removed}}});
    }));
  }
  return report;
}

Json ArtifactToJson(const Artifact& a) {
  return Json{{"name", a.name},
              {"sha256", a.sha256},
              {"size", a.size},
              {"content_type", a.content_type},
              {"created_at", FormatRfc3339Millis(a.created_at)},
              {"created_by", a.created_by}};
}

}  // namespace kade
