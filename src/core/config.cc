#include "core/config.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kade {

std::string ServerConfig::DatabasePath() const {
  if (db.empty()) return data_dir + "/kade.db";
  if (absl::StartsWith(db, "sqlite://")) return db.substr(9);
  if (absl::StartsWith(db, "sqlite:")) return db.substr(7);
  return db;
}

std::string ServerConfig::ArtifactRoot() const { return data_dir + "/artifacts"; }

absl::Status ServerConfig::ParseAddr(std::string* host, uint16_t* port) const {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 >= addr.size()) {
    return absl::InvalidArgumentError(absl::StrCat("address '", addr, "' must be HOST:PORT"));
  }
  uint32_t p = 0;
  if (!absl::SimpleAtoi(addr.substr(colon + 1), &p) || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address '", addr, "' has an invalid port"));
  }
  *host = addr.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

absl::Status ServerConfig::Validate() const {
  std::string host;
  uint16_t port;
  if (auto s = ParseAddr(&host, &port); !s.ok()) return s;
  if (data_dir.empty()) return absl::InvalidArgumentError("data directory must not be empty");
  if (absl::StartsWith(db, "postgres")) {
    return absl::InvalidArgumentError(
        "PostgreSQL metadata store is not available in this build; use a SQLite path");
  }
  if (threads < 0 || threads > 256) return absl::InvalidArgumentError("threads must be 0..256");
  if (max_body_bytes < 1024) return absl::InvalidArgumentError("max body must be >= 1024 bytes");
  if (!admin_token.empty() && admin_token.size() < 32) {
    return absl::InvalidArgumentError("KADE_ADMIN_TOKEN must be at least 32 characters");
  }
  if (read_timeout_s <= 0 || write_timeout_s <= 0 || idle_timeout_s <= 0) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  return absl::OkStatus();
}

}  // namespace kade
