// Monitoring summaries as the store keeps them (data/window_summary.h): the input read as a
// stored blob must give a summary or an error, never a crash; and a summary built from the
// input's values, written and read back, keeps its counts, also after one of its bytes is
// damaged where the input says (an error then, or a summary, never a crash).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "data/window_summary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kade::WindowSummary::FromBytes(text);
  kade::WindowSummary w;
  w.start_ms = 60000;
  w.width_ms = 60000;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    double v;
    std::memcpy(&v, data + i, 8);
    w.features[i % 3 == 0 ? "a" : "b"].AddNumber(v);
    w.features["c"].numeric = false;
    w.features["c"].AddCategory(text.substr(i, 1 + data[i] % 7));
    w.latency.Add(static_cast<int64_t>(data[i]) * 1000);
    ++w.rows;
  }
  std::string bytes = w.ToBytes();
  auto back = kade::WindowSummary::FromBytes(bytes);
  if (!back.ok() || back->rows != w.rows || back->features.size() != w.features.size()) {
    __builtin_trap();
  }
  if (size > 0 && !bytes.empty()) {
    bytes[(static_cast<size_t>(data[0]) * 131 + size) % bytes.size()] ^=
        static_cast<char>(data[size - 1] | 1);
    (void)kade::WindowSummary::FromBytes(bytes);
  }
  return 0;
}
