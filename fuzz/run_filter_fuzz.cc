// The MLflow search filter and order_by parsers, for every vocabulary (runs, experiments,
// registered models, model versions): the first line is a filter, the rest order_by. A
// filter that parses is also evaluated in memory, as the registry and experiment searches do.
#include <cstddef>
#include <cstdint>

#include "platform/run_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  const kade::FilterVocabulary* vocabularies[] = {
      &kade::RunVocabulary(), &kade::ExperimentVocabulary(), &kade::ModelVocabulary(),
      &kade::ModelVersionVocabulary()};
  for (const auto* vocab : vocabularies) {
    auto clauses = kade::ParseFilter(text.substr(0, nl), *vocab);
    if (clauses.ok()) {
      for (const auto& c : *clauses) {
        (void)kade::ClauseMatches(c, std::string(text.substr(0, 64)), 1.5);
        (void)kade::ClauseMatches(c, std::nullopt, std::nullopt);
      }
    }
    if (nl != absl::string_view::npos) (void)kade::ParseOrder(text.substr(nl + 1), *vocab);
  }
  // LIKE patterns against text, both made of the input.
  (void)kade::LikeMatches(text.substr(0, size / 2), text.substr(size / 2), size % 2 == 0);
  return 0;
}
