// kade models | kade endpoints: the model registry and real-time endpoints.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {
namespace {

// Model files up to this size go inline (base64) in the import request; the default JSON
// body limit is 8 MiB and base64 adds a third.
constexpr size_t kInlineImportBytes = 5u << 20;

std::string Models(const std::string& p) { return "/api/v1/projects/" + p + "/models"; }
std::string Endpoints(const std::string& p) { return "/api/v1/projects/" + p + "/endpoints"; }

absl::StatusOr<std::string> ReadLocal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "churn@3" -> ("churn", "3"); "churn@champion" -> ("churn", "champion").
std::pair<std::string, std::string> ModelRef(const std::string& s) {
  size_t at = s.rfind('@');
  if (at == std::string::npos) return {s, ""};
  return {s.substr(0, at), s.substr(at + 1)};
}

std::string Metrics(const Json& m) {
  std::vector<std::string> parts;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it.value().is_number()) {
      parts.push_back(absl::StrFormat("%s=%.4f", it.key(), it.value().get<double>()));
    }
  }
  return absl::StrJoin(parts, " ");
}

// Traffic targets: "champion", "3", "1=90,2=10", "champion=90,challenger=10".
absl::StatusOr<Json> Targets(const std::string& spec) {
  Json targets = Json::array();
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    Json t = Json::object();
    int64_t v = 0;
    if (absl::SimpleAtoi(kv.first, &v)) {
      t["version"] = v;
    } else {
      t["alias"] = kv.first;
    }
    double w = 100;
    if (!kv.second.empty() && !absl::SimpleAtod(kv.second, &w)) {
      return absl::InvalidArgumentError(absl::StrCat("weight '", kv.second, "' is not a number"));
    }
    t["weight"] = w;
    targets.push_back(t);
  }
  if (targets.empty()) return absl::InvalidArgumentError("no traffic targets given");
  return targets;
}

void PrintEndpoint(const Json& e);

// An endpoint as the server answered it: JSON with --json, else the summary.
void ShowEndpoint(const Client& c, const Json& e) {
  if (c.json()) {
    std::cout << e.dump(2) << "\n";
  } else {
    PrintEndpoint(e);
  }
}

// Ground truth from a file: a JSON list of {request_id, label} (or {"items": [...]}), or
// CSV with the header request_id,label (fields may be double-quoted).
absl::StatusOr<Json> FeedbackItems(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadLocal(path));
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return absl::InvalidArgumentError(path + ": not valid JSON");
    if (j.is_object() && j.contains("items")) j = j["items"];
    if (!j.is_array()) {
      return absl::InvalidArgumentError(path + ": expected a list of {request_id, label}");
    }
    return j;
  }
  // CSV, one item per line after the header.
  auto field = [](absl::string_view f, std::string* out) -> bool {
    f = absl::StripAsciiWhitespace(f);
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') {
      f = f.substr(1, f.size() - 2);
      out->clear();
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '"') {
          if (i + 1 >= f.size() || f[i + 1] != '"') return false;
          ++i;
        }
        out->push_back(f[i]);
      }
      return true;
    }
    if (f.find('"') != absl::string_view::npos) return false;
    *out = std::string(f);
    return true;
  };
  Json items = Json::array();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (line_no == 1) {
      if (absl::StripAsciiWhitespace(line) != "request_id,label") {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line 1: expected the header request_id,label"));
      }
      continue;
    }
    // The request id has no comma; the label may (quoted).
    size_t comma = line.find(',');
    std::string id, label;
    if (comma == absl::string_view::npos || !field(line.substr(0, comma), &id) ||
        !field(line.substr(comma + 1), &label) || id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", line_no, ": expected request_id,label"));
    }
    items.push_back(Json{{"request_id", id}, {"label", label}});
  }
  return items;
}

