// Batch scoring of a parsed table: a RecordSink that encodes each block's rows with a
// servable's signature, predicts them and writes the block back out as CSV text: the input
// columns as they were, then the prediction (and class probabilities). A column the model
// needs and the table lacks is an error naming it; a category the model never saw reads as
// missing (and is counted), as for validation tables in training.
//
// Blocks arrive in order on one thread; `out` receives the CSV text block by block.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/parsers.h"
#include "ml/servable.h"

namespace kade::ml {

// One field in a signature's encoding: a category's code, a boolean as 0/1, a timestamp in
// seconds, a number; a value that does not parse leaves `slot` as it was. False for a
// category the model never saw.
bool EncodeField(const Feature& f, absl::string_view v, float* slot);

// The column of each signature feature in a table's header; InvalidArgument naming the first
// feature the table lacks.
absl::StatusOr<std::vector<size_t>> SourceColumns(const Encoding& e,
                                                  const std::vector<std::string>& columns);

// A uniform sample (reservoir, seeded) of at most `max_rows` rows of a table in a
// signature's encoding (missing and unparsable values NaN, unseen categories NaN): the
// reference rows of multivariate drift. A column the signature needs and the table lacks is
// an error naming it.
class SampleEncoder : public RecordSink {
 public:
  SampleEncoder(Encoding encoding, size_t max_rows, uint64_t seed = 42);
  absl::Status OnHeader(const std::vector<std::string>& columns) override;
  absl::Status OnBlock(const RowBlock& block) override;
  const std::vector<float>& x() const { return x_; }  // rows() x features, row-major
  size_t rows() const { return rows_; }
  int64_t seen() const { return seen_; }

 private:
  Encoding encoding_;
  size_t max_rows_;
  std::mt19937_64 rng_;
  std::vector<size_t> source_;
  std::vector<float> x_;
  size_t rows_ = 0;
  int64_t seen_ = 0;
};

class BatchScorer : public RecordSink {
 public:
  BatchScorer(std::shared_ptr<const Servable> servable,
              std::function<absl::Status(absl::string_view)> out, int threads);
  absl::Status OnHeader(const std::vector<std::string>& columns) override;
  absl::Status OnBlock(const RowBlock& block) override;

  int64_t rows() const { return rows_; }
  int64_t unseen_categories() const { return unseen_; }
  // The output columns after the input's: prediction, probability (binary) or
  // probability_<class> (multi-class).
  const std::vector<std::string>& added_columns() const { return added_; }

 private:
  void ScoreRange(const RowBlock& block, size_t begin, size_t end, std::string* text,
                  int64_t* unseen) const;

  std::shared_ptr<const Servable> servable_;
  std::function<absl::Status(absl::string_view)> out_;
  int threads_;
  std::vector<size_t> source_;  // column of each feature
  std::vector<std::string> added_;
  size_t columns_ = 0;
  int64_t rows_ = 0, unseen_ = 0;
};

}  // namespace kade::ml
