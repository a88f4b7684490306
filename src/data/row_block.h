// A block of parsed rows: field bytes in one arena, addressed by (row, column). Parsers fill
// blocks of up to kRows rows and hand them to consumers (profilers, validators) that work
// column by column. Not thread-safe; read-only once handed out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kade {

class RowBlock {
 public:
  static constexpr size_t kRows = 16384;

  explicit RowBlock(size_t columns = 0) : columns_(columns) {}
  void Reset(size_t columns) {
    columns_ = columns;
    arena_.clear();
    offsets_.clear();
    lines_.clear();
    present_.clear();
  }
  size_t columns() const { return columns_; }
  size_t rows() const { return lines_.size(); }
  bool full() const { return rows() >= kRows; }

  // Appends a field of the current row. `present` is false for a JSON null/absent key.
  void AddField(absl::string_view bytes, bool present = true) {
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
    arena_.append(bytes.data(), bytes.size());
    present_.push_back(present);
  }
  void EndRow(int64_t line) { lines_.push_back(line); }

  absl::string_view Field(size_t row, size_t col) const {
    size_t i = row * columns_ + col;
    uint32_t begin = offsets_[i];
    uint32_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : static_cast<uint32_t>(arena_.size());
    return absl::string_view(arena_.data() + begin, end - begin);
  }
  bool Present(size_t row, size_t col) const { return present_[row * columns_ + col]; }
  int64_t Line(size_t row) const { return lines_[row]; }

 private:
  size_t columns_;
  std::string arena_;
  std::vector<uint32_t> offsets_;
  std::vector<int64_t> lines_;
  std::vector<bool> present_;
};

}  // namespace kade