void PrintEndpoint(const Json& e) {
  std::cout << "endpoint " << JsonCell(e["name"]) << " (model " << JsonCell(e["model"]) << ")\n"
            << "ready    " << (e["ready"].get<bool>() ? "yes" : "no") << "\n";
  for (const auto& t : e["config"]["targets"]) {
    std::cout << "traffic  "
              << (t.contains("alias") ? JsonCell(t["alias"]) : "v" + t["version"].dump())
              << "  weight " << t["weight"] << "\n";
  }
  for (const auto& s : e["serving"]) {
    std::cout << "serving  version " << s["version"]
              << (s.contains("alias") ? " (" + JsonCell(s["alias"]) + ")" : "") << "\n";
  }
  if (e.contains("shadow_version")) std::cout << "shadow   version " << e["shadow_version"] << "\n";
  if (e.contains("versions")) {
    for (const auto& v : e["versions"]) {
      std::string state = v.value("state", std::string("?"));
      if (state == "ready") continue;  // listed under "serving"
      std::cout << "version  " << v["version"] << "  " << state;
      if (v.contains("error")) std::cout << ": " << JsonCell(v["error"]);
      if (v.contains("next_retry_at"))
        std::cout << " (next retry " << JsonCell(v["next_retry_at"]) << ")";
      std::cout << "\n";
    }
  }
  if (e.contains("error")) std::cout << "error    " << JsonCell(e["error"]) << "\n";
}

}  // namespace

void AddRegistryCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  static std::string project;
  auto need_project = []() -> absl::Status {
    if (project.empty())
      return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
    return absl::OkStatus();
  };
  auto run = [opts, exit_code, need_project](std::function<absl::Status(Client&)> fn) {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      return fn(c);
    });
  };

  auto* models = app.add_subcommand("models", "Model registry: versions, aliases, imports");
  models->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  models->require_subcommand(1);

  models->add_subcommand("ls", "List registered models")->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", Models(project)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& m : r["models"]) {
        std::vector<std::string> aliases;
        for (auto it = m["aliases"].begin(); it != m["aliases"].end(); ++it) {
          aliases.push_back(absl::StrCat(it.key(), "=v", it.value().get<int64_t>()));
        }
        rows.push_back({JsonCell(m["name"]), JsonCell(m["latest_version"]),
                        absl::StrJoin(aliases, " "), JsonCell(m["description"])});
      }
      PrintTable({"MODEL", "LATEST", "ALIASES", "DESCRIPTION"}, rows);
      return absl::OkStatus();
    });
  });

  static std::string show_model;
  auto* show =
      models->add_subcommand("show", "A model's versions and aliases (or one version: NAME@V)");
  show->add_option("model", show_model, "NAME or NAME@VERSION|ALIAS")->required();
  show->callback([=] {
    run([&](Client& c) -> absl::Status {
      auto [name, ref] = ModelRef(show_model);
      if (!ref.empty()) {
        ASSIGN_OR_RETURN(Json v, c.Call("GET", Models(project) + "/" + name + "/versions/" + ref));
        std::cout << v.dump(2) << "\n";
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(Json m, c.Call("GET", Models(project) + "/" + name));
      if (c.json()) {
        std::cout << m.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : m["versions"]) {
        std::vector<std::string> aliases;
        for (auto it = m["aliases"].begin(); it != m["aliases"].end(); ++it) {
          if (it.value() == v["version"]) aliases.push_back(it.key());
        }
        std::string gate = v["gate_report"].contains("passed")
                               ? (v["gate_report"]["passed"].get<bool>() ? "passed" : "failed")
                               : "-";
        rows.push_back({"v" + v["version"].dump(), JsonCell(v["status"]),
                        absl::StrJoin(aliases, ","), JsonCell(v["source"]), gate,
                        Metrics(v["metrics"])});
      }
      PrintTable({"VERSION", "STATUS", "ALIASES", "SOURCE", "GATES", "METRICS"}, rows);
      return absl::OkStatus();
    });
  });

  static std::string reg_run, reg_model, reg_desc;
  auto* reg =
      models->add_subcommand("register", "Register a training run's model as a new version");
  reg->add_option("run", reg_run, "Run id")->required();
  reg->add_option("--name", reg_model, "Model name (created when missing)")->required();
  reg->add_option("--description", reg_desc, "Description of the version");
  reg->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json body{{"run_id", reg_run}, {"description", reg_desc}};
      ASSIGN_OR_RETURN(Json v,
                       c.Call("POST", Models(project) + "/" + reg_model + "/versions", &body));
      if (c.json()) {
        std::cout << v.dump(2) << "\n";
      } else {
        std::cout << "Registered " << reg_model << " version " << v["version"] << "\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string imp_file, imp_model, imp_sig, imp_dataset, imp_target, imp_desc;
  auto* imp = models->add_subcommand("import", "Import an XGBoost model file (JSON or UBJSON)");
  imp->add_option("file", imp_file, "Model file saved by xgboost (save_model)")->required();
  imp->add_option("--name", imp_model, "Model name (created when missing)")->required();
  imp->add_option("--signature", imp_sig, "JSON file with the signature's features");
  imp->add_option("--dataset", imp_dataset, "Take the signature from a dataset version NAME[@V]");
  imp->add_option("--target", imp_target, "Target column of that dataset");
  imp->add_option("--description", imp_desc, "Description of the version");
  imp->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(std::string bytes, ReadLocal(imp_file));
      Json sig;
      if (!imp_sig.empty()) {
        ASSIGN_OR_RETURN(std::string text, ReadLocal(imp_sig));
        ASSIGN_OR_RETURN(sig, ParseJsonObject(text));
      } else if (!imp_dataset.empty()) {
        auto [ds, ver] = ModelRef(imp_dataset);
        sig = Json{{"dataset", ds}, {"version", ver.empty() ? "latest" : ver}};
        if (!imp_target.empty()) sig["target"] = imp_target;
      } else {
        return absl::InvalidArgumentError(
            "give the signature with --signature FILE or --dataset NAME@V");
      }
      Json body{{"signature", sig}};
      if (bytes.size() <= kInlineImportBytes) {
        body["model_base64"] = absl::Base64Escape(bytes);
      } else {
        // Too large for a JSON body: streamed up as a project artifact, then imported from it
        // (the artifact stays, as the file the version came from).
        const bool ubj = absl::EndsWith(imp_file, ".ubj") || absl::EndsWith(imp_file, ".ubjson");
        const std::string path =
            absl::StrCat("imports/", imp_model, "/", NowMillis(), ubj ? ".ubj" : ".json");
        ASSIGN_OR_RETURN(RawResponse r, HttpUploadFile(c.options().url, "PUT",
                                                       absl::StrCat("/api/v1/projects/", project,
                                                                    "/artifacts/", path),
                                                       imp_file, c.options().token));
        RETURN_IF_ERROR(StatusFromResponse(r));
        body["model_artifact"] = path;
      }
      if (!imp_desc.empty()) body["description"] = imp_desc;
      absl::StatusOr<Json> imported =
          c.Call("POST", Models(project) + "/" + imp_model + "/import", &body);
      if (!imported.ok() && body.contains("model_artifact")) {
        // A refused import leaves nothing behind: the file uploaded for it goes too.
        (void)c.Call("DELETE", absl::StrCat("/api/v1/projects/", project, "/artifacts/",
                                            body["model_artifact"].get<std::string>()));
      }
      ASSIGN_OR_RETURN(Json v, std::move(imported));
      if (c.json()) {
        std::cout << v.dump(2) << "\n";
      } else {
        std::cout << "Imported " << imp_model << " version " << v["version"] << "\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string shap_model, shap_version, shap_dataset;
  static int64_t shap_rows = 2000;
  auto* shap = models->add_subcommand(
      "importance", "SHAP importance of a version's features on its training data or a dataset");
  shap->add_option("model", shap_model, "Model name")->required();
  shap->add_option("version", shap_version, "Version number or alias")->required();
  shap->add_option("--dataset", shap_dataset, "DATASET[@VERSION] (default: the training data)");
  shap->add_option("--rows", shap_rows, "Rows sampled")->capture_default_str();
  shap->callback([=] {
    run([&](Client& c) -> absl::Status {
      std::string url = absl::StrCat(Models(project), "/", shap_model, "/versions/", shap_version,
                                     "/importance?rows=", shap_rows);
      if (!shap_dataset.empty()) {
        std::vector<std::string> dv = absl::StrSplit(shap_dataset, absl::MaxSplits('@', 1));
        absl::StrAppend(&url, "&dataset=", dv[0]);
        if (dv.size() > 1) absl::StrAppend(&url, "&dataset_version=", dv[1]);
      }
      ASSIGN_OR_RETURN(Json r, c.Call("GET", url));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << JsonCell(r["model"]) << " v" << r["version"].dump() << " on "
                << JsonCell(r["dataset"]) << " (" << r["rows"].dump() << " of "
                << r["dataset_rows"].dump() << " rows)\n";
      for (const auto& g : r["groups"]) {
        if (g.contains("class")) std::cout << "class " << JsonCell(g["class"]) << "\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& f : g["features"]) {
          rows.push_back({JsonCell(f["name"]),
                          absl::StrFormat("%.6g", f["mean_abs_shap"].get<double>()),
                          absl::StrFormat("%+.6g", f["mean_shap"].get<double>())});
        }
        PrintTable({"FEATURE", "MEAN |SHAP|", "MEAN SHAP"}, rows);
      }
      return absl::OkStatus();
    });
  });

  static std::string cmp_model;
  static std::vector<std::string> cmp_versions;
  auto* cmp = models->add_subcommand("compare", "Compare versions: metrics, params, signature");
  cmp->add_option("model", cmp_model, "Model name")->required();
  cmp->add_option("versions", cmp_versions, "Version numbers")->required();
  cmp->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r,
                       c.Call("GET", Models(project) + "/" + cmp_model +
                                         "/compare?versions=" + absl::StrJoin(cmp_versions, ",")));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::set<std::string> keys;
      for (const auto& v : r["versions"]) {
        for (auto it = v["metrics"].begin(); it != v["metrics"].end(); ++it)
          keys.insert("metric " + it.key());
        for (auto it = v["params"].begin(); it != v["params"].end(); ++it)
          keys.insert("param " + it.key());
      }
      std::vector<std::string> header{""};
      for (const auto& v : r["versions"]) header.push_back("v" + v["version"].dump());
      std::vector<std::vector<std::string>> rows;
      for (const auto& k : keys) {
        std::vector<std::string> row{k};
        bool metric = k.rfind("metric ", 0) == 0;
        std::string key = k.substr(metric ? 7 : 6);
        for (const auto& v : r["versions"]) {
          const Json& src = metric ? v["metrics"] : v["params"];
          if (!src.contains(key)) {
            row.push_back("-");
          } else if (src[key].is_number()) {
            row.push_back(absl::StrFormat("%.4f", src[key].get<double>()));
          } else {
            row.push_back(JsonCell(src[key]));
          }
        }
        rows.push_back(row);
      }
      PrintTable(header, rows);
      return absl::OkStatus();
    });
  });

  auto* alias = models->add_subcommand("alias", "Move, roll back or remove an alias");
  alias->require_subcommand(1);
  static std::string as_model, as_alias;
  static int64_t as_version = 0;
  static bool as_force = false;
  auto* aset = alias->add_subcommand("set", "Point an alias at a version (the rollout)");
  aset->add_option("model", as_model, "Model name")->required();
  aset->add_option("alias", as_alias, "Alias (champion, challenger, ...)")->required();
  aset->add_option("version", as_version, "Version number")->required();
  aset->add_flag("--force", as_force, "Override failed quality gates (maintainer; audited)");
  aset->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json body{{"version", as_version}, {"force", as_force}};
      ASSIGN_OR_RETURN(
          Json r, c.Call("PUT", Models(project) + "/" + as_model + "/aliases/" + as_alias, &body));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::cout << as_model << "@" << as_alias << " -> version " << r["version"] << "\n";
      }
      return absl::OkStatus();
    });
  });
  static std::string rb_model, rb_alias;
  auto* rb = alias->add_subcommand("rollback", "Move an alias back to its previous version");
  rb->add_option("model", rb_model, "Model name")->required();
  rb->add_option("alias", rb_alias, "Alias")->required();
  rb->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("POST", Models(project) + "/" + rb_model + "/aliases/" +
                                                  rb_alias + "/rollback"));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::cout << rb_model << "@" << rb_alias << " rolled back to version " << r["version"]
                  << "\n";
      }
      return absl::OkStatus();
    });
  });

  // kade endpoints
  auto* eps =
      app.add_subcommand("endpoints", "Real-time endpoints: create, split, predict, log, feedback");
  eps->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  eps->require_subcommand(1);

  static std::string ec_name, ec_model, ec_traffic = "champion", ec_shadow;
  static double ec_sample = 1.0;
  auto* ec = eps->add_subcommand("create", "Create an endpoint serving a model");
  ec->add_option("name", ec_name, "Endpoint name")->required();
  ec->add_option("--model", ec_model, "Registered model")->required();
  ec->add_option("--traffic", ec_traffic, "Alias or version, or a split: \"1=90,2=10\"")
      ->capture_default_str();
  ec->add_option("--shadow", ec_shadow, "Alias or version that gets a copy of each request");
  ec->add_option("--log-sample", ec_sample, "Fraction of requests in the prediction log")
      ->capture_default_str();
  ec->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json targets, Targets(ec_traffic));
      Json body{
          {"name", ec_name}, {"model", ec_model}, {"targets", targets}, {"log_sample", ec_sample}};
      if (!ec_shadow.empty()) {
        ASSIGN_OR_RETURN(Json s, Targets(ec_shadow));
        s[0].erase("weight");
        body["shadow"] = s[0];
      }
      ASSIGN_OR_RETURN(Json e, c.Call("POST", Endpoints(project), &body));
      ShowEndpoint(c, e);
      return absl::OkStatus();
    });
  });

  eps->add_subcommand("ls", "List endpoints")->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", Endpoints(project)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : r["endpoints"]) {
        std::vector<std::string> serving;
        for (const auto& s : e["serving"]) serving.push_back("v" + s["version"].dump());
        rows.push_back({JsonCell(e["name"]), JsonCell(e["model"]),
                        e["ready"].get<bool>() ? "yes" : "no", absl::StrJoin(serving, ",")});
      }
      PrintTable({"ENDPOINT", "MODEL", "READY", "SERVING"}, rows);
      return absl::OkStatus();
    });
  });

  static std::string es_name;
  auto* es = eps->add_subcommand("show", "An endpoint: traffic, versions, request counts");
  es->add_option("name", es_name, "Endpoint name")->required();
  es->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json e, c.Call("GET", Endpoints(project) + "/" + es_name));
      if (c.json()) {
        std::cout << e.dump(2) << "\n";
        return absl::OkStatus();
      }
      PrintEndpoint(e);
      for (const auto& s : e["stats"]) {
        std::cout << absl::StrFormat("v%d      %d requests, %d errors, mean %.3f ms\n",
                                     s["version"].get<int64_t>(), s["requests"].get<int64_t>(),
                                     s["errors"].get<int64_t>(),
                                     s["mean_latency_ms"].get<double>());
      }
      return absl::OkStatus();
    });
  });

  static std::string sp_name, sp_traffic;
  auto* sp = eps->add_subcommand("split", "Change the traffic split: \"1=90,2=10\" or an alias");
  sp->add_option("name", sp_name, "Endpoint name")->required();
  sp->add_option("traffic", sp_traffic, "Targets and weights")->required();
  sp->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json targets, Targets(sp_traffic));
      Json body{{"targets", targets}};
      ASSIGN_OR_RETURN(Json e, c.Call("PATCH", Endpoints(project) + "/" + sp_name, &body));
      ShowEndpoint(c, e);
      return absl::OkStatus();
    });
  });

  static std::string eu_name, eu_shadow, eu_description;
  static double eu_sample = -1;
  auto* eu =
      eps->add_subcommand("update", "Change an endpoint's shadow, log sampling or description");
  eu->add_option("name", eu_name, "Endpoint name")->required();
  eu->add_option("--shadow", eu_shadow,
                 "Alias or version that gets a copy of each request, or none");
  eu->add_option("--log-sample", eu_sample, "Fraction of requests in the prediction log (0 to 1)");
  eu->add_option("--description", eu_description, "Description");
  eu->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json body = Json::object();
      if (eu_shadow == "none") {
        body["shadow"] = nullptr;
      } else if (!eu_shadow.empty()) {
        ASSIGN_OR_RETURN(Json s, Targets(eu_shadow));
        s[0].erase("weight");
        body["shadow"] = s[0];
      }
      if (eu_sample >= 0) body["log_sample"] = eu_sample;
      if (!eu_description.empty()) body["description"] = eu_description;
      if (body.empty()) {
        return absl::InvalidArgumentError("give --shadow, --log-sample or --description");
      }
      ASSIGN_OR_RETURN(Json e, c.Call("PATCH", Endpoints(project) + "/" + eu_name, &body));
      ShowEndpoint(c, e);
      return absl::OkStatus();
    });
  });

  static std::string ed_name;
  auto* ed = eps->add_subcommand("delete", "Delete an endpoint and its prediction log");
  ed->add_option("name", ed_name, "Endpoint name")->required();
  ed->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("DELETE", Endpoints(project) + "/" + ed_name));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::cout << "deleted endpoint " << ed_name << "\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string el_name;
  static int el_limit = 20;
  auto* el = eps->add_subcommand("log", "Recent entries of the prediction log, newest first");
  el->add_option("name", el_name, "Endpoint name")->required();
  el->add_option("--limit,-n", el_limit, "How many (1 to 10000)")->capture_default_str();
  el->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", absl::StrCat(Endpoints(project), "/", el_name,
                                                          "/predictions?limit=", el_limit)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : r["predictions"]) {
        const Json& out = e["outputs"];
        std::string prediction =
            out.is_object() && out.contains("predictions") ? out["predictions"].dump() : out.dump();
        if (prediction.size() > 40) prediction = prediction.substr(0, 37) + "...";
        rows.push_back({JsonCell(e["time"]), JsonCell(e["request_id"]),
                        "v" + e["version"].dump() + (e["shadow"].get<bool>() ? " shadow" : ""),
                        e["latency_us"].dump(), prediction,
                        e["label"].is_null() ? "-" : JsonCell(e["label"])});
      }
      PrintTable({"TIME", "REQUEST", "VERSION", "LATENCY_US", "PREDICTION", "LABEL"}, rows);
      if (r.value("dropped", 0) > 0) {
        std::cout << r["dropped"].dump()
                  << " entries dropped since the server started (queue full)\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string ep_name, ep_window = "24h";
  auto* ep = eps->add_subcommand("performance",
                                 "Realised model fit per version from the fed-back ground truth");
  ep->add_option("name", ep_name, "Endpoint name")->required();
  ep->add_option("--window,-w", ep_window, "1h, 24h, 7d, 30d or seconds")->capture_default_str();
  ep->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r,
                       c.Call("GET", absl::StrCat(Endpoints(project), "/", ep_name,
                                                  "/monitoring/performance?window=", ep_window)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      auto fig = [](const Json& m, const char* k) {
        return m.is_object() && m.contains(k) && m[k].is_number()
                   ? absl::StrFormat("%.4f", m[k].get<double>())
                   : std::string("-");
      };
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : r["versions"]) {
        const bool reg = v["task"] == "regression";
        const Json& m = v["metrics"];
        const Json& h = v["holdout"];
        rows.push_back({"v" + v["version"].dump(), JsonCell(v["task"]), v["predictions"].dump(),
                        absl::StrFormat("%.0f%%", 100 * v["label_coverage"].get<double>()),
                        reg ? fig(m, "rmse") : fig(m, "auc"), reg ? fig(h, "rmse") : fig(h, "auc"),
                        reg ? fig(m, "mae") : fig(m, "accuracy")});
      }
      PrintTable({"VERSION", "TASK", "PREDICTIONS", "LABELLED", "AUC/RMSE", "HOLDOUT", "ACC/MAE"},
                 rows);
      std::cout << "window " << JsonCell(r["window"]) << " from " << JsonCell(r["from"]) << "\n";
      return absl::OkStatus();
    });
  });

  static std::string ef_name, ef_request, ef_label, ef_file;
  auto* ef = eps->add_subcommand(
      "feedback", "Ground truth for earlier requests: --request-id and --label, or --file");
  ef->add_option("name", ef_name, "Endpoint name")->required();
  ef->add_option("--request-id", ef_request, "The request's id (X-Request-Id of its answer)");
  ef->add_option("--label", ef_label, "The true value");
  ef->add_option("--file,-f", ef_file,
                 "CSV with the header request_id,label, or a JSON list of {request_id, label}");
  ef->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json items = Json::array();
      if (!ef_file.empty()) {
        if (!ef_request.empty() || !ef_label.empty()) {
          return absl::InvalidArgumentError("give --file, or --request-id with --label, not both");
        }
        ASSIGN_OR_RETURN(items, FeedbackItems(ef_file));
      } else {
        if (ef_request.empty() || ef_label.empty()) {
          return absl::InvalidArgumentError("give --request-id and --label, or --file");
        }
        items.push_back(Json{{"request_id", ef_request}, {"label", ef_label}});
      }
      if (items.empty()) return absl::InvalidArgumentError(ef_file + ": no items");
      // The server takes at most 10,000 items per call, each call all or nothing.
      size_t accepted = 0;
      for (size_t i = 0; i < items.size(); i += 10000) {
        Json body{
            {"items", Json(std::vector<Json>(
                          items.begin() + static_cast<long>(i),
                          items.begin() + static_cast<long>(std::min(items.size(), i + 10000))))}};
        absl::StatusOr<Json> r =
            c.Call("POST", Endpoints(project) + "/" + ef_name + "/feedback", &body);
        if (!r.ok() && i > 0) {
          // The server counts items within this call; say where in the file it was, and
          // what the earlier calls stored.
          return absl::Status(
              r.status().code(),
              absl::StrCat("items ", i, " to ", std::min(items.size(), i + 10000) - 1,
                           " (counted from 0 within this part): ", r.status().message(), "; the ",
                           accepted, " labels before them were stored"));
        }
        if (!r.ok()) return r.status();
        accepted += r->value("accepted", size_t{0});
      }
      if (c.json()) {
        std::cout << Json{{"accepted", accepted}}.dump(2) << "\n";
      } else {
        std::cout << "accepted " << accepted << " labels\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string pr_name, pr_data, pr_file;
  // The rows of --data / --file as a request body: a record, a list, or a body as it is.
  static auto body_of = []() -> absl::StatusOr<Json> {
    std::string text = pr_data;
    if (!pr_file.empty()) {
      ASSIGN_OR_RETURN(text, ReadLocal(pr_file));
    }
    if (text.empty()) return absl::InvalidArgumentError("give the rows with --data or --file");
    Json in = Json::parse(text, nullptr, false);
    if (in.is_discarded()) return absl::InvalidArgumentError("--data is not valid JSON");
    if (in.is_array()) return Json{{"instances", in}};
    if (in.is_object() &&
        (in.contains("instances") || in.contains("inputs") || in.contains("dataframe_split"))) {
      return in;
    }
    return Json{{"instances", Json::array({in})}};
  };
  for (const char* verb : {"predict", "explain"}) {
    const bool explain = std::string(verb) == "explain";
    auto* pr = eps->add_subcommand(
        verb, explain ? "Explain an endpoint's answers: SHAP contributions per feature"
                      : "Send rows to an endpoint");
    pr->add_option("name", pr_name, "Endpoint name")->required();
    pr->add_option("--data,-d", pr_data, "JSON: a record, a list of records, or a request body");
    pr->add_option("--file,-f", pr_file, "File holding that JSON");
    pr->callback([=] {
      run([&](Client& c) -> absl::Status {
        ASSIGN_OR_RETURN(Json body, body_of());
        ASSIGN_OR_RETURN(Json r, c.Call("POST",
                                        Endpoints(project) + "/" + pr_name + "/" +
                                            (explain ? "explain" : "predict"),
                                        &body));
        if (!explain || c.json()) {
          std::cout << r.dump(c.json() ? 2 : -1) << "\n";
          return absl::OkStatus();
        }
        // One table per row: features by the size of their contribution.
        std::cout << "version " << r["version"].dump() << " (" << JsonCell(r["method"])
                  << ", contributions to the " << JsonCell(r["output"]) << ")\n";
        size_t i = 0;
        for (const auto& e : r["explanations"]) {
          std::vector<std::pair<std::string, const Json*>> parts;
          if (e.contains("classes")) {
            for (const auto& [cls, x] : e["classes"].items()) parts.emplace_back(cls, &x);
          } else {
            parts.emplace_back("", &e);
          }
          for (const auto& [cls, x] : parts) {
            std::cout << "row " << i << (cls.empty() ? "" : ", class " + cls)
                      << (e.contains("prediction") ? ": " + JsonCell(e["prediction"]) : "")
                      << "  base " << (*x)["base_value"].get<double>() << "  margin "
                      << (*x)["margin"].get<double>() << "\n";
            std::vector<std::pair<double, std::string>> by;
            for (const auto& [f, v] : (*x)["contributions"].items()) {
              by.emplace_back(v.get<double>(), f);
            }
            std::sort(by.begin(), by.end(), [](const auto& a, const auto& b) {
              return std::abs(a.first) > std::abs(b.first);
            });
            std::vector<std::vector<std::string>> rows;
            for (const auto& [v, f] : by) rows.push_back({f, absl::StrFormat("%+.6g", v)});
            PrintTable({"FEATURE", "CONTRIBUTION"}, rows);
          }
          ++i;
        }
        return absl::OkStatus();
      });
    });
  }
}

}  // namespace kade
