// A Platform on a test's own data directory, without job workers (tests that need them
// configure their own ServerConfig).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "platform/platform.h"

namespace kade::testing {

absl::StatusOr<std::unique_ptr<Platform>> OpenTestPlatform(const std::string& data_dir);

}  // namespace kade::testing
