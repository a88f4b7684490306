// Ingest of one uploaded table file while it streams: detects gzip/zstd compression and
// the format (CSV, TSV, JSON Lines), decompresses with a cap on the decompressed size (so a
// compression bomb is refused, not expanded), parses, checks a pinned schema and profiles,
// all in one pass over the bytes. Nothing here stores anything: the caller keeps the raw
// bytes and records the result only when Finish succeeds. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "data/profile.h"

namespace kade {

enum class TableFormat { kAuto, kCsv, kTsv, kJsonl };
const char* TableFormatName(TableFormat f);
std::optional<TableFormat> ParseTableFormat(absl::string_view name);

struct IngestOptions {
  TableFormat format = TableFormat::kAuto;
  char delimiter = 0;  // CSV delimiter override; 0 = ',' for CSV, '\t' for TSV
  uint64_t max_decompressed_bytes = 16ull << 30;
  // A compressed file may expand to at most this many times the compressed bytes read so
  // far (plus expansion_allowance): real CSV compresses 3-20 times, a bomb thousands of
  // times. Without this a 1 MB gzip file expanded to gigabytes before any limit applied.
  uint64_t max_expansion = 200;
  uint64_t expansion_allowance = 256ull << 20;
  // Wider tables are refused at the header: each column costs a profile entry, sketches and
  // quality state (a 209 KB CSV of 20,000 columns stored a 123 MB profile).
  size_t max_columns = 2000;
  std::string filename;  // hint for format detection (extension)
  ProfileOptions profile;
  bool compute_profile = true;
  // Parse CSV/TSV in pieces on several threads (see ingest.cc); off gives one serial parser,
  // with the same result (tests compare the two).
  bool parallel_csv = true;
  // Also receive the header and every block (quality checks, previews). A sink may return
  // absl::CancelledError to stop reading early; Finish then returns Cancelled too.
  std::vector<RecordSink*> extra_sinks;
};

struct IngestResult {
  TableFormat format = TableFormat::kCsv;
  std::string compression;  // "none", "gzip", "zstd"
  uint64_t raw_bytes = 0;
  uint64_t decompressed_bytes = 0;
  int64_t rows = 0;
  Schema schema;
  Json profile;
};

class Ingest {
 public:
  explicit Ingest(IngestOptions options);
  ~Ingest();
  absl::Status Feed(absl::string_view raw);
  absl::StatusOr<IngestResult> Finish();
  uint64_t raw_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kade
