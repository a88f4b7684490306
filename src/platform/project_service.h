// Projects (the unit of access) and their role bindings.
//
// Thread safety: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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

// The experiment every project has, which MLflow's clients call experiment 0.
inline constexpr const char* kDefaultExperiment = "Default";

class ProjectService {
 public:
  // `cache_ttl_s`: how long a resolved project and role are reused (0: never). Changes made
  // through this service drop the cache at once; changes made by another server sharing
  // the store are seen within the TTL (as for tokens, see AuthOptions::cache_ttl_s).
  explicit ProjectService(MetadataStore* store, int cache_ttl_s = 5)
      : store_(store), cache_ttl_s_(cache_ttl_s) {}

  // Looks a project up for `who`. Unknown projects and projects the caller has no role in
  // (unless admin) are both NotFound. Every API call on a project asks this, so found
  // answers are cached (see the constructor).
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

  // Forgets cached lookups; for code that changes projects or memberships in the store
  // directly (a serving replica mirroring them).
  void DropCache();

 private:
  MetadataStore* store_;
  int cache_ttl_s_;
  struct Cached {
    ProjectView view;
    int64_t loaded_at;
  };
  absl::Mutex cache_mu_;
  uint64_t generation_ ABSL_GUARDED_BY(cache_mu_) = 0;
  // Key: user id, admin flag, project name.
  absl::flat_hash_map<std::tuple<int64_t, bool, std::string>, Cached> cache_
      ABSL_GUARDED_BY(cache_mu_);
};

Json ProjectToJson(const Project& p, std::optional<Role> role);
Json MembershipToJson(const Membership& m);

}  // namespace kade
