#include "api/oip.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace kade {
namespace {

absl::Status Bad(const std::string& message) { return absl::InvalidArgumentError(message); }

// Tensors beyond this many values are refused before their size is multiplied out further.
constexpr int64_t kMaxElements = int64_t{1} << 40;

}  // namespace

absl::StatusOr<Json> OipInferRequestToColumns(const Json& body) {
  if (!body.is_object()) return Bad("the request body must be a JSON object");
  RETURN_IF_ERROR(RejectUnknownFields(body, {"id", "inputs", "outputs", "parameters"}));
  if (body.contains("id") && !body["id"].is_string()) return Bad("id: expected a string");
  if (!body.contains("inputs") || !body["inputs"].is_array() || body["inputs"].empty()) {
    return Bad("'inputs' must be a non-empty array of {name, shape, datatype, data}");
  }
  Json columns = Json::object();
  for (size_t i = 0; i < body["inputs"].size(); ++i) {
    const Json& t = body["inputs"][i];
    const std::string where = absl::StrCat("inputs[", i, "]");
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("data") ||
        !t["data"].is_array() || !t.contains("shape") || !t["shape"].is_array() ||
        !t.contains("datatype") || !t["datatype"].is_string()) {
      return Bad(where + ": expected {\"name\", \"shape\", \"datatype\", \"data\"}");
    }
    const std::string dt = t["datatype"].get<std::string>();
    static const char* kTypes[] = {"BOOL",  "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                   "INT32", "INT64", "FP16",   "FP32",   "FP64",   "BYTES"};
    if (std::none_of(std::begin(kTypes), std::end(kTypes),
                     [&](const char* k) { return dt == k; })) {
      return Bad(
          absl::StrCat(where, ".datatype: '", dt, "' is not an Open Inference Protocol type"));
    }
    if (t["shape"].empty() || t["shape"].size() > 2 ||
        (t["shape"].size() == 2 && t["shape"][1] != 1)) {
      return Bad(where + ".shape: one value per row: [rows] or [rows, 1]");
    }
    int64_t elements = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > kMaxElements) {
        return Bad(where + ".shape: expected non-negative integers");
      }
      elements *= d.get<int64_t>();  // at most two factors, the second 1: no overflow
    }
    if (static_cast<size_t>(elements) != t["data"].size()) {
      return Bad(absl::StrCat(where, ": shape holds ", elements, " values but data has ",
                              t["data"].size()));
    }
    const std::string name = t["name"].get<std::string>();
    if (columns.contains(name)) return Bad(absl::StrCat(where, ".name: '", name, "' twice"));
    columns[name] = t["data"];
  }
  return Json{{"inputs", std::move(columns)}};
}

Json OipInferResponse(const Json& answer, absl::string_view model, const std::string& id) {
  Json outputs = Json::array();
  const Json& preds = answer["predictions"];
  const bool numeric = !preds.empty() && preds[0].is_number();
  outputs.push_back(Json{{"name", "predictions"},
                         {"datatype", numeric ? "FP32" : "BYTES"},
                         {"shape", Json::array({preds.size()})},
                         {"data", preds}});
  if (answer.contains("probabilities")) {
    Json flat = Json::array();
    size_t width = 0;
    for (const auto& row : answer["probabilities"]) {
      width = row.size();
      for (const auto& v : row) flat.push_back(v);
    }
    outputs.push_back(Json{{"name", "probabilities"},
                           {"datatype", "FP32"},
                           {"shape", Json::array({preds.size(), width})},
                           {"data", flat}});
  }
  return Json{{"model_name", std::string(model)},
              {"model_version", absl::StrCat(answer["version"].get<int64_t>())},
              {"id", id},
              {"outputs", outputs}};
}

}  // namespace kade
