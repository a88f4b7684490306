// Users and API tokens.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {

namespace S = schema;

namespace {
absl::StatusOr<std::optional<int64_t>> ParseExpiry(const Json& body) {
  ASSIGN_OR_RETURN(auto in_s, OptionalInt(body, "expires_in_seconds"));
  ASSIGN_OR_RETURN(auto at, OptionalString(body, "expires_at"));
  if (in_s && at) {
    return absl::InvalidArgumentError("give either 'expires_in_seconds' or 'expires_at', not both");
  }
  if (in_s) {
    if (*in_s <= 0 || *in_s > int64_t{10} * 365 * 86400) {
      return absl::InvalidArgumentError(
          "field 'expires_in_seconds' must be between 1 and 315360000 (ten years)");
    }
    return std::optional<int64_t>(NowMillis() + *in_s * 1000);
  }
  if (at) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, *at, &t, &err)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field 'expires_at' is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z): ", err));
    }
    return std::optional<int64_t>(absl::ToUnixMillis(t));
  }
  return std::optional<int64_t>();
}
}  // namespace

void RegisterUserRoutes(Router& r) {
  Platform* p = r.platform();

  r.Add("GET", "/api/v1/users", Permission::kAdmin, "",
        [p](RouteContext&) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto users, p->auth->ListUsers());
          Json arr = Json::array();
          for (const auto& u : users) arr.push_back(UserToJson(u));
          return HttpResponse::MakeJson(200, Json{{"users", arr}});
        })
      .Doc("List users (admins)", S::Obj({{"users", S::Arr(S::Ref("User"))}}));

  r.Add("POST", "/api/v1/users", Permission::kAdmin, "user.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "display_name", "email", "admin"}));
          User u;
          ASSIGN_OR_RETURN(u.name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(auto display, OptionalString(body, "display_name"));
          ASSIGN_OR_RETURN(auto email, OptionalString(body, "email"));
          ASSIGN_OR_RETURN(auto admin, OptionalBool(body, "admin"));
          u.display_name = display.value_or("");
          u.email = email.value_or("");
          u.is_admin = admin.value_or(false);
          ASSIGN_OR_RETURN(User created, p->auth->CreateUser(rc.ctx, u));
          return HttpResponse::MakeJson(201, UserToJson(created));
        })
      .Doc("Create a user (admins)", S::Ref("User"),
           S::Obj({{"name", S::Str()},
                   {"display_name", S::Str()},
                   {"email", S::Str()},
                   {"admin", S::Bool()}},
                  {"name"}),
           201);

  r.Add("GET", "/api/v1/users/{user}", Permission::kAuthenticated, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          const std::string& name = rc.Param("user");
          if (name != rc.ctx.principal.user_name && !rc.ctx.principal.is_admin) {
            return absl::NotFoundError(absl::StrCat("user '", name, "' not found"));
          }
          ASSIGN_OR_RETURN(User u, p->auth->GetUser(name));
          return HttpResponse::MakeJson(200, UserToJson(u));
        })
      .Doc("A user (admins, or the user)", S::Ref("User"));

  r.Add("PATCH", "/api/v1/users/{user}", Permission::kAuthenticated, "user.update",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(
              body, {"display_name", "email", "admin", "disabled", "default_project"}));
          UserUpdate u;
          ASSIGN_OR_RETURN(u.display_name, OptionalString(body, "display_name"));
          ASSIGN_OR_RETURN(u.email, OptionalString(body, "email"));
          ASSIGN_OR_RETURN(u.admin, OptionalBool(body, "admin"));
          ASSIGN_OR_RETURN(u.disabled, OptionalBool(body, "disabled"));
          ASSIGN_OR_RETURN(u.default_project, OptionalString(body, "default_project"));
          // Others' users do not exist for a non-admin (the service allows only their own).
          if (!rc.ctx.principal.is_admin && rc.Param("user") != rc.ctx.principal.user_name) {
            return absl::PermissionDeniedError("only admins change other users");
          }
          ASSIGN_OR_RETURN(User updated, p->auth->UpdateUser(rc.ctx, rc.Param("user"), u));
          return HttpResponse::MakeJson(200, UserToJson(updated));
        })
      .Doc("Change a user (admins; users their own default_project)", S::Ref("User"),
           S::Obj({{"display_name", S::Str()},
                   {"email", S::Str()},
                   {"admin", S::Bool()},
                   {"disabled", S::Bool()},
                   {"default_project", S::Str()}}));

  r.Add("GET", "/api/v1/tokens", Permission::kAuthenticated, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          std::string user = rc.request->Query("user").value_or("");
          ASSIGN_OR_RETURN(auto tokens, p->auth->ListTokens(rc.ctx, user));
          Json arr = Json::array();
          for (const auto& t : tokens) arr.push_back(TokenToJson(t));
          return HttpResponse::MakeJson(200, Json{{"tokens", arr}});
        })
      .Doc("List tokens: yours, or a user's (admins; user=* for all)",
           S::Obj({{"tokens", S::Arr(S::Ref("Token"))}}))
      .Query("user", S::Str(), "");

  r.Add("POST", "/api/v1/tokens", Permission::kAuthenticated, "token.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(
              RejectUnknownFields(body, {"name", "user", "expires_in_seconds", "expires_at"}));
          ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(auto user, OptionalString(body, "user"));
          ASSIGN_OR_RETURN(auto expires, ParseExpiry(body));
          ASSIGN_OR_RETURN(IssuedToken t,
                           p->auth->CreateToken(rc.ctx, user.value_or(""), name, expires));
          Json j = TokenToJson(t.token);
          j["token"] = t.secret;
          j["note"] = "store this token now: it is shown only once";
          return HttpResponse::MakeJson(201, j);
        })
      .Doc("Issue a token (shown once)", S::Ref("Token"),
           S::Obj({{"name", S::Str()},
                   {"user", S::Str()},
                   {"expires_in_seconds", S::Int()},
                   {"expires_at", S::Time()}},
                  {"name"}),
           201);

  r.Add("DELETE", "/api/v1/tokens/{id}", Permission::kAuthenticated, "token.revoke",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          int64_t id = 0;
          if (!absl::SimpleAtoi(rc.Param("id"), &id) || id <= 0) {
            return absl::InvalidArgumentError(
                absl::StrCat("token id '", rc.Param("id"), "' is not a positive integer"));
          }
          RETURN_IF_ERROR(p->auth->RevokeToken(rc.ctx, id));
          return HttpResponse::MakeJson(200, Json{{"id", id}, {"status", "revoked"}});
        })
      .Doc("Revoke a token", S::Empty());
}

}  // namespace kade
