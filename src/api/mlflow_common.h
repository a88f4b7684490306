// Shared by the MLflow tracking and registry routes: request fields from the query string
// or the JSON body, key/value lists, and the scope of a call (the root URI or a project's).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/router.h"
#include "core/status.h"

namespace kade::mlflow {

// Request fields come from the query string (GET) or the JSON body (POST).
class Fields {
 public:
  static absl::StatusOr<Fields> From(const RouteContext& rc) {
    Fields f;
    if (rc.request->method == "GET") {
      f.body_ = Json::object();
      for (const auto& [k, v] : rc.request->query) {
        if (f.body_.contains(k)) {
          if (!f.body_[k].is_array()) f.body_[k] = Json::array({f.body_[k]});
          f.body_[k].push_back(v);
        } else {
          f.body_[k] = v;
        }
      }
    } else {
      ASSIGN_OR_RETURN(f.body_, rc.JsonBody());
    }
    return f;
  }
  const Json& body() const { return body_; }
  absl::StatusOr<std::string> Str(const char* k, bool required) const {
    if (!body_.contains(k) || body_[k].is_null()) {
      if (required)
        return absl::InvalidArgumentError(
            absl::StrCat("Missing value for required parameter '", k, "'."));
      return std::string();
    }
    const Json& v = body_[k];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    return Invalid(v, k);
  }
  // MLflow names a run "run_id", or "run_uuid" in older clients.
  absl::StatusOr<std::string> RunId() const {
    ASSIGN_OR_RETURN(std::string id, Str("run_id", false));
    if (!id.empty()) return id;
    ASSIGN_OR_RETURN(id, Str("run_uuid", false));
    if (!id.empty()) return id;
    return Str("run_id", true);
  }
  absl::StatusOr<std::optional<int64_t>> Int(const char* k) const {
    if (!body_.contains(k) || body_[k].is_null()) return std::optional<int64_t>();
    const Json& v = body_[k];
    int64_t out = 0;
    if (v.is_number_integer()) return std::optional<int64_t>(v.get<int64_t>());
    if (v.is_string() && absl::SimpleAtoi(v.get<std::string>(), &out))
      return std::optional<int64_t>(out);
    return Invalid(v, k);
  }
  absl::StatusOr<int64_t> Id(const char* k) const {
    ASSIGN_OR_RETURN(std::string s, Str(k, true));
    int64_t id = 0;
    if (!absl::SimpleAtoi(s, &id) || id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", k, "' is not a valid id: '", s, "'"));
    }
    return id;
  }

 private:
  // MLflow's wording for a value of the wrong type.
  static absl::Status Invalid(const Json& v, const char* k) {
    std::string shown = v.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value ", shown, " for parameter '", k, "' supplied"));
  }
  Json body_;
};

inline absl::StatusOr<std::vector<std::pair<std::string, std::string>>> KeyValues(
    const Json& body, const char* field) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!body.contains(field) || body[field].is_null()) return out;
  // MLflow's wording: "Invalid value … for parameter 'tags' supplied", "Missing value for
  // required parameter 'tags[0].key'."
  auto invalid = [](const Json& v, const std::string& where) {
    std::string shown = v.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value ", shown, " for parameter '", where, "' supplied"));
  };
  if (!body[field].is_array()) return invalid(body[field], field);
  for (size_t i = 0; i < body[field].size(); ++i) {
    const Json& kv = body[field][i];
    const std::string where = absl::StrCat(field, "[", i, "]");
    if (!kv.is_object()) return invalid(kv, where);
    if (!kv.contains("key") || kv["key"].is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Missing value for required parameter '", where, ".key'."));
    }
    if (!kv["key"].is_string()) return invalid(kv["key"], where + ".key");
    std::string value;
    if (kv.contains("value") && !kv["value"].is_null()) {
      if (kv["value"].is_string())
        value = kv["value"].get<std::string>();
      else
        value = kv["value"].dump();
    }
    out.emplace_back(kv["key"].get<std::string>(), value);
  }
  return out;
}

inline Json KvJson(const std::vector<std::pair<std::string, std::string>>& kvs) {
  Json arr = Json::array();
  for (const auto& [k, v] : kvs) arr.push_back(Json{{"key", k}, {"value", v}});
  return arr;
}

// Where a call's plain names live: the project of /projects/{p}/api/2.0/mlflow, or on the
// root URI the caller's default project (docs/tracking.md): the one set on the user, else a
// personal project "<user>-home", created on first use. Names in other projects are
// PROJECT/NAME on the root URI.
struct Scope {
  std::optional<Project> project;  // set on /projects/{p}/api/2.0/mlflow/...
  std::string default_project;     // on the root URI: the name of the caller's default project
  bool Plain(const std::string& project_name) const {
    return project ? true : project_name == default_project;
  }
  std::string DisplayName(const std::string& name, const std::string& project_name) const {
    return Plain(project_name) ? name : absl::StrCat(project_name, "/", name);
  }
  std::string DisplayName(const Experiment& e, const std::string& project_name) const {
    return DisplayName(e.name, project_name);
  }
};

absl::StatusOr<Scope> ScopeOf(Platform* p, const RouteContext& rc);

// The caller's default project on the root URI; `create` makes the personal project when
// it does not exist yet (a write: experiments/create, runs/create, registered-models/create).
absl::StatusOr<ProjectView> DefaultProject(Platform* p, const RouteContext& rc, bool create);

// The project and plain name of a name a client gave: on a project's URI the name itself;
// on the root URI "PROJECT/NAME", or a plain name in the default project.
absl::StatusOr<std::pair<ProjectView, std::string>> ProjectAndName(
    Platform* p, const RouteContext& rc, const Scope& scope, const std::string& name, bool create);

// MLflow's experiment 0 is the scope's Default experiment; other ids are themselves.
absl::StatusOr<int64_t> ExperimentId(Platform* p, const RouteContext& rc, const Scope& scope,
                                     int64_t id, bool create);

// Registers `h` at `path` under both MLflow prefixes (/api/2.0/mlflow and
// /projects/{project}/api/2.0/mlflow), answering errors as MLflow does. Writes (a non-empty
// action) run on the blocking pool; a read registered as POST is also served as GET.
inline RouteGroup AddBoth(Router& r, const std::string& method, const std::string& path,
                          const std::string& action, Handler h) {
  RouteGroup group;
  for (const std::string& prefix :
       {std::string("/api/2.0/mlflow"), std::string("/projects/{project}/api/2.0/mlflow")}) {
    Route& route = r.Add(method, prefix + path, Permission::kAuthenticated, action, h);
    group.routes.push_back(&route);
    route.mlflow_errors = true;
    // Writes wait for a group commit: run them on the blocking pool so many can be in
    // flight and share one commit, instead of holding an event-loop thread each.
    route.blocking = !action.empty();
    if (method == "POST" && action.empty()) {
      Route& get = r.Add("GET", prefix + path, Permission::kAuthenticated, action, h);
      get.mlflow_errors = true;
      group.routes.push_back(&get);
    }
  }
  return group;
}

}  // namespace kade::mlflow
