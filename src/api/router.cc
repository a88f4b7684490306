#include "api/router.h"
#include "absl/strings/string_view.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log_throttle.h"
#include "core/status.h"
#include "spdlog/spdlog.h"

namespace kade {

const std::string& RouteContext::Param(absl::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return kEmpty;
}

namespace {
std::vector<std::string> SplitPath(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

// An MLflow REST path, at the root or under a project: /api/2.0/mlflow/...,
// /ajax-api/2.0/mlflow/..., /projects/{p}/api/2.0/mlflow/...
bool IsMlflowPath(absl::string_view path) {
  if (absl::ConsumePrefix(&path, "/projects/")) {
    size_t slash = path.find('/');
    if (slash == absl::string_view::npos) return false;
    path = path.substr(slash);
  }
  return absl::StartsWith(path, "/api/2.0/mlflow/") ||
         absl::StartsWith(path, "/ajax-api/2.0/mlflow/");
}
}  // namespace

namespace {
bool IsParam(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}
bool IsRest(const std::string& seg) { return IsParam(seg) && seg[seg.size() - 2] == '*'; }

// Whether the path's segments fit the route's shape: literals equal, one segment per
// parameter, a rest parameter taking one or more. No allocation: most routes fail here.
bool Fits(const std::vector<std::string>& pattern, const std::vector<absl::string_view>& segs) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (i >= segs.size()) return false;
    if (IsParam(p)) {
      if (IsRest(p)) return true;
      continue;
    }
    if (segs[i] != p) return false;
  }
  return pattern.size() == segs.size();
}
}  // namespace

Route& Router::Add(std::string method, std::string pattern, Permission permission,
                   std::string audit_action, Handler handler) {
  auto r = std::make_unique<Route>();
  r->method = std::move(method);
  r->segments = SplitPath(pattern);
  r->pattern = std::move(pattern);
  r->permission = permission;
  r->audit_action = std::move(audit_action);
  r->handler = std::move(handler);
  const size_t index = routes_.size();
  const size_t n = r->segments.size();
  if (n > 0 && IsRest(r->segments.back())) {
    with_rest_.push_back(index);
  } else {
    if (by_length_.size() <= n) by_length_.resize(n + 1);
    by_length_[n].push_back(index);
  }
  routes_.push_back(std::move(r));
  return *routes_.back();
}

Route& Router::AddUpload(std::string method, std::string pattern, Permission permission,
                         std::string audit_action, UploadHandler handler) {
  Route& r =
      Add(std::move(method), std::move(pattern), permission, std::move(audit_action), nullptr);
  r.upload = std::move(handler);
  r.blocking = true;
  return r;
}

Route& Router::AddDeferred(std::string method, std::string pattern, Permission permission,
                           std::string audit_action, DeferredHandler handler) {
  // The synchronous form (a thread waits for the commit) serves callers that are not the
  // server's event loop.
  Handler sync = [this, handler](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
    ASSIGN_OR_RETURN(DeferredWrite w, handler(rc));
    RETURN_IF_ERROR(platform_->store->Write(w.change));
    return w.respond();
  };
  Route& r = Add(std::move(method), std::move(pattern), permission, std::move(audit_action),
                 std::move(sync));
  r.deferred = std::move(handler);
  return r;
}

RouteMatch Router::Match(absl::string_view method, absl::string_view path) const {
  RouteMatch m;
  std::vector<absl::string_view> segs = absl::StrSplit(path, '/', absl::SkipEmpty());
  bool path_matched = false;
  // Candidates in registration order (the first route that fits wins): those with exactly
  // as many segments, merged with those that end in a rest parameter.
  static const std::vector<size_t> kNone;
  const std::vector<size_t>& exact =
      segs.size() < by_length_.size() ? by_length_[segs.size()] : kNone;
  size_t a = 0, b = 0;
  while (a < exact.size() || b < with_rest_.size()) {
    size_t index;
    if (b >= with_rest_.size() || (a < exact.size() && exact[a] < with_rest_[b])) {
      index = exact[a++];
    } else {
      index = with_rest_[b++];
    }
    const auto& r = routes_[index];
    if (!Fits(r->segments, segs)) continue;
    path_matched = true;
    if (r->method != method && !(method == "HEAD" && r->method == "GET")) continue;
    // The route: decode its parameters.
    for (size_t i = 0; i < r->segments.size(); ++i) {
      const std::string& p = r->segments[i];
      if (!IsParam(p)) continue;
      std::string name = p.substr(1, p.size() - 2);
      if (IsRest(p)) {
        // Rest of the path: decoded segment by segment, joined with '/'.
        std::vector<std::string> parts;
        for (size_t k = i; k < segs.size(); ++k) {
          std::string d;
          if (auto s = PercentDecode(segs[k], &d, false); !s.ok()) {
            m.error = s;
            return m;
          }
          parts.push_back(std::move(d));
        }
        // Keep a trailing slash visible so validation can reject it.
        std::string rest = absl::StrJoin(parts, "/");
        if (absl::EndsWith(path, "/")) rest += "/";
        m.params.emplace_back(name.substr(0, name.size() - 1), std::move(rest));
        break;
      }
      std::string d;
      if (auto s = PercentDecode(segs[i], &d, false); !s.ok()) {
        m.error = s;
        return m;
      }
      m.params.emplace_back(std::move(name), std::move(d));
    }
    m.route = r.get();
    return m;
  }
  m.error = path_matched
                ? WithHttpStatus(absl::InvalidArgumentError(
                                     absl::StrCat("method ", method, " is not allowed on ", path)),
                                 405)
                : absl::NotFoundError(absl::StrCat("no API route for ", method, " ", path));
  return m;
}

