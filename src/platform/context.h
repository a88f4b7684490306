// Who is calling, and on behalf of which request. Built by the API layer after
// authentication and passed to every service method that changes state (for the audit log).
#pragma once

#include <cstdint>
#include <string>

namespace kade {

struct Principal {
  int64_t user_id = 0;
  std::string user_name;
  bool is_admin = false;
  int64_t token_id = 0;
};

struct RequestContext {
  Principal principal;
  std::string request_id;
  std::string remote;  // client address
};

// The context used for changes Kade makes on its own (bootstrap, demo seeding).
inline RequestContext SystemContext(std::string request_id = "system") {
  RequestContext ctx;
  ctx.principal.user_name = "system";
  ctx.principal.is_admin = true;
  ctx.request_id = std::move(request_id);
  return ctx;
}

}  // namespace kade
