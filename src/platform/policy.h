// The one place that decides access. Every route declares a Permission; the router asks
// Authorize before calling the route's handler. Pure functions, thread-safe.
//
// Rules:
//  - platform admins may do everything;
//  - project permissions need a role binding in that project: view = viewer, edit = editor,
//    manage (members, settings) = maintainer, own (delete, grant owner) = owner;
//  - a caller with no binding in a project is told the project does not exist (404), so
//    project names do not leak; a caller with a too-low role gets 403.
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "platform/context.h"
#include "store/metadata.h"

namespace kade {

enum class Permission {
  kPublic,         // no token (health checks, the web UI's static files)
  kAuthenticated,  // any valid token
  kAdmin,          // platform admin
  kProjectView,
  kProjectEdit,
  kProjectManage,
  kProjectOwn,
};

const char* PermissionName(Permission p);
bool IsProjectPermission(Permission p);
// The lowest role that holds a project permission.
Role RequiredRole(Permission p);

// `role` is the caller's role in `project` (nullopt when the caller has none).
absl::Status Authorize(const Principal& who, Permission needed, std::optional<Role> role,
                       absl::string_view project);

// May a caller with `actor_role` (nullopt = none; admins pass `is_admin`) give `target_user`
// the role `new_role`, where the target currently holds `current_role`? Maintainers manage
// viewers, editors and maintainers; only owners and admins touch owners.
absl::Status AuthorizeRoleChange(bool is_admin, std::optional<Role> actor_role,
                                 std::optional<Role> current_role, std::optional<Role> new_role);

}  // namespace kade
