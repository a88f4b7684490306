#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "data/parsers.h"
#include "data/values.h"

namespace kade {

absl::Status ValidateHeader(const std::vector<std::string>& columns) {
  absl::flat_hash_map<std::string, size_t> seen;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line 1: header column ", i + 1, " has an empty name"));
    }
    auto [it, inserted] = seen.emplace(columns[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("line 1: header has duplicate column '",
                                                     columns[i], "' (columns ", it->second + 1,
                                                     " and ", i + 1, ")"));
    }
  }
  return absl::OkStatus();
}

namespace {

// The parser scans with a byte-class table: in an unquoted field only the delimiter, CR, LF
// and NUL stop the scan, so the common case is one table lookup per byte and one copy per
// field straight into the row block. Fields are checked for valid UTF-8 only when they
// contain a byte >= 0x80.
class CsvParser : public RecordParser {
 public:
  CsvParser(const CsvOptions& o, std::vector<std::string> header, int64_t first_line,
            RecordSink* sink)
      : CsvParser(o, sink) {
    header_ = std::move(header);
    have_header_ = true;
    line_ = record_line_ = first_line;
    block_.Reset(header_.size());
  }
  CsvParser(const CsvOptions& o, RecordSink* sink) : opt_(o), sink_(sink) {
    stop_[static_cast<unsigned char>('\n')] = stop_[static_cast<unsigned char>('\r')] = true;
    stop_[0] = true;
    stop_[static_cast<unsigned char>(opt_.delimiter)] = true;
#ifdef __SSE2__
    v_delim_ = _mm_set1_epi8(opt_.delimiter);
    v_lf_ = _mm_set1_epi8('\n');
    v_cr_ = _mm_set1_epi8('\r');
    v_nul_ = _mm_setzero_si128();
#endif
  }

  absl::Status Feed(absl::string_view bytes) override {
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    chunk_end_ = end;
    line_start_ = p;
    col_base_ = col_carry_;
    while (p < end) {
      if (skip_lf_) {
        skip_lf_ = false;
        if (*p == '\n') {
          ++p;
          line_start_ = p;
          col_base_ = 0;
          continue;
        }
      }
      switch (state_) {
        case State::kFieldStart: {
          field_col_ = Col(p);
          if (*p == opt_.quote) {
            state_ = State::kQuoted;
            quote_line_ = line_;
            quote_col_ = field_col_;
            field_.clear();
            ++p;
            break;
          }
          unsigned char high = 0;
          const char* q = ScanUnquoted(p, end, &high);
          if (q == end) {  // the field continues in the next chunk
            field_.assign(p, q);
            field_high_ = high != 0;
            state_ = State::kUnquoted;
            p = q;
            break;
          }
          RETURN_IF_ERROR(
              EmitField(absl::string_view(p, static_cast<size_t>(q - p)), high != 0, true));
          p = q;
          RETURN_IF_ERROR(Terminator(p));
          break;
        }
        case State::kUnquoted: {
          unsigned char high = 0;
          const char* q = ScanUnquoted(p, end, &high);
          field_.append(p, q);
          field_high_ = field_high_ || high != 0;
          p = q;
          if (q == end) break;
          RETURN_IF_ERROR(EmitField(field_, field_high_));
          RETURN_IF_ERROR(Terminator(p));
          break;
        }
        case State::kQuoted: {
          const char* q = p;
          while (q < end && *q != opt_.quote && *q != '\n' && *q != '\0') ++q;
          field_.append(p, q);
          p = q;
          if (q == end) break;
          if (*q == '\0') return Binary(q);
          if (*q == '\n') {
            field_.push_back('\n');
            ++p;
            ++line_;
            line_start_ = p;
            col_base_ = 0;
          } else {
            state_ = State::kQuoteInQuoted;
            ++p;
          }
          break;
        }
        case State::kQuoteInQuoted: {
          char c = *p;
          if (c == opt_.quote) {
            field_.push_back(c);
            state_ = State::kQuoted;
            ++p;
          } else if (c == opt_.delimiter || c == '\n' || c == '\r') {
            RETURN_IF_ERROR(EmitField(field_, true));
            RETURN_IF_ERROR(Terminator(p));
          } else if (c == '\0') {
            return Binary(p);
          } else {
            return Error(absl::StrFormat(
                "line %d, column %d: unexpected character '%c' after the closing quote of a "
                "quoted field (a quote inside a quoted field is written as two quotes)",
                line_, Col(p), c));
          }
          break;
        }
      }
    }
    col_carry_ = col_base_ + (end - line_start_);
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (state_ == State::kQuoted) {
      return Error(absl::StrFormat(
          "unterminated quoted field: the quote opened at line %d, column %d is never closed",
          quote_line_, quote_col_));
    }
    bool open_row = have_header_ ? block_.open_fields() > 0 : !header_.empty();
    if (state_ == State::kUnquoted || state_ == State::kQuoteInQuoted) {
      RETURN_IF_ERROR(EmitField(field_, true));
      RETURN_IF_ERROR(EndRecord());
    } else if (open_row) {  // the input ended right after a delimiter
      RETURN_IF_ERROR(EmitField({}, false));
      RETURN_IF_ERROR(EndRecord());
    }
    if (!have_header_) return absl::InvalidArgumentError("the file is empty: no header row");
    if (block_.rows() > 0) RETURN_IF_ERROR(sink_->OnBlockSwap(block_));
    return absl::OkStatus();
  }

