// MLflow's MLmodel file (a YAML subset) as a client uploads it: parsed, then its signature
// turned into Kade features. Any input ends in a value or an error naming line and column.
#include <cstddef>
#include <cstdint>

#include "ml/mlmodel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = kade::ml::ReadMlmodel(text);
  if (m.ok() && m->inputs) (void)kade::ml::FeaturesFromSignature(*m->inputs);
  return 0;
}