absl::StatusOr<RouteContext> Router::Admit(const RouteMatch& match, const HttpRequest& request) {
  const Route& route = *match.route;
  RouteContext rc;
  rc.request = &request;
  rc.params = match.params;
  if (route.model_names_project) {
    for (auto& [k, v] : rc.params) {
      if (k != "model") continue;
      size_t colon = v.find(':');
      if (colon == std::string::npos) {
        return absl::NotFoundError(absl::StrCat(
            "model '", v, "': at the root, name a model as PROJECT:ENDPOINT (or use the ",
            "project's base URL /api/v1/projects/PROJECT/v2/...)"));
      }
      std::string project = v.substr(0, colon);
      v = v.substr(colon + 1);
      rc.params.emplace_back("project", project);
      break;
    }
  }
  rc.ctx.request_id = request.request_id;
  rc.ctx.remote = request.remote;
  if (route.permission == Permission::kPublic) return rc;
  absl::StatusOr<Principal> who =
      authenticator_->Authenticate(request.authorization, request.remote);
  if (!who.ok()) {
    // Throttled attempts are not written: that would let an attacker flood the log.
    if (!route.audit_action.empty() && !absl::IsResourceExhausted(who.status())) {
      AuditFailure(route, rc, who.status());
    }
    return who.status();
  }
  rc.ctx.principal = *who;

  std::string project_name;
  std::optional<Role> role;
  if (IsProjectPermission(route.permission)) {
    project_name = rc.Param("project");
    absl::StatusOr<ProjectView> view = platform_->projects->Resolve(*who, project_name);
    if (!view.ok()) {
      if (!route.audit_action.empty()) AuditFailure(route, rc, view.status());
      return view.status();
    }
    role = view->role;
    rc.project = std::move(*view);
  }
  absl::Status allowed = Authorize(*who, route.permission, role, project_name);
  if (!allowed.ok()) {
    if (!route.audit_action.empty()) AuditFailure(route, rc, allowed);
    return allowed;
  }
  return rc;
}

void Router::AuditFailure(const Route& route, const RouteContext& rc, const absl::Status& status) {
  AuditEvent ev;
  ev.action = route.audit_action;
  ev.target = rc.request ? rc.request->path : "";
  ev.project = rc.project ? rc.project->project.name : rc.Param("project");
  ev.outcome = ErrorCodeName(status.code());
  ev.detail = Json{{"error", std::string(status.message())}};
  absl::Status s = platform_->audit->Record(rc.ctx, ev);
  if (!s.ok()) spdlog::error("cannot write audit entry: {}", s.ToString());
}

HttpResponse Router::Run(const Route& route, RouteContext& rc) {
  absl::StatusOr<HttpResponse> result = absl::InternalError("handler did not run");
  try {
    result = route.handler(rc);
  } catch (const std::exception& e) {
    // Third-party code (JSON, standard library) may throw; no exception leaves the API layer.
    result = absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
  }
  return Render(route, rc, std::move(result));
}

HttpResponse Router::Render(const Route& route, const RouteContext& rc,
                            absl::StatusOr<HttpResponse> result) {
  if (!result.ok()) {
    if (!route.audit_action.empty()) AuditFailure(route, rc, result.status());
    if (HttpStatusOf(result.status()) >= 500) {
      // One line per route and error per 10 s, with the count of those held back: a
      // broken endpoint under load must not fill the disk with the same line.
      static LogThrottle throttle;
      int64_t held = 0;
      std::string msg = result.status().ToString();
      if (throttle.Allow(absl::StrCat(route.method, " ", route.pattern, " ", msg), &held)) {
        if (held > 0) {
          spdlog::error("{} {} failed: {} ({} more like it in the last interval)", route.method,
                        route.pattern, msg, held);
        } else {
          spdlog::error("{} {} failed: {}", route.method, route.pattern, msg);
        }
      }
    }
    HttpResponse r = route.mlflow_errors ? HttpResponse::MlflowError(result.status())
                                         : HttpResponse::Error(result.status());
    r.user = rc.ctx.principal.user_name;
    return r;
  }
  result->user = rc.ctx.principal.user_name;
  return *std::move(result);
}

HttpResponse Router::Handle(const HttpRequest& request, std::string* route_name) {
  RouteMatch m = Match(request.method, request.path);
  if (m.route == nullptr) {
    *route_name = "unmatched";
    if (IsMlflowPath(request.path) && absl::IsNotFound(m.error)) {
      // MLflow's clients read error_code; answer in their protocol.
      return HttpResponse::MakeJson(
          404, Json{{"error_code", "ENDPOINT_NOT_FOUND"},
                    {"message",
                     absl::StrCat("No API endpoint for ", request.method, " ", request.path)}});
    }
    return HttpResponse::Error(m.error);
  }
  *route_name = m.route->pattern;
  if (m.route->upload) {
    return HttpResponse::Error(absl::InternalError("streaming route called without a stream"));
  }
  absl::StatusOr<RouteContext> rc = Admit(m, request);
  if (!rc.ok()) {
    return m.route->mlflow_errors ? HttpResponse::MlflowError(rc.status())
                                  : HttpResponse::Error(rc.status());
  }
  return Run(*m.route, *rc);
}

}  // namespace kade