  int64_t rows() const override { return rows_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

  absl::Status Error(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }
  absl::Status Binary(const char* at) {
    return Error(absl::StrFormat("the file looks binary, not %s: NUL byte at line %d, column %d",
                                 opt_.delimiter == '\t' ? "TSV" : "CSV", line_, Col(at)));
  }

  // 1-based column of a byte of the current chunk on the current line.
  int64_t Col(const char* at) const { return col_base_ + (at - line_start_) + 1; }

  // Returns the first byte at or after `p` that ends an unquoted field, or `end`; ORs every
  // byte scanned into `high` so the caller knows whether non-ASCII bytes were seen.
  const char* ScanUnquoted(const char* p, const char* end, unsigned char* high) const {
    unsigned char acc = 0;
#ifdef __SSE2__
    // Sixteen bytes at a time: a mask of the stop bytes and one of the high bits.
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      __m128i stop =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, v_delim_), _mm_cmpeq_epi8(v, v_lf_)),
                       _mm_or_si128(_mm_cmpeq_epi8(v, v_cr_), _mm_cmpeq_epi8(v, v_nul_)));
      unsigned stops = static_cast<unsigned>(_mm_movemask_epi8(stop));
      unsigned highs = static_cast<unsigned>(_mm_movemask_epi8(v));
      if (stops != 0) {
        unsigned i = static_cast<unsigned>(std::countr_zero(stops));
        if ((highs & ((1u << i) - 1)) != 0) acc = 0x80;
        *high = acc;
        return p + i;
      }
      if (highs != 0) acc = 0x80;
      p += 16;
    }
