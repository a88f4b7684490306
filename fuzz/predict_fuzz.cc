// Predict and Open Inference Protocol bodies against a real model (tests/data/fuzz/model):
// the fast text decoder, the JSON decoder and the OIP tensor decoder either decode rows that
// predict, or refuse the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/oip.h"
#include "core/json.h"
#include "ml/servable.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const kade::ml::Servable* Model() {
  static const std::shared_ptr<const kade::ml::Servable> servable = [] {
    const char* dir = std::getenv("KADE_FUZZ_MODEL");
    const std::string base = dir ? dir : KADE_SOURCE_DIR "/tests/data/fuzz/model";
    auto manifest = kade::ParseJsonObject(ReadFile(base + "/kade_model.json"));
    if (!manifest.ok()) std::abort();
    auto s = kade::ml::Servable::Load(*manifest, ReadFile(base + "/model.json"));
    if (!s.ok()) std::abort();
    return *s;
  }();
  return servable.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const kade::ml::Servable* model = Model();
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto fast = model->DecodeText(text);
  if (fast.ok()) (void)model->Predict(*fast);
  auto body = kade::ParseJsonObject(text, kade::kPredictJsonLimits);
  if (!body.ok()) return 0;
  auto decoded = model->Decode(*body);
  if (decoded.ok()) (void)model->Predict(*decoded);
  auto columns = kade::OipInferRequestToColumns(*body);
  if (columns.ok()) {
    auto batch = model->Decode(*columns);
    if (batch.ok()) {
      kade::Json answer = model->Render(model->Predict(*batch));
      answer["version"] = 1;
      (void)kade::OipInferResponse(answer, "m", "id").dump();
    }
  }
  return 0;
}
