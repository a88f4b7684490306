// Status helpers used across every layer. Errors are values (absl::Status); these macros
// keep the early-return style short. No exception crosses a module boundary.
#pragma once

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kade {

// How long a refused caller should wait (a throttle's remaining window), carried to the
// HTTP layer's Retry-After header as a status payload.
absl::Status WithRetryAfter(absl::Status status, int64_t seconds);
// The seconds attached by WithRetryAfter, or -1.
int64_t RetryAfterOf(const absl::Status& status);

}  // namespace kade

#define KADE_CONCAT_INNER_(a, b) a##b
#define KADE_CONCAT_(a, b) KADE_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status kade_status_ = (expr);        \
    if (!kade_status_.ok()) return kade_status_; \
  } while (0)

#define KADE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  KADE_ASSIGN_OR_RETURN_IMPL_(KADE_CONCAT_(kade_statusor_, __LINE__), lhs, expr)
