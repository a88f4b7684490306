// The MLflow run filter and order_by parsers: the first line is a filter, the rest order_by.
#include <cstddef>
#include <cstdint>

#include "platform/run_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  (void)kade::ParseRunFilter(text.substr(0, nl));
  if (nl != absl::string_view::npos) (void)kade::ParseRunOrder(text.substr(nl + 1));
  return 0;
}
