#include "platform/policy.h"
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace kade {

const char* PermissionName(Permission p) {
  switch (p) {
    case Permission::kPublic:
      return "public";
    case Permission::kAuthenticated:
      return "authenticated";
    case Permission::kAdmin:
      return "admin";
    case Permission::kProjectView:
      return "project.view";
    case Permission::kProjectEdit:
      return "project.edit";
    case Permission::kProjectManage:
      return "project.manage";
    case Permission::kProjectOwn:
      return "project.own";
  }
  return "unknown";
}

bool IsProjectPermission(Permission p) {
  return p == Permission::kProjectView || p == Permission::kProjectEdit ||
         p == Permission::kProjectManage || p == Permission::kProjectOwn;
}

Role RequiredRole(Permission p) {
  switch (p) {
    case Permission::kProjectEdit:
      return Role::kEditor;
    case Permission::kProjectManage:
      return Role::kMaintainer;
    case Permission::kProjectOwn:
      return Role::kOwner;
    default:
      return Role::kViewer;
  }
}

absl::Status Authorize(const Principal& who, Permission needed, std::optional<Role> role,
                       absl::string_view project) {
  if (needed == Permission::kPublic || needed == Permission::kAuthenticated) {
    return absl::OkStatus();
  }
  if (who.is_admin) return absl::OkStatus();
  if (needed == Permission::kAdmin) {
    return absl::PermissionDeniedError("this action needs platform admin rights");
  }
  if (!role.has_value()) {
    return absl::NotFoundError(absl::StrCat("project '", project, "' not found"));
  }
  Role required = RequiredRole(needed);
  if (static_cast<int>(*role) < static_cast<int>(required)) {
    return absl::PermissionDeniedError(absl::StrCat("your role in project '", project, "' is ",
                                                    RoleName(*role), "; this action needs ",
                                                    RoleName(required), " or higher"));
  }
  return absl::OkStatus();
}

absl::Status AuthorizeRoleChange(bool is_admin, std::optional<Role> actor_role,
                                 std::optional<Role> current_role, std::optional<Role> new_role) {
  if (is_admin || actor_role == Role::kOwner) return absl::OkStatus();
  if (!actor_role.has_value() || *actor_role < Role::kMaintainer) {
    return absl::PermissionDeniedError("managing members needs the maintainer role or higher");
  }
  if (current_role == Role::kOwner || new_role == Role::kOwner) {
    return absl::PermissionDeniedError("only an owner can grant or change the owner role");
  }
  return absl::OkStatus();
}

}  // namespace kade
