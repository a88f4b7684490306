// The JSON body reader every route uses: shape limits first, then the parse; an accepted
// body can be rendered again.
#include <cstddef>
#include <cstdint>

#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = kade::ParseJsonObject(text);
  if (body.ok()) (void)body->dump();
  (void)kade::CheckJsonShape(text, kade::JsonLimits{}, 3);
  return 0;
}
