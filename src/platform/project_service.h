// Projects (the unit of access) and their role bindings.
//
// Thread safety: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/json.h"
#include "platform/context.h"
#include "store/metadata.h"

namespace kade {

// A project as seen by one caller: the project and the caller's role in it (none for an
// admin without a binding).
struct ProjectView {
  Project project;
  std::optional<Role> role;
};

class ProjectService {
 public:
  explicit ProjectService(MetadataStore* store) : store_(store) {}

  // Looks a project up for `who`. Unknown projects and projects the caller has no role in
  // (unless admin) are both NotFound.
  absl::StatusOr<ProjectView> Resolve(const Principal& who, absl::string_view name);

  // Creates a project; the creator becomes its owner.
  absl::StatusOr<Project> Create(const RequestContext& ctx, absl::string_view name,
                                 absl::string_view description);
  // Projects the caller is a member of (all projects for admins).
  absl::StatusOr<std::vector<ProjectView>> List(const Principal& who);
  absl::Status Delete(const RequestContext& ctx, const Project& project);

  absl::StatusOr<std::vector<Membership>> Members(const Project& project);
  // Adds a member or changes their role. `actor_role` is the caller's role in the project.
  absl::StatusOr<Membership> SetMember(const RequestContext& ctx, const ProjectView& project,
                                       absl::string_view user_name, Role role);
  absl::Status RemoveMember(const RequestContext& ctx, const ProjectView& project,
                            absl::string_view user_name);

 private:
  MetadataStore* store_;
};

Json ProjectToJson(const Project& p, std::optional<Role> role);
Json MembershipToJson(const Membership& m);

}  // namespace kade