#endif
    while (p < end) {
      unsigned char c = static_cast<unsigned char>(*p);
      if (stop_[c]) break;
      acc |= c;
      ++p;
    }
    *high = acc & 0x80;
    return p;
  }

  // Consumes the delimiter, CR or LF (or reports the NUL) at `p` that ended a field.
  absl::Status Terminator(const char*& p) {
    char c = *p;
    state_ = State::kFieldStart;
    if (c == opt_.delimiter) {
      ++p;
      return absl::OkStatus();
    }
    if (c == '\0') return Binary(p);
    RETURN_IF_ERROR(EndRecord());
    ++p;
    ++line_;
    record_line_ = line_;
    line_start_ = p;
    col_base_ = 0;
    skip_lf_ = c == '\r';
    return absl::OkStatus();
  }

  // `in_chunk`: `v` points into the chunk being fed (not into field_).
  absl::Status EmitField(absl::string_view v, bool check_utf8, bool in_chunk = false) {
    if (check_utf8) {
      size_t bad = FindInvalidUtf8(v);
      if (bad != absl::string_view::npos) {
        return Error(absl::StrFormat("line %d, column %d: invalid UTF-8 byte 0x%02x", record_line_,
                                     field_col_ + static_cast<int64_t>(bad),
                                     static_cast<unsigned char>(v[bad])));
      }
    }
    if (!have_header_) {
      header_.emplace_back(v);
    } else if (in_chunk && chunk_end_ - v.data() >= 16) {
      block_.AddFieldReadAhead(v);  // 16 bytes of the input chunk are readable from v
    } else {
      block_.AddField(v);
    }
    return absl::OkStatus();
  }

  absl::Status EndRecord() {
    if (!have_header_) {
      have_header_ = true;
      // A UTF-8 byte-order mark before the first name is not part of it.
      if (!header_.empty() && header_[0].rfind("\xef\xbb\xbf", 0) == 0) header_[0].erase(0, 3);
      RETURN_IF_ERROR(ValidateHeader(header_));
      block_.Reset(header_.size());
      return sink_->OnHeader(header_);
    }
    size_t n = block_.open_fields();
    // A blank line (one empty field) is skipped rather than read as a ragged row.
    if (n == 1 && header_.size() > 1 && block_.Field(block_.rows(), 0).empty()) {
      block_.DropOpenRow();
      return absl::OkStatus();
    }
    if (n != header_.size()) {
      return Error(absl::StrFormat("line %d has %d fields but the header has %d (ragged row)",
                                   record_line_, n, header_.size()));
    }
    block_.EndRow(record_line_);
    ++rows_;
    if (block_.full()) {
      RETURN_IF_ERROR(sink_->OnBlockSwap(block_));
      block_.Reset(header_.size());
    }
    return absl::OkStatus();
  }

  CsvOptions opt_;
  RecordSink* sink_;
  bool stop_[256] = {};
#ifdef __SSE2__
  __m128i v_delim_, v_lf_, v_cr_, v_nul_;
#endif
  const char* chunk_end_ = nullptr;
  State state_ = State::kFieldStart;
  bool skip_lf_ = false;
  int64_t line_ = 1, record_line_ = 1;
  const char* line_start_ = nullptr;  // in the current chunk
  int64_t col_base_ = 0;              // columns of the current line before line_start_
  int64_t col_carry_ = 0;             // columns of the current line fed in earlier chunks
  int64_t quote_line_ = 0, quote_col_ = 0, field_col_ = 1;
  std::string field_;  // a field that spans chunks, or a quoted field being unescaped
  bool field_high_ = false;
  std::vector<std::string> header_;
  bool have_header_ = false;
  int64_t rows_ = 0;
  RowBlock block_;
};

}  // namespace

std::unique_ptr<RecordParser> MakeCsvParser(const CsvOptions& options, RecordSink* sink) {
  return std::make_unique<CsvParser>(options, sink);
}

std::unique_ptr<RecordParser> MakeCsvPieceParser(const CsvOptions& options,
                                                 std::vector<std::string> header,
                                                 int64_t first_line, RecordSink* sink) {
  return std::make_unique<CsvParser>(options, std::move(header), first_line, sink);
}

namespace {

// Masks for up to 64 bytes from `p` (`n` of them valid): bit i of `sep` is set where byte i
// is the delimiter or LF, of `lf` where it is LF, and `odd` is nonzero when any byte is CR,
// NUL or >= 0x80.
struct ChunkMasks {
  uint64_t sep = 0, lf = 0, odd = 0;
};

ChunkMasks Scan64(const char* p, size_t n, char delimiter) {
  ChunkMasks m;
#ifdef __SSE2__
  char buf[64];
  if (n < 64) {  // the end of the piece: padded with LFs that are masked off below
    std::memset(buf, '\n', sizeof buf);
    std::memcpy(buf, p, n);
    p = buf;
  }
  const __m128i d = _mm_set1_epi8(delimiter), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                zero = _mm_setzero_si128();
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i is_lf = _mm_cmpeq_epi8(v, lf);
    uint64_t s =
        static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, d), is_lf)));
    uint64_t l = static_cast<uint32_t>(_mm_movemask_epi8(is_lf));
    uint64_t o = static_cast<uint32_t>(_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, zero)), v)));
    m.sep |= s << (16 * k);
    m.lf |= l << (16 * k);
    m.odd |= o << (16 * k);
  }
  if (n < 64) {
    uint64_t valid = (uint64_t{1} << n) - 1;
    m.sep &= valid;
    m.lf &= valid;
    m.odd &= valid;
  }
