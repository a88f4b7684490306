#include "core/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kade {

namespace {
constexpr char kRetryAfterPayload[] = "kade/retry-after";
}  // namespace

absl::Status WithRetryAfter(absl::Status status, int64_t seconds) {
  status.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(seconds)));
  return status;
}

int64_t RetryAfterOf(const absl::Status& status) {
  int64_t v = -1;
  if (auto p = status.GetPayload(kRetryAfterPayload)) {
    if (!absl::SimpleAtoi(std::string(*p), &v)) v = -1;
  }
  return v;
}

}  // namespace kade
