// Project artifacts: named files inside a project ("reports/q3.pdf"), stored as blobs in the
// content-addressed artifact store and listed in the metadata store. Later capabilities
// (run artifacts, models, datasets) keep their own records but share the blob store and the
// garbage collector here.
//
// Thread safety: thread-safe. An ArtifactUpload belongs to one request.
#pragma once

#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/context.h"
#include "store/artifact_store.h"
#include "store/metadata.h"

namespace kade {

// An upload in progress: bytes stream into a blob writer; Finish records the artifact.
// Dropping an upload without Finish leaves nothing behind.
class ArtifactUpload {
 public:
  ArtifactUpload(MetadataStore* store, std::unique_ptr<BlobWriter> writer, Project project,
                 std::string name, std::string content_type, uint64_t max_bytes)
      : store_(store),
        writer_(std::move(writer)),
        project_(std::move(project)),
        name_(std::move(name)),
        content_type_(std::move(content_type)),
        max_bytes_(max_bytes) {}
  absl::Status Append(absl::string_view data);
  absl::StatusOr<Artifact> Finish(const RequestContext& ctx);

 private:
  MetadataStore* store_;
  std::unique_ptr<BlobWriter> writer_;
  Project project_;
  std::string name_;
  std::string content_type_;
  uint64_t max_bytes_;
};

struct ArtifactDownload {
  Artifact artifact;
  std::string local_path;  // verified blob on disk
};

struct GcReport {
  int64_t blobs_total = 0;
  int64_t blobs_referenced = 0;
  int64_t blobs_removed = 0;
  int64_t bytes_removed = 0;
  int64_t blobs_kept_young = 0;  // unreferenced but younger than the grace period
  bool dry_run = false;
};

class ArtifactService {
 public:
  ArtifactService(MetadataStore* store, ArtifactStore* blobs, uint64_t max_upload_bytes)
      : store_(store), blobs_(blobs), max_upload_bytes_(max_upload_bytes) {}

  // Validates the name and opens a blob writer. Nothing is recorded until Finish.
  absl::StatusOr<std::unique_ptr<ArtifactUpload>> BeginUpload(const Project& project,
                                                              absl::string_view name,
                                                              absl::string_view content_type);
  absl::StatusOr<std::vector<Artifact>> List(const Project& project, absl::string_view prefix);
  absl::StatusOr<Artifact> Get(const Project& project, absl::string_view name);
  // Re-hashes the blob before handing out its path: a corrupted blob is DataLoss.
  absl::StatusOr<ArtifactDownload> OpenForDownload(const Project& project, absl::string_view name);
  absl::Status Delete(const RequestContext& ctx, const Project& project, absl::string_view name);

  // Removes blobs no record references and that are older than `grace_s` (so an upload
  // that has written its blob but not yet its record is never collected).
  absl::StatusOr<GcReport> CollectGarbage(const RequestContext& ctx, bool dry_run, int64_t grace_s);

 private:
  MetadataStore* store_;
  ArtifactStore* blobs_;
  uint64_t max_upload_bytes_;
};

Json ArtifactToJson(const Artifact& a);

}  // namespace kade
