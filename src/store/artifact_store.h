// Content-addressed blob store. A blob is named by the SHA-256 of its bytes, so identical
// content is stored once. Writes are atomic: bytes go to a temporary file that is fsynced
// and renamed into place (and the directory fsynced), so a crash never leaves a partial blob
// visible under its hash. Reads verify the hash: a blob whose bytes no longer match is
// reported as DataLoss, never returned silently.
//
// Thread safety: ArtifactStore is thread-safe. A BlobWriter or BlobReader is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kade {

struct BlobInfo {
  std::string sha256;
  uint64_t size = 0;
  int64_t mtime_unix = 0;
  // Set by BlobWriter::Commit when this commit stored the bytes (no blob of the same
  // content was there before): the caller may remove it again if recording it fails.
  bool created = false;
};

// Streams bytes into a new blob. Destroying a writer without Commit discards the bytes.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual absl::Status Append(absl::string_view data) = 0;
  // Makes the blob visible under its hash (or drops the bytes if that blob already exists).
  virtual absl::StatusOr<BlobInfo> Commit() = 0;
  virtual uint64_t bytes_written() const = 0;
};

// Streams a blob's bytes. Read returns 0 at the end; at the end it checks the hash and
// returns DataLoss if the content changed on disk.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  virtual uint64_t size() const = 0;
};

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;

  // A store rooted at `root` on the local file system (created if missing).
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> OpenLocal(const std::string& root);

  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter() = 0;
  virtual absl::StatusOr<BlobInfo> Put(absl::string_view data) = 0;
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> Open(absl::string_view sha256) = 0;
  // Reads a whole blob into memory, verified. For small blobs only.
  virtual absl::StatusOr<std::string> ReadAll(absl::string_view sha256) = 0;
  // Re-hashes the blob; DataLoss if its bytes no longer match its name.
  virtual absl::Status Verify(absl::string_view sha256) = 0;
  virtual absl::StatusOr<BlobInfo> Stat(absl::string_view sha256) = 0;
  virtual absl::StatusOr<std::vector<BlobInfo>> List() = 0;
  virtual absl::Status Remove(absl::string_view sha256) = 0;
  // Path of the blob on the local file system, for zero-copy sending; empty if not local.
  virtual std::string LocalPath(absl::string_view sha256) const = 0;
};

// True for a 64-character lowercase hex string.
bool IsSha256Hex(absl::string_view s);

// Checks a user-supplied artifact name ("reports/summary.json"): relative, '/'-separated,
// no empty, "." or ".." segment, no NUL, control characters or backslashes, at most 1024
// bytes, valid UTF-8. The error names the offending character position.
absl::Status ValidateArtifactName(absl::string_view name);

}  // namespace kade
