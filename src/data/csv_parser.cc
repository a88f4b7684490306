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

class CsvParser : public RecordParser {
 public:
  CsvParser(const CsvOptions& o, RecordSink* sink) : opt_(o), sink_(sink) {}

  absl::Status Feed(absl::string_view bytes) override {
    for (size_t i = 0; i < bytes.size(); ++i) {
      char c = bytes[i];
      ++col_;
      if (c == '\0') {
        return Error(
            absl::StrFormat("the file looks binary, not %s: NUL byte at line %d, column %d",
                            opt_.delimiter == '\t' ? "TSV" : "CSV", line_, col_));
      }
      if (skip_lf_) {
        skip_lf_ = false;
        if (c == '\n') {
          NewLine();
          continue;
        }
      }
      switch (state_) {
        case State::kFieldStart:
          field_col_ = col_;
          if (c == opt_.quote) {
            state_ = State::kQuoted;
            quote_line_ = line_;
            quote_col_ = col_;
          } else if (c == opt_.delimiter) {
            RETURN_IF_ERROR(EndField());
          } else if (c == '\n' || c == '\r') {
            RETURN_IF_ERROR(EndLine(c));
          } else {
            field_.push_back(c);
            state_ = State::kUnquoted;
          }
          break;
        case State::kUnquoted: {
          // Fast path: copy up to the next delimiter, line end, NUL or quote.
          size_t j = i;
          while (j < bytes.size()) {
            char d = bytes[j];
            if (d == opt_.delimiter || d == '\n' || d == '\r' || d == '\0') break;
            ++j;
          }
          if (j > i) {
            field_.append(bytes.data() + i, j - i);
            col_ += static_cast<int64_t>(j - i) - 1;
            i = j - 1;
            break;
          }
          if (c == opt_.delimiter) {
            RETURN_IF_ERROR(EndField());
          } else {
            RETURN_IF_ERROR(EndLine(c));
          }
          break;
        }
        case State::kQuoted:
          if (c == opt_.quote) {
            state_ = State::kQuoteInQuoted;
          } else {
            field_.push_back(c);
            if (c == '\n') NewLine();
          }
          break;
        case State::kQuoteInQuoted:
          if (c == opt_.quote) {
            field_.push_back(c);
            state_ = State::kQuoted;
          } else if (c == opt_.delimiter) {
            RETURN_IF_ERROR(EndField());
          } else if (c == '\n' || c == '\r') {
            RETURN_IF_ERROR(EndLine(c));
          } else {
            return Error(absl::StrFormat(
                "line %d, column %d: unexpected character '%c' after the closing quote of a "
                "quoted field (a quote inside a quoted field is written as two quotes)",
                line_, col_, c));
          }
          break;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (state_ == State::kQuoted) {
      return Error(absl::StrFormat(
          "unterminated quoted field: the quote opened at line %d, column %d is never closed",
          quote_line_, quote_col_));
    }
    if (state_ != State::kFieldStart || !fields_.empty()) {
      RETURN_IF_ERROR(EndField());
      RETURN_IF_ERROR(EndRecord());
    }
    if (!have_header_) return absl::InvalidArgumentError("the file is empty: no header row");
    if (block_.rows() > 0) RETURN_IF_ERROR(sink_->OnBlock(block_));
    return absl::OkStatus();
  }

  int64_t rows() const override { return rows_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

  absl::Status Error(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

  // A line break outside quotes ends the field and the record; after CR a LF is skipped.
  absl::Status EndLine(char c) {
    RETURN_IF_ERROR(EndField());
    RETURN_IF_ERROR(EndRecord());
    if (c == '\r') skip_lf_ = true;
    NewLine();
    return absl::OkStatus();
  }

  void NewLine() {
    ++line_;
    col_ = 0;
  }

  absl::Status EndField() {
    size_t bad = FindInvalidUtf8(field_);
    if (bad != absl::string_view::npos) {
      return Error(absl::StrFormat("line %d, column %d: invalid UTF-8 byte 0x%02x", record_line_,
                                   field_col_ + static_cast<int64_t>(bad),
                                   static_cast<unsigned char>(field_[bad])));
    }
    fields_.push_back(std::move(field_));
    field_.clear();
    state_ = State::kFieldStart;
    return absl::OkStatus();
  }

  absl::Status EndRecord() {
    int64_t line = record_line_;
    record_line_ = line_ + 1;
    if (!have_header_) {
      have_header_ = true;
      // A UTF-8 byte-order mark before the first name is not part of it.
      if (!fields_.empty() && fields_[0].rfind("\xef\xbb\xbf", 0) == 0) fields_[0].erase(0, 3);
      header_ = fields_;
      fields_.clear();
      RETURN_IF_ERROR(ValidateHeader(header_));
      block_.Reset(header_.size());
      return sink_->OnHeader(header_);
    }
    // A blank line (one empty field) is skipped rather than read as a ragged row.
    if (fields_.size() == 1 && fields_[0].empty() && header_.size() > 1) {
      fields_.clear();
      return absl::OkStatus();
    }
    if (fields_.size() != header_.size()) {
      return Error(absl::StrFormat("line %d has %d fields but the header has %d (ragged row)", line,
                                   fields_.size(), header_.size()));
    }
    for (const auto& f : fields_) block_.AddField(f);
    block_.EndRow(line);
    fields_.clear();
    ++rows_;
    if (block_.full()) {
      RETURN_IF_ERROR(sink_->OnBlock(block_));
      block_.Reset(header_.size());
    }
    return absl::OkStatus();
  }

  CsvOptions opt_;
  RecordSink* sink_;
  State state_ = State::kFieldStart;
  bool skip_lf_ = false;
  int64_t line_ = 1, col_ = 0, record_line_ = 1;
  int64_t quote_line_ = 0, quote_col_ = 0, field_col_ = 1;
  std::string field_;
  std::vector<std::string> fields_;
  std::vector<std::string> header_;
  bool have_header_ = false;
  int64_t rows_ = 0;
  RowBlock block_;
};

}  // namespace

std::unique_ptr<RecordParser> MakeCsvParser(const CsvOptions& options, RecordSink* sink) {
  return std::make_unique<CsvParser>(options, sink);
}

}  // namespace kade
