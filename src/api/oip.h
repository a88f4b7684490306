// The Open Inference Protocol (KServe V2) inference messages, turned into and out of what
// the serving service takes and returns. Pure functions: no service, no I/O (fuzzed in
// fuzz/oip_fuzz.cc).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"

namespace kade {

// {"inputs": [{name, shape, datatype, data}, ...]} with one tensor per feature, shape [rows]
// or [rows, 1], into the columns body the serving service decodes: {"inputs": {name: data}}.
// InvalidArgument naming the tensor (inputs[i]) and the field.
absl::StatusOr<Json> OipInferRequestToColumns(const Json& body);

// A serving answer ({"predictions", "probabilities"?, "version"}) as an inference response
// for `model`; `id` is the request's id when it sent one, else Kade's request id.
Json OipInferResponse(const Json& answer, absl::string_view model, const std::string& id);

}  // namespace kade
