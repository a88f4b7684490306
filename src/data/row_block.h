// A block of parsed rows, stored column by column: each column's field bytes sit one after
// another in that column's own arena, so consumers (profilers, validators), which work a
// column at a time, read memory in order. Parsers add fields row by row and hand over blocks
// of up to kRows rows. Not thread-safe; read-only once handed out.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kade {

class RowBlock {
 public:
  static constexpr size_t kRows = 16384;
  // A block also ends early once its field bytes pass this, so wide or long rows keep the
  // memory bounded and the 32-bit offsets valid.
  static constexpr size_t kMaxArenaBytes = 64u << 20;
  // Every field is followed by at least this many readable bytes (of later fields or
  // padding), so parsers may load whole words past a field's end (see ParseDoublePadded).
  static constexpr size_t kPadding = 16;

  explicit RowBlock(size_t columns = 0) { Reset(columns); }
  void Reset(size_t columns) {
    if (cols_.size() != columns) cols_.resize(columns);
    for (auto& c : cols_) {
      c.used = 0;
      c.offsets.clear();
      c.offsets.push_back(0);
    }
    open_ = 0;
    bytes_ = 0;
    lines_.clear();
    absent_.clear();
  }
  size_t columns() const { return cols_.size(); }
  size_t rows() const { return lines_.size(); }
  bool full() const { return rows() >= kRows || bytes_ >= kMaxArenaBytes; }

  // Appends a field of the current row. Fields past the header's width are counted (the
  // parser reports the ragged row) but not stored.
  __attribute__((always_inline)) void AddField(absl::string_view bytes) {
    if (!absent_.empty()) absent_.push_back(false);
    AddBytes(bytes, false);
  }
  // The same, when at least 16 bytes from bytes.data() are readable: short fields are then
  // copied with one fixed-size move instead of a variable-length copy.
  __attribute__((always_inline)) void AddFieldReadAhead(absl::string_view bytes) {
    if (!absent_.empty()) absent_.push_back(false);
    AddBytes(bytes, true);
  }
  // The plain CSV path, which fills a run of records column by column: appends the next
  // field of column `col` (< columns()), always present, with at least 16 readable bytes
  // from bytes.data() when `read_ahead`. EndRows then closes the run's records.
  __attribute__((always_inline)) void AppendColumnField(size_t col, const char* bytes, size_t len,
                                                        bool read_ahead) {
    Column& c = cols_[col];
    if (c.used + len + kPadding > c.arena.size()) Grow(c, len);
    char* dst = c.arena.data() + c.used;
    if (read_ahead && len <= 16) {
      std::memcpy(dst, bytes, 16);  // within the padding
    } else {
      std::memcpy(dst, bytes, len);
    }
    c.used += len;
    bytes_ += len;
    c.offsets.push_back(static_cast<uint32_t>(c.used));
  }
  // Closes `count` records whose fields every column has received, numbered from `line`.
  void EndRows(int64_t line, size_t count) {
    for (size_t i = 0; i < count; ++i) lines_.push_back(line + static_cast<int64_t>(i));
    open_ = 0;
  }
  // Appends a field that has no value (a JSON null or a missing key), unlike an empty string.
  void AddAbsentField() {
    if (absent_.empty()) absent_.assign(rows() * cols_.size() + open_, false);
    absent_.push_back(true);
    AddBytes({}, false);
  }
  void AddField(absl::string_view bytes, bool present) {
    if (present) {
      AddField(bytes);
    } else {
      AddAbsentField();
    }
  }
  // Fields added since the last EndRow.
  size_t open_fields() const { return open_; }
  // Drops the fields added since the last EndRow (a skipped blank line).
  void DropOpenRow() {
    for (size_t i = 0; i < std::min(open_, cols_.size()); ++i) {
      Column& c = cols_[i];
      c.offsets.pop_back();
      bytes_ -= c.used - c.offsets.back();
      c.used = c.offsets.back();
    }
    if (!absent_.empty()) absent_.resize(rows() * cols_.size());
    open_ = 0;
  }
  void EndRow(int64_t line) {
    lines_.push_back(line);
    open_ = 0;
  }

  absl::string_view Field(size_t row, size_t col) const {
    const Column& c = cols_[col];
    uint32_t begin = c.offsets[row];
    return absl::string_view(c.arena.data() + begin, c.offsets[row + 1] - begin);
  }
  // One column's fields, for loops that walk a column.
  struct ColumnView {
    const char* data;
    const uint32_t* offsets;
    absl::string_view Field(size_t row) const {
      return absl::string_view(data + offsets[row], offsets[row + 1] - offsets[row]);
    }
  };
  ColumnView column(size_t col) const {
    return {cols_[col].arena.data(), cols_[col].offsets.data()};
  }
  bool all_present() const { return absent_.empty(); }
  bool Present(size_t row, size_t col) const {
    return absent_.empty() || !absent_[row * cols_.size() + col];
  }
  int64_t Line(size_t row) const { return lines_[row]; }

 private:
  __attribute__((always_inline)) void AddBytes(absl::string_view bytes, bool read_ahead) {
    static_assert(kPadding >= 16);
    if (open_++ >= cols_.size()) return;
    Column& c = cols_[open_ - 1];
    if (c.used + bytes.size() + kPadding > c.arena.size()) Grow(c, bytes.size());
    if (read_ahead && bytes.size() <= 16) {
      std::memcpy(c.arena.data() + c.used, bytes.data(), 16);  // within the padding
    } else if (!bytes.empty()) {
      std::memcpy(c.arena.data() + c.used, bytes.data(), bytes.size());
    }
    c.used += bytes.size();
    bytes_ += bytes.size();
    c.offsets.push_back(static_cast<uint32_t>(c.used));
  }

  struct Column;
  // Out of line: the common path of AddBytes stays small enough to inline.
  __attribute__((noinline)) static void Grow(Column& c, size_t n) {
    c.arena.resize(std::max(2 * c.arena.size(), c.used + n + kPadding + 4096));
  }

  struct Column {
    std::string arena;  // field bytes in [0, used), then at least kPadding more
    size_t used = 0;
    std::vector<uint32_t> offsets;  // field r is [offsets[r], offsets[r + 1])
  };
  std::vector<Column> cols_;
  size_t open_ = 0;   // fields of the row being added
  size_t bytes_ = 0;  // field bytes in all columns
  std::vector<int64_t> lines_;
  std::vector<bool> absent_;  // row-major; empty while every field is present (always for CSV)
};

}  // namespace kade
