#include "api/mlflow_common.h"

#include "platform/project_service.h"

namespace kade::mlflow {
namespace {

std::string PersonalProject(const std::string& user) {
  return absl::StrCat(user.substr(0, 58), "-home");
}

// The name of the caller's default project (it may not exist yet).
absl::StatusOr<std::string> DefaultProjectName(Platform* p, const RouteContext& rc) {
  const Principal& who = rc.ctx.principal;
  if (who.user_name.empty()) return std::string();
  ASSIGN_OR_RETURN(User u, p->auth->GetUser(who.user_name));
  return u.default_project.empty() ? PersonalProject(u.name) : u.default_project;
}

}  // namespace

absl::StatusOr<Scope> ScopeOf(Platform* p, const RouteContext& rc) {
  Scope s;
  const std::string& name = rc.Param("project");
  if (!name.empty()) {
    ASSIGN_OR_RETURN(ProjectView v, p->projects->Resolve(rc.ctx.principal, name));
    s.project = v.project;
  } else {
    ASSIGN_OR_RETURN(s.default_project, DefaultProjectName(p, rc));
  }
  return s;
}

absl::StatusOr<ProjectView> DefaultProject(Platform* p, const RouteContext& rc, bool create) {
  ASSIGN_OR_RETURN(std::string name, DefaultProjectName(p, rc));
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "this token has no user, so no default project: name experiments and models "
        "PROJECT/NAME, or use the tracking URI http://HOST/projects/PROJECT");
  }
  auto v = p->projects->Resolve(rc.ctx.principal, name);
  if (v.ok() || !absl::IsNotFound(v.status()) || !create) return v;
  ASSIGN_OR_RETURN(User u, p->auth->GetUser(rc.ctx.principal.user_name));
  if (!u.default_project.empty()) {
    return absl::NotFoundError(
        absl::StrCat("your default project '", name,
                     "' does not exist or is not yours to use; ask an admin, or set another with "
                     "PATCH /api/v1/users/",
                     u.name, " {\"default_project\": ...}"));
  }
  // The personal project, made on first use; the caller owns it.
  auto made = p->projects->Create(rc.ctx, name, absl::StrCat("Personal project of ", u.name));
  if (!made.ok() && !absl::IsAlreadyExists(made.status())) return made.status();
  return p->projects->Resolve(rc.ctx.principal, name);
}

absl::StatusOr<std::pair<ProjectView, std::string>> ProjectAndName(
    Platform* p, const RouteContext& rc, const Scope& scope, const std::string& name, bool create) {
  if (scope.project) {
    ASSIGN_OR_RETURN(ProjectView v, p->projects->Resolve(rc.ctx.principal, scope.project->name));
    return std::make_pair(std::move(v), name);
  }
  size_t slash = name.find('/');
  if (slash == std::string::npos) {
    ASSIGN_OR_RETURN(ProjectView v, DefaultProject(p, rc, create));
    return std::make_pair(std::move(v), name);
  }
  if (slash == 0 || slash + 1 == name.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid value ", name, " for parameter 'name' supplied: use NAME or PROJECT/NAME"));
  }
  ASSIGN_OR_RETURN(ProjectView v, p->projects->Resolve(rc.ctx.principal, name.substr(0, slash)));
  return std::make_pair(std::move(v), name.substr(slash + 1));
}

absl::StatusOr<int64_t> ExperimentId(Platform* p, const RouteContext& rc, const Scope& scope,
                                     int64_t id, bool create) {
  if (id != 0) return id;
  ProjectView project;
  if (scope.project) {
    ASSIGN_OR_RETURN(project, p->projects->Resolve(rc.ctx.principal, scope.project->name));
  } else {
    auto v = DefaultProject(p, rc, create);
    if (!v.ok() && absl::IsNotFound(v.status())) {
      return absl::NotFoundError("No Experiment with id=0 exists");
    }
    RETURN_IF_ERROR(v.status());
    project = *std::move(v);
  }
  auto e = p->tracking->GetExperimentByName(rc.ctx.principal, project.project, kDefaultExperiment);
  if (e.ok()) return e->id;
  if (!absl::IsNotFound(e.status()) || !create) {
    return absl::IsNotFound(e.status()) ? absl::NotFoundError("No Experiment with id=0 exists")
                                        : e.status();
  }
  ASSIGN_OR_RETURN(Experiment made,
                   p->tracking->CreateExperiment(rc.ctx, project.project, kDefaultExperiment, {}));
  return made.id;
}

}  // namespace kade::mlflow
