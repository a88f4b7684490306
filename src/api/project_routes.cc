// Projects and their members (role bindings).
#include "absl/strings/str_cat.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"

namespace kade {

namespace S = schema;

namespace {
absl::StatusOr<Role> RoleField(const Json& body) {
  ASSIGN_OR_RETURN(std::string role_name, RequiredString(body, "role"));
  std::optional<Role> role = ParseRole(role_name);
  if (!role) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'role' is '", role_name, "'; use one of viewer, editor, maintainer, owner"));
  }
  return *role;
}
}  // namespace

void RegisterProjectRoutes(Router& r) {
  Platform* p = r.platform();

  r.Add("GET", "/api/v1/projects", Permission::kAuthenticated, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto views, p->projects->List(rc.ctx.principal));
          Json arr = Json::array();
          for (const auto& v : views) arr.push_back(ProjectToJson(v.project, v.role));
          return HttpResponse::MakeJson(200, Json{{"projects", arr}});
        })
      .Doc("Projects the caller has a role in (admins: all)",
           S::Obj({{"projects", S::Arr(S::Ref("Project"))}}));

  r.Add("POST", "/api/v1/projects", Permission::kAuthenticated, "project.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "description"}));
          ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
          ASSIGN_OR_RETURN(Project created, p->projects->Create(rc.ctx, name, desc.value_or("")));
          return HttpResponse::MakeJson(201, ProjectToJson(created, Role::kOwner));
        })
      .Doc("Create a project (the caller owns it)", S::Ref("Project"),
           S::Obj({{"name", S::Str()}, {"description", S::Str()}}, {"name"}), 201);

  r.Add("GET", "/api/v1/projects/{project}", Permission::kProjectView, "",
        [](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          return HttpResponse::MakeJson(200, ProjectToJson(rc.project->project, rc.project->role));
        })
      .Doc("A project", S::Ref("Project"));

  r.Add("DELETE", "/api/v1/projects/{project}", Permission::kProjectOwn, "project.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->projects->Delete(rc.ctx, rc.project_record()));
          return HttpResponse::MakeJson(
              200, Json{{"name", rc.project_record().name}, {"status", "deleted"}});
        })
      .Doc("Delete a project and everything in it (owners)", S::Empty());

  r.Add("GET", "/api/v1/projects/{project}/members", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto members, p->projects->Members(rc.project_record()));
          Json arr = Json::array();
          for (const auto& m : members) arr.push_back(MembershipToJson(m));
          return HttpResponse::MakeJson(200, Json{{"members", arr}});
        })
      .Doc("Members and their roles", S::Obj({{"members", S::Arr(S::Ref("Member"))}}));

  r.Add("POST", "/api/v1/projects/{project}/members", Permission::kProjectManage, "member.add",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"user", "role"}));
          ASSIGN_OR_RETURN(std::string user, RequiredString(body, "user"));
          ASSIGN_OR_RETURN(Role role, RoleField(body));
          ASSIGN_OR_RETURN(Membership m, p->projects->SetMember(rc.ctx, *rc.project, user, role));
          return HttpResponse::MakeJson(200, MembershipToJson(m));
        })
      .Doc("Add a member", S::Ref("Member"), S::Ref("Member"), 201);

  r.Add("PUT", "/api/v1/projects/{project}/members/{user}", Permission::kProjectManage,
        "member.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"role"}));
          ASSIGN_OR_RETURN(Role role, RoleField(body));
          ASSIGN_OR_RETURN(Membership m,
                           p->projects->SetMember(rc.ctx, *rc.project, rc.Param("user"), role));
          return HttpResponse::MakeJson(200, MembershipToJson(m));
        })
      .Doc("Change a member's role", S::Ref("Member"),
           S::Obj({{"role", S::Enum({"viewer", "editor", "maintainer", "owner"})}}, {"role"}));

  r.Add("DELETE", "/api/v1/projects/{project}/members/{user}", Permission::kProjectManage,
        "member.remove",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->projects->RemoveMember(rc.ctx, *rc.project, rc.Param("user")));
          return HttpResponse::MakeJson(200,
                                        Json{{"user", rc.Param("user")}, {"status", "removed"}});
        })
      .Doc("Remove a member", S::Empty());
}

}  // namespace kade
