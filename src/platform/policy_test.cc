#include "platform/policy.h"

#include "gtest/gtest.h"

namespace kade {
namespace {

Principal User(bool admin = false) { return Principal{7, "u", admin, 1}; }

TEST(PolicyTest, PublicAndAuthenticatedNeedNoRole) {
  EXPECT_TRUE(Authorize(User(), Permission::kPublic, std::nullopt, "").ok());
  EXPECT_TRUE(Authorize(User(), Permission::kAuthenticated, std::nullopt, "").ok());
}

TEST(PolicyTest, AdminPermissionNeedsAdmin) {
  EXPECT_EQ(Authorize(User(), Permission::kAdmin, std::nullopt, "").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Authorize(User(true), Permission::kAdmin, std::nullopt, "").ok());
}

TEST(PolicyTest, NoRoleInProjectLooksLikeNoProject) {
  for (Permission p : {Permission::kProjectView, Permission::kProjectEdit,
                       Permission::kProjectManage, Permission::kProjectOwn}) {
    absl::Status s = Authorize(User(), p, std::nullopt, "secret-project");
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(s.message(), "project 'secret-project' not found");
  }
}

TEST(PolicyTest, RoleLadder) {
  struct Row {
    Role role;
    bool view, edit, manage, own;
  };
  const Row rows[] = {{Role::kViewer, true, false, false, false},
                      {Role::kEditor, true, true, false, false},
                      {Role::kMaintainer, true, true, true, false},
                      {Role::kOwner, true, true, true, true}};
  for (const Row& r : rows) {
    EXPECT_EQ(Authorize(User(), Permission::kProjectView, r.role, "p").ok(), r.view);
    EXPECT_EQ(Authorize(User(), Permission::kProjectEdit, r.role, "p").ok(), r.edit);
    EXPECT_EQ(Authorize(User(), Permission::kProjectManage, r.role, "p").ok(), r.manage);
    EXPECT_EQ(Authorize(User(), Permission::kProjectOwn, r.role, "p").ok(), r.own);
    if (!r.edit) {
      absl::Status s = Authorize(User(), Permission::kProjectEdit, r.role, "p");
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_NE(s.message().find("needs editor"), absl::string_view::npos) << s.message();
    }
  }
}

TEST(PolicyTest, AdminPassesProjectChecksWithoutBinding) {
  EXPECT_TRUE(Authorize(User(true), Permission::kProjectOwn, std::nullopt, "p").ok());
}

TEST(PolicyTest, RoleChanges) {
  // Maintainers manage non-owners.
  EXPECT_TRUE(AuthorizeRoleChange(false, Role::kMaintainer, Role::kViewer, Role::kEditor).ok());
  EXPECT_TRUE(AuthorizeRoleChange(false, Role::kMaintainer, std::nullopt, Role::kMaintainer).ok());
  // ...but cannot create or touch owners.
  EXPECT_EQ(AuthorizeRoleChange(false, Role::kMaintainer, Role::kEditor, Role::kOwner).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthorizeRoleChange(false, Role::kMaintainer, Role::kOwner, std::nullopt).code(),
            absl::StatusCode::kPermissionDenied);
  // Editors cannot manage members at all.
  EXPECT_EQ(AuthorizeRoleChange(false, Role::kEditor, std::nullopt, Role::kViewer).code(),
            absl::StatusCode::kPermissionDenied);
  // Owners and admins can do anything.
  EXPECT_TRUE(AuthorizeRoleChange(false, Role::kOwner, Role::kOwner, Role::kViewer).ok());
  EXPECT_TRUE(AuthorizeRoleChange(true, std::nullopt, Role::kOwner, std::nullopt).ok());
}

}  // namespace
}  // namespace kade
