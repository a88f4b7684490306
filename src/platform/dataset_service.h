// The dataset catalog: datasets in a project, their immutable content-addressed versions,
// schema (inferred or pinned), profile, quality report, search, diff, preview and lineage.
//
// An upload streams: every chunk goes to the artifact store's blob writer and through the
// ingest pipeline (decompress, parse, check, profile) at once. Only when the whole file is
// read without error is the blob committed and the version recorded (one transaction with
// its audit entry); any error leaves no version, no blob and no profile behind.
//
// Thread safety: thread-safe; a DatasetUpload belongs to one request.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/context.h"
#include "store/artifact_store.h"
#include "store/metadata.h"

namespace kade {

class RecordSink;

// Fields a caller may set when creating or updating a dataset (absent = unchanged).
struct DatasetSpec {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> target;
  std::optional<std::string> id_column;
  std::optional<std::string> timestamp_column;
  std::optional<std::vector<std::string>> sensitive;
  std::optional<Json> schema;  // Json null = unpin
  std::optional<Json> checks;
  std::optional<std::string> delimiter;
  std::optional<std::vector<std::string>> null_tokens;

  // Reads a spec from a request body, naming the offending field on error.
  static absl::StatusOr<DatasetSpec> FromJson(const Json& body);
};

struct DatasetLimits {
  uint64_t max_upload_bytes = 64ull << 30;
  uint64_t max_decompressed_bytes = 64ull << 30;
  int max_columns = 2000;
};

class DatasetUpload;

class DatasetService {
 public:
  DatasetService(MetadataStore* store, ArtifactStore* blobs, DatasetLimits limits)
      : store_(store), blobs_(blobs), limits_(limits) {}

  absl::StatusOr<Dataset> Create(const RequestContext& ctx, const Project& project,
                                 absl::string_view name, const DatasetSpec& spec);
  absl::StatusOr<Dataset> Update(const RequestContext& ctx, const Project& project,
                                 absl::string_view name, const DatasetSpec& spec);
  absl::StatusOr<Dataset> Get(const Project& project, absl::string_view name);
  // All datasets, or those matching a full-text query (name, description, tags, columns).
  absl::StatusOr<std::vector<Dataset>> List(const Project& project, absl::string_view query);
  absl::Status Delete(const RequestContext& ctx, const Project& project, absl::string_view name);

  // Starts an upload of a new version. A dataset that does not exist yet is created with
  // `spec` when the upload finishes. `format` is "auto", "csv", "tsv" or "jsonl".
  absl::StatusOr<std::unique_ptr<DatasetUpload>> BeginUpload(
      const RequestContext& ctx, const Project& project, absl::string_view name,
      absl::string_view filename, absl::string_view format, const DatasetSpec& spec,
      const Json& source = Json());

  // `ref`: a version number ("3"), "latest", or a content hash ("sha256:…" or 64 hex digits).
  absl::StatusOr<DatasetVersion> GetVersion(const Project& project, absl::string_view name,
                                            absl::string_view ref, bool with_profile);
  absl::StatusOr<std::vector<DatasetVersion>> Versions(const Project& project,
                                                       absl::string_view name);
  // Path of the verified original bytes.
  absl::StatusOr<std::pair<DatasetVersion, std::string>> OpenOriginal(const Project& project,
                                                                      absl::string_view name,
                                                                      absl::string_view ref);
  // Parses a version's stored bytes (in its own format and delimiter) into `sink`, without
  // profiling: training tables, re-scoring for quality gates, batch scoring.
  absl::Status Scan(const Project& project, absl::string_view name, absl::string_view ref,
                    RecordSink* sink);
  absl::StatusOr<Json> Preview(const Project& project, absl::string_view name,
                               absl::string_view ref, int64_t offset, int64_t limit,
                               const std::vector<std::string>& columns);
  absl::StatusOr<Json> Diff(const Project& project, absl::string_view name, absl::string_view from,
                            absl::string_view to);
  // The same between versions of two datasets (a batch job's input against the training
  // data of the model that scored it).
  absl::StatusOr<Json> DiffAcross(const Project& project, absl::string_view from_name,
                                  absl::string_view from, absl::string_view name,
                                  absl::string_view to);
  absl::StatusOr<Json> Lineage(const Project& project, absl::string_view name,
                               absl::string_view ref);
  // Records that something used a version. A version that failed a blocking quality check
  // is refused (FailedPrecondition) unless `force`; forced use is audited as such.
  absl::Status RecordUsage(const RequestContext& ctx, const Project& project,
                           absl::string_view name, absl::string_view ref, absl::string_view kind,
                           absl::string_view usage_ref, bool force);

 private:
  friend class DatasetUpload;
  MetadataStore* store_;
  ArtifactStore* blobs_;
  DatasetLimits limits_;
};

class DatasetUpload {
 public:
  virtual ~DatasetUpload() = default;
  virtual absl::Status Append(absl::string_view chunk) = 0;
  // Returns the version, and whether it is new (false: identical bytes were uploaded before).
  virtual absl::StatusOr<std::pair<DatasetVersion, bool>> Finish() = 0;
};

Json DatasetToJson(const Dataset& d);
Json DatasetVersionToJson(const Dataset& d, const DatasetVersion& v, bool with_profile);

}  // namespace kade
