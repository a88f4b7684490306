// Shared by the libFuzzer targets: a record sink that only counts, and feeding input in
// chunks whose sizes come from the input itself (parsers must give the same answers however
// their input is cut).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "data/parsers.h"

namespace kade::fuzz {

class CountingSink : public RecordSink {
 public:
  absl::Status OnHeader(const std::vector<std::string>& columns) override {
    columns_ = columns.size();
    return absl::OkStatus();
  }
  absl::Status OnBlock(const RowBlock&) override { return absl::OkStatus(); }
  size_t columns_ = 0;
};

// Feeds `data` to `parser` in pieces of 1..256 bytes chosen by `data[0]`; stops at the first
// error (as ingest does).
inline void FeedInPieces(RecordParser* parser, const uint8_t* data, size_t size) {
  if (size == 0) {
    (void)parser->Finish();
    return;
  }
  const size_t step = 1 + data[0];
  absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (size_t at = 0; at < text.size(); at += step) {
    if (!parser->Feed(text.substr(at, step)).ok()) return;
  }
  (void)parser->Finish();
}

}  // namespace kade::fuzz