#else
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == static_cast<unsigned char>(delimiter) || c == '\n') m.sep |= uint64_t{1} << i;
    if (c == '\n') m.lf |= uint64_t{1} << i;
    if (c == '\r' || c == 0 || c >= 0x80) m.odd |= 1;
  }
#endif
  return m;
}

}  // namespace

bool ParsePlainCsvPiece(absl::string_view piece, char delimiter, size_t columns, int64_t first_line,
                        RecordSink* sink, int64_t* rows, RowBlock* spare) {
  *rows = 0;
  if (columns == 0 || delimiter == '"') return false;
  RowBlock block;
  if (spare != nullptr) std::swap(block, *spare);
  block.Reset(columns);
  struct GiveBack {  // the block in hand at the end goes back to the caller for reuse
    RowBlock* spare;
    RowBlock* block;
    ~GiveBack() {
      if (spare != nullptr) std::swap(*spare, *block);
    }
  } give_back{spare, &block};
  const char* data = piece.data();
  const size_t n = piece.size();
  // Two passes over runs of up to kRun records: the scan notes where each field ends, then
  // the fields are copied column by column. Copying record by record wrote to every
  // column's arena and offsets in turn (a hundred write streams for fifty columns, more than
  // the prefetcher follows); a run's bytes stay in cache while each column is copied.
  constexpr size_t kRun = 256;
  std::vector<uint32_t> ends;      // run-relative: record r's field c ends at ends[r * columns + c]
  std::vector<size_t> run_starts;  // where each record of the run starts
  ends.reserve(kRun * columns);
  run_starts.reserve(kRun + 1);
  size_t start = 0;  // of the current record
  size_t col = 0;    // fields of the current record so far
  int64_t line = first_line;
  // Copies the run's records into the block, column by column.
  auto flush = [&]() -> bool {
    const size_t count = run_starts.size();
    if (count == 0) return true;
    for (size_t c = 0; c < columns; ++c) {
      for (size_t r = 0; r < count; ++r) {
        const size_t from = c == 0 ? run_starts[r] : run_starts[r] + ends[r * columns + c - 1] + 1;
        const size_t to = run_starts[r] + ends[r * columns + c];
        block.AppendColumnField(c, data + from, to - from, n - from >= 16);
      }
    }
    block.EndRows(line, count);
    line += static_cast<int64_t>(count);
    *rows += static_cast<int64_t>(count);
    ends.clear();
    run_starts.clear();
    if (block.full()) {
      if (!sink->OnBlockSwap(block).ok()) return false;
      block.Reset(columns);
    }
    return true;
  };
  // False on a field past the header's width (a ragged row: the full parser decides).
  auto field_end = [&](size_t pos) __attribute__((always_inline)) {
    if (col >= columns) return false;
    if (col == 0) run_starts.push_back(start);
    ends.push_back(static_cast<uint32_t>(pos - run_starts.back()));
    ++col;
    return true;
  };
  auto record_end = [&](size_t next) -> bool {
    if (col != columns) return false;  // ragged, or a blank line: the full parser decides
    col = 0;
    start = next;
    return run_starts.size() < kRun || flush();
  };
  // A record longer than 4 GiB cannot be measured in 32 bits; such pieces take the full
  // parser.
  if (n > std::numeric_limits<uint32_t>::max()) return false;
  size_t field_start = 0;
  for (size_t base = 0; base < n; base += 64) {
    ChunkMasks m = Scan64(data + base, std::min<size_t>(64, n - base), delimiter);
    if (m.odd != 0) return false;
    while (m.sep != 0) {
      unsigned bit = static_cast<unsigned>(std::countr_zero(m.sep));
      m.sep &= m.sep - 1;
      size_t pos = base + bit;
      if (!field_end(pos)) return false;
      field_start = pos + 1;
      if ((m.lf >> bit) & 1) {
        if (!record_end(pos + 1)) return false;
      }
    }
  }
  if (field_start < n || col > 0) {  // a last record without a line end
    if (!field_end(n)) return false;
    if (!record_end(n)) return false;
  }
  if (!flush()) return false;
  if (block.rows() > 0 && !sink->OnBlockSwap(block).ok()) return false;
  return true;
}

}  // namespace kade
