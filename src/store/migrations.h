// The ordered list of schema migrations (see migrations.cc).
#pragma once

#include <string>
#include <vector>

namespace kade {

struct Migration {
  int version;
  std::string description;
  std::string sql;
};

const std::vector<Migration>& Migrations();

}  // namespace kade
