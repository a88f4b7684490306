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
  // What parsers call. A sink that keeps blocks may take this one by swapping it with a
  // block of its own (spent, of any width): no copy, and the parser refills the one it gets
  // back after resetting it.
  virtual absl::Status OnBlockSwap(RowBlock& block) { return OnBlock(block); }
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
// A parser for a piece of a CSV file that starts at a record boundary after the header:
// `header` is the file's header (the sink gets no OnHeader) and `first_line` the line number
// of the piece's first byte, so errors name the line in the whole file. Pieces of one file
// can be parsed in parallel when record boundaries are known (see Ingest).
std::unique_ptr<RecordParser> MakeCsvPieceParser(const CsvOptions& options,
                                                 std::vector<std::string> header,
                                                 int64_t first_line, RecordSink* sink);
std::unique_ptr<RecordParser> MakeJsonlParser(RecordSink* sink);

// The fast path for such a piece when it is plain: no quote character, no CR, no NUL, only
// ASCII bytes, and every line a record of `columns` fields. Scans 64 bytes at a time for
// delimiters and line ends and hands blocks to `sink`. Returns false, without a diagnosis,
// as soon as the piece is anything else; the caller then discards what `sink` got and parses
// the piece with MakeCsvPieceParser, which handles every case and reports problems exactly.
// `spare`, when given, is a spent block whose buffers are reused for the first block (so a
// piece does not grow its arenas from nothing); it is left empty or holding a spent block.
bool ParsePlainCsvPiece(absl::string_view piece, char delimiter, size_t columns, int64_t first_line,
                        RecordSink* sink, int64_t* rows, RowBlock* spare = nullptr);

// Checks header names: none empty, none repeated.
absl::Status ValidateHeader(const std::vector<std::string>& columns);

}  // namespace kade
