#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json.h"
#include "core/status.h"
#include "data/parsers.h"
#include "data/values.h"
#include "nlohmann/json.hpp"

namespace kade {

namespace {

// JSON Lines: one JSON object per line. The first object's keys (in their order) are the
// columns; later objects may leave keys out (null) but may not add new ones.
class JsonlParser : public RecordParser {
 public:
  explicit JsonlParser(RecordSink* sink) : sink_(sink) {}

  absl::Status Feed(absl::string_view bytes) override {
    size_t start = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] == '\n') {
        pending_.append(bytes.data() + start, i - start);
        RETURN_IF_ERROR(Line(pending_));
        pending_.clear();
        start = i + 1;
      }
    }
    pending_.append(bytes.data() + start, bytes.size() - start);
    if (pending_.size() > (64u << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_, " is longer than 64 MiB; is this JSON Lines?"));
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (!pending_.empty()) RETURN_IF_ERROR(Line(pending_));
    pending_.clear();
    if (!have_header_) return absl::InvalidArgumentError("the file is empty: no JSON object");
    if (block_.rows() > 0) RETURN_IF_ERROR(sink_->OnBlockSwap(block_));
    return absl::OkStatus();
  }

  int64_t rows() const override { return rows_; }

 private:
  absl::Status Line(std::string& text) {
    int64_t line = line_++;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) return absl::OkStatus();
    size_t nul = text.find('\0');
    if (nul != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the file looks binary, not JSON Lines: NUL byte at line %d, column %d", line, nul + 1));
    }
    size_t bad = FindInvalidUtf8(text);
    if (bad != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d, column %d: invalid UTF-8 byte 0x%02x", line, bad + 1,
                          static_cast<unsigned char>(text[bad])));
    }
    if (absl::Status st = CheckJsonShape(text, JsonLimits{}, static_cast<int>(line)); !st.ok())
      return st;
    nlohmann::ordered_json obj;
    try {
      obj = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      std::string what = e.what();
      size_t p = what.find("syntax error");
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d, column %d: malformed JSON: %s", line, e.byte,
                          p == std::string::npos ? what : what.substr(p)));
    } catch (const nlohmann::json::exception& e) {
      // A number too large for a double (1e400) is out_of_range, not a parse_error (found by
      // fuzz/jsonl_fuzz.cc).
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d: malformed JSON: %s", line, e.what()));
    }
    if (!obj.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d: expected a JSON object, got %s", line, obj.type_name()));
    }
    if (!have_header_) {
      have_header_ = true;
      for (auto it = obj.begin(); it != obj.end(); ++it) {
        index_[it.key()] = header_.size();
        header_.push_back(it.key());
      }
      RETURN_IF_ERROR(ValidateHeader(header_));
      RETURN_IF_ERROR(sink_->OnHeader(header_));
      block_.Reset(header_.size());
    }
    values_.assign(header_.size(), std::string());
    present_.assign(header_.size(), false);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      auto idx = index_.find(it.key());
      if (idx == index_.end()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "line %d: key '%s' is not among the first line's keys, which define the columns", line,
            it.key()));
      }
      const auto& v = it.value();
      if (v.is_null()) continue;
      present_[idx->second] = true;
      values_[idx->second] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    for (size_t c = 0; c < header_.size(); ++c) block_.AddField(values_[c], present_[c]);
    block_.EndRow(line);
    ++rows_;
    if (block_.full()) {
      RETURN_IF_ERROR(sink_->OnBlockSwap(block_));
      block_.Reset(header_.size());
    }
    return absl::OkStatus();
  }

  RecordSink* sink_;
  std::string pending_;
  int64_t line_ = 1;
  int64_t rows_ = 0;
  bool have_header_ = false;
  std::vector<std::string> header_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::string> values_;
  std::vector<bool> present_;
  RowBlock block_;
};

}  // namespace

std::unique_ptr<RecordParser> MakeJsonlParser(RecordSink* sink) {
  return std::make_unique<JsonlParser>(sink);
}

}  // namespace kade
