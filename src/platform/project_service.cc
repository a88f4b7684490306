#include "platform/project_service.h"
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "platform/policy.h"

namespace kade {

void ProjectService::DropCache() {
  absl::MutexLock l(&cache_mu_);
  cache_.clear();
  ++generation_;  // a lookup that read before the change does not store its answer
}

absl::StatusOr<ProjectView> ProjectService::Resolve(const Principal& who, absl::string_view name) {
  const int64_t now = NowMillis();
  std::tuple<int64_t, bool, std::string> key{who.user_id, who.is_admin, std::string(name)};
  uint64_t generation = 0;
  if (cache_ttl_s_ > 0) {
    absl::MutexLock l(&cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (now - it->second.loaded_at < cache_ttl_s_ * 1000LL) return it->second.view;
      cache_.erase(it);
    }
    generation = generation_;
  }
  ProjectView view;
  bool found = false;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto p, tx.projects().FindByName(name));
    if (!p) return absl::OkStatus();
    ASSIGN_OR_RETURN(view.role, tx.members().RoleOf(p->id, who.user_id));
    view.project = std::move(*p);
    found = true;
    return absl::OkStatus();
  }));
  if (!found || (!view.role && !who.is_admin)) {
    return absl::NotFoundError(absl::StrCat("project '", name, "' not found"));
  }
  if (cache_ttl_s_ > 0) {
    absl::MutexLock l(&cache_mu_);
    if (generation == generation_) {
      if (cache_.size() >= 10000) cache_.clear();  // bounded: many users x projects
      cache_[std::move(key)] = Cached{view, now};
    }
  }
  return view;
}

absl::StatusOr<Project> ProjectService::Create(const RequestContext& ctx, absl::string_view name,
                                               absl::string_view description) {
  RETURN_IF_ERROR(ValidateName("project", name));
  if (description.size() > 4000) {
    return absl::InvalidArgumentError("description is longer than 4000 characters");
  }
  Project created;
  DropCache();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    Project p;
    p.name = std::string(name);
    p.description = std::string(description);
    p.created_at = NowMillis();
    p.created_by = ctx.principal.user_name;
    ASSIGN_OR_RETURN(created, tx.projects().Create(p));
    if (ctx.principal.user_id != 0) {
      RETURN_IF_ERROR(
          tx.members().Upsert(created.id, ctx.principal.user_id, Role::kOwner, p.created_at));
    }
    RETURN_IF_ERROR(AuditLog::AppendInTx(tx, ctx,
                                         {"project.create", absl::StrCat("project/", name),
                                          std::string(name), Json{{"description", description}}}));
    // Every project has MLflow's "Default" experiment (experiment 0 on its MLflow URI).
    Experiment e;
    e.project_id = created.id;
    e.name = kDefaultExperiment;
    e.created_at = e.updated_at = p.created_at;
    ASSIGN_OR_RETURN(Experiment made, tx.tracking().CreateExperiment(e));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"experiment.create", absl::StrCat("project/", name, "/experiment/", made.id),
         std::string(name), Json{{"name", kDefaultExperiment}}});
  }));
  return created;
}

absl::StatusOr<std::vector<ProjectView>> ProjectService::List(const Principal& who) {
  std::vector<ProjectView> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    std::vector<Project> projects;
    if (who.is_admin) {
      ASSIGN_OR_RETURN(projects, tx.projects().ListAll());
    } else {
      ASSIGN_OR_RETURN(projects, tx.projects().ListForUser(who.user_id));
    }
    for (auto& p : projects) {
      ASSIGN_OR_RETURN(auto role, tx.members().RoleOf(p.id, who.user_id));
      out.push_back({std::move(p), role});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status ProjectService::Delete(const RequestContext& ctx, const Project& project) {
  absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.projects().Delete(project.id));
    return AuditLog::AppendInTx(
        tx, ctx, {"project.delete", absl::StrCat("project/", project.name), project.name});
  });
  DropCache();
  return s;
}

absl::StatusOr<std::vector<Membership>> ProjectService::Members(const Project& project) {
  std::vector<Membership> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.members().List(project.id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Membership> ProjectService::SetMember(const RequestContext& ctx,
                                                     const ProjectView& view,
                                                     absl::string_view user_name, Role role) {
  Membership result;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(user_name));
    if (!user) return absl::NotFoundError(absl::StrCat("user '", user_name, "' not found"));
    ASSIGN_OR_RETURN(auto current, tx.members().RoleOf(view.project.id, user->id));
    RETURN_IF_ERROR(AuthorizeRoleChange(ctx.principal.is_admin, view.role, current, role));
    if (current == Role::kOwner && role != Role::kOwner) {
      ASSIGN_OR_RETURN(int64_t owners, tx.members().CountWithRole(view.project.id, Role::kOwner));
      if (owners <= 1) {
        return absl::FailedPreconditionError(
            absl::StrCat("'", user_name, "' is the last owner of project '", view.project.name,
                         "'; make someone else owner first"));
      }
    }
    int64_t now = NowMillis();
    RETURN_IF_ERROR(tx.members().Upsert(view.project.id, user->id, role, now));
    result = Membership{view.project.id, user->id, user->name, view.project.name, role, now};
    Json detail{{"user", user->name}, {"role", RoleName(role)}};
    if (current) detail["previous_role"] = RoleName(*current);
    return AuditLog::AppendInTx(
        tx, ctx,
        {current ? "member.update" : "member.add",
         absl::StrCat("project/", view.project.name, "/member/", user->name), view.project.name,
         detail});
  }));
  DropCache();
  return result;
}

absl::Status ProjectService::RemoveMember(const RequestContext& ctx, const ProjectView& view,
                                          absl::string_view user_name) {
  absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(user_name));
    std::optional<Role> current;
    if (user) {
      ASSIGN_OR_RETURN(current, tx.members().RoleOf(view.project.id, user->id));
    }
    if (!user || !current) {
      return absl::NotFoundError(absl::StrCat("user '", user_name, "' is not a member of project '",
                                              view.project.name, "'"));
    }
    RETURN_IF_ERROR(AuthorizeRoleChange(ctx.principal.is_admin, view.role, current, std::nullopt));
    if (current == Role::kOwner) {
      ASSIGN_OR_RETURN(int64_t owners, tx.members().CountWithRole(view.project.id, Role::kOwner));
      if (owners <= 1) {
        return absl::FailedPreconditionError(
            absl::StrCat("'", user_name, "' is the last owner of project '", view.project.name,
                         "'; a project must keep at least one owner"));
      }
    }
    RETURN_IF_ERROR(tx.members().Remove(view.project.id, user->id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"member.remove", absl::StrCat("project/", view.project.name, "/member/", user->name),
         view.project.name, Json{{"user", user->name}, {"previous_role", RoleName(*current)}}});
  });
  DropCache();
  return s;
}

Json ProjectToJson(const Project& p, std::optional<Role> role) {
  return Json{{"name", p.name},
              {"description", p.description},
              {"created_at", FormatRfc3339Millis(p.created_at)},
              {"created_by", p.created_by},
              {"role", role ? Json(RoleName(*role)) : Json(nullptr)}};
}

Json MembershipToJson(const Membership& m) {
  return Json{{"user", m.user_name},
              {"project", m.project_name},
              {"role", RoleName(m.role)},
              {"since", FormatRfc3339Millis(m.created_at)}};
}

}  // namespace kade
