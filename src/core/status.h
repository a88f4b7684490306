// Status helpers used across every layer. Errors are values (absl::Status); these macros
// keep the early-return style short. No exception crosses a module boundary.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
