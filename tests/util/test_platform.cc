#include "tests/util/test_platform.h"

#include "core/config.h"

namespace kade::testing {

absl::StatusOr<std::unique_ptr<Platform>> OpenTestPlatform(const std::string& data_dir) {
  ServerConfig cfg;
  cfg.data_dir = data_dir;
  cfg.job_workers = 0;
  return Platform::Open(cfg);
}

}  // namespace kade::testing
