#include "ml/batch_scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "data/values.h"

namespace kade::ml {
namespace {

// Bytes that make a CSV field need quotes.
struct Special {
  bool table[256] = {};
  constexpr Special() { table[','] = table['"'] = table['\r'] = table['\n'] = true; }
};
constexpr Special kSpecial;

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
inline void AppendCsvField(std::string* out, absl::string_view f) {
  bool plain = true;
  for (char c : f) plain &= !kSpecial.table[static_cast<unsigned char>(c)];
  if (plain) {
    out->append(f.data(), f.size());
    return;
  }
  out->push_back('"');
  for (char c : f) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

bool EncodeField(const Feature& f, absl::string_view v, float* slot) {
  if (f.categorical) {
    auto it = std::find(f.categories.begin(), f.categories.end(), v);
    if (it == f.categories.end()) return false;
    *slot = static_cast<float>(it - f.categories.begin());
  } else if (f.source_type == ColumnType::kBool) {
    if (auto x = ParseBool(v)) *slot = *x ? 1.0f : 0.0f;
  } else if (f.source_type == ColumnType::kTimestamp) {
    if (auto t = ParseTimestamp(v)) *slot = static_cast<float>(static_cast<double>(*t) / 1e6);
  } else if (auto d = ParseDoublePadded(v)) {
    *slot = static_cast<float>(*d);
  }
  return true;
}

SampleEncoder::SampleEncoder(Encoding encoding, size_t max_rows, uint64_t seed)
    : encoding_(std::move(encoding)), max_rows_(std::max<size_t>(1, max_rows)), rng_(seed) {}

absl::StatusOr<std::vector<size_t>> SourceColumns(const Encoding& e,
                                                  const std::vector<std::string>& columns) {
  std::vector<size_t> source;
  for (const auto& f : e.features) {
    auto it = std::find(columns.begin(), columns.end(), f.name);
    if (it == columns.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the dataset has no column '", f.name, "', which the model needs"));
    }
    source.push_back(static_cast<size_t>(it - columns.begin()));
  }
  return source;
}

absl::Status SampleEncoder::OnHeader(const std::vector<std::string>& columns) {
  ASSIGN_OR_RETURN(source_, SourceColumns(encoding_, columns));
  return absl::OkStatus();
}

absl::Status SampleEncoder::OnBlock(const RowBlock& block) {
  const size_t nf = encoding_.features.size();
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  auto is_null = [&](absl::string_view v) {
    return std::find(encoding_.null_tokens.begin(), encoding_.null_tokens.end(), v) !=
           encoding_.null_tokens.end();
  };
  for (size_t r = 0; r < block.rows(); ++r) {
    ++seen_;
    // Reservoir sampling: row `seen_` replaces a kept row with probability max_rows / seen.
    size_t slot = rows_;
    if (rows_ >= max_rows_) {
      const uint64_t pick = rng_() % seen_;
      if (pick >= max_rows_) continue;
      slot = static_cast<size_t>(pick);
    } else {
      ++rows_;
      x_.resize(rows_ * nf);
    }
    float* out = &x_[slot * nf];
    for (size_t j = 0; j < nf; ++j) {
      out[j] = kNaN;
      if (!block.Present(r, source_[j])) continue;
      absl::string_view v = block.Field(r, source_[j]);
      if (!is_null(v)) EncodeField(encoding_.features[j], v, &out[j]);
    }
  }
  return absl::OkStatus();
}

BatchScorer::BatchScorer(std::shared_ptr<const Servable> servable,
                         std::function<absl::Status(absl::string_view)> out, int threads)
    : servable_(std::move(servable)), out_(std::move(out)), threads_(std::max(1, threads)) {
  const Encoding& e = servable_->signature();
  added_.push_back("prediction");
  const bool probs = e.task != "regression" && servable_->engine().objective() != "multi:softmax" &&
                     servable_->engine().objective() != "binary:hinge" &&
                     servable_->engine().objective() != "binary:logitraw";
  if (probs && e.task == "binary") added_.push_back("probability");
  if (probs && e.task == "multiclass") {
    for (const auto& c : e.classes) added_.push_back("probability_" + c);
  }
}

absl::Status BatchScorer::OnHeader(const std::vector<std::string>& columns) {
  columns_ = columns.size();
  ASSIGN_OR_RETURN(source_, SourceColumns(servable_->signature(), columns));
  for (const auto& a : added_) {
    if (std::find(columns.begin(), columns.end(), a) != columns.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the dataset already has a column '", a, "'; rename it before scoring"));
    }
  }
  std::string header;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) header.push_back(',');
    AppendCsvField(&header, columns[c]);
  }
  for (const auto& a : added_) {
    header.push_back(',');
    AppendCsvField(&header, a);
  }
  header.push_back('\n');
  return out_(header);
}

void BatchScorer::ScoreRange(const RowBlock& block, size_t begin, size_t end, std::string* text,
                             int64_t* unseen) const {
  const Encoding& e = servable_->signature();
  const size_t nf = e.features.size();
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  Batch b;
  b.rows = end - begin;
  b.x.assign(b.rows * nf, kNaN);
  size_t longest_null = 0;
  for (const auto& t : e.null_tokens) longest_null = std::max(longest_null, t.size());
  auto is_null = [&](absl::string_view v) {
    return v.size() <= longest_null &&
           std::find(e.null_tokens.begin(), e.null_tokens.end(), v) != e.null_tokens.end();
  };
  for (size_t j = 0; j < nf; ++j) {
    const Feature& f = e.features[j];
    const size_t col = source_[j];
    for (size_t r = begin; r < end; ++r) {
      if (!block.Present(r, col)) continue;
      absl::string_view v = block.Field(r, col);
      if (is_null(v)) continue;
      if (!EncodeField(f, v, &b.x[(r - begin) * nf + j])) ++*unseen;
    }
  }
  Prediction p = servable_->Predict(b);
  const bool binary = e.task == "binary";
  for (size_t r = begin; r < end; ++r) {
    for (size_t c = 0; c < columns_; ++c) {
      if (c) text->push_back(',');
      if (block.Present(r, c)) AppendCsvField(text, block.Field(r, c));
    }
    const size_t i = r - begin;
    text->push_back(',');
    if (e.task == "regression") {
      absl::StrAppendFormat(text, "%.9g", p.output[i * p.width]);
    } else {
      AppendCsvField(text, servable_->Label(p, i));
    }
    if (added_.size() > 1) {
      if (binary) {
        absl::StrAppendFormat(text, ",%.9g", p.output[i]);
      } else {
        for (size_t k = 0; k < p.width; ++k) {
          absl::StrAppendFormat(text, ",%.9g", p.output[i * p.width + k]);
        }
      }
    }
    text->push_back('\n');
  }
}

absl::Status BatchScorer::OnBlock(const RowBlock& block) {
  const size_t n = block.rows();
  if (n == 0) return absl::OkStatus();
  const size_t parts = std::min<size_t>(static_cast<size_t>(threads_), (n + 4095) / 4096);
  std::vector<std::string> texts(parts);
  std::vector<int64_t> unseen(parts, 0);
  std::vector<std::thread> workers;
  for (size_t t = 1; t < parts; ++t) {
    workers.emplace_back(
        [&, t] { ScoreRange(block, n * t / parts, n * (t + 1) / parts, &texts[t], &unseen[t]); });
  }
  ScoreRange(block, 0, n / parts, &texts[0], &unseen[0]);
  for (auto& w : workers) w.join();
  for (size_t t = 0; t < parts; ++t) {
    unseen_ += unseen[t];
    if (absl::Status s = out_(texts[t]); !s.ok()) return s;
  }
  rows_ += static_cast<int64_t>(n);
  return absl::OkStatus();
}

}  // namespace kade::ml
