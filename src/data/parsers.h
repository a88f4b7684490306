// Streaming (push) readers for tabular text: CSV/TSV (RFC 4180 quoting, header row,
// configurable delimiter) and JSON Lines. Bytes arrive in chunks of any size (an upload
// being received); complete rows are handed to a RecordSink in blocks. Every error names
// the problem and its line and column. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/row_block.h"

namespace kade {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual absl::Status OnHeader(const std::vector<std::string>& columns) = 0;
  virtual absl::Status OnBlock(const RowBlock& block) = 0;
};

class RecordParser {
 public:
  virtual ~RecordParser() = default;
  virtual absl::Status Feed(absl::string_view bytes) = 0;
  // Ends the input: flushes the last row and block, reports an unterminated quote.
  virtual absl::Status Finish() = 0;
  virtual int64_t rows() const = 0;
};

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
};

std::unique_ptr<RecordParser> MakeCsvParser(const CsvOptions& options, RecordSink* sink);
std::unique_ptr<RecordParser> MakeJsonlParser(RecordSink* sink);

// Checks header names: none empty, none repeated.
absl::Status ValidateHeader(const std::vector<std::string>& columns);

}  // namespace kade
