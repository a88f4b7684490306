// kade experiments | kade runs: experiment tracking from the command line.
#include <iostream>
#include <map>
#include <set>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "core/status.h"

namespace kade {

namespace {

std::string Enc(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(static_cast<char>(c));
    else
      out += absl::StrFormat("%%%02X", c);
  }
  return out;
}

std::string Api(const std::string& project, const std::string& path) {
  return "/projects/" + Enc(project) + "/api/2.0/mlflow" + path;
}

std::string Value(const Json& v) {
  if (v.is_number_float()) return absl::StrFormat("%.6g", v.get<double>());
  return JsonCell(v);
}

std::map<std::string, std::string> KeyMap(const Json& list) {
  std::map<std::string, std::string> m;
  if (!list.is_array()) return m;
  for (const auto& kv : list)
    m[kv["key"].get<std::string>()] = kv.contains("value") ? Value(kv["value"]) : "";
  return m;
}

absl::StatusOr<std::string> ExperimentId(Client& c, const std::string& project,
                                         const std::string& name) {
  ASSIGN_OR_RETURN(
      Json e, c.Call("GET", Api(project, "/experiments/get-by-name?experiment_name=" + Enc(name))));
  return e["experiment"]["experiment_id"].get<std::string>();
}

std::string When(const Json& ms) {
  if (!ms.is_number_integer()) return "-";
  time_t t = static_cast<time_t>(ms.get<int64_t>() / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace

void AddTrackingCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  static std::string project;
  auto need_project = []() -> absl::Status {
    if (project.empty())
      return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
    return absl::OkStatus();
  };

  auto* exps = app.add_subcommand("experiments", "Experiments of a project");
  exps->require_subcommand(1);
  exps->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  auto* els = exps->add_subcommand("ls", "List experiments")->alias("list");
  static bool els_all = false;
  els->add_flag("--all", els_all, "Include deleted experiments");
  els->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      Json body{{"view_type", els_all ? "ALL" : "ACTIVE_ONLY"}};
      ASSIGN_OR_RETURN(Json r, c.Call("POST", Api(project, "/experiments/search"), &body));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : r["experiments"]) {
        rows.push_back({JsonCell(e["experiment_id"]), JsonCell(e["name"]),
                        JsonCell(e["lifecycle_stage"]), When(e["creation_time"])});
      }
      PrintTable({"id", "name", "state", "created"}, rows);
      return absl::OkStatus();
    });
  });
  auto* ecreate = exps->add_subcommand("create", "Create an experiment");
  static std::string ecreate_name;
  ecreate->add_option("name", ecreate_name, "Experiment name")->required();
  ecreate->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      Json body{{"name", ecreate_name}};
      ASSIGN_OR_RETURN(Json r, c.Call("POST", Api(project, "/experiments/create"), &body));
      std::cout << (c.json() ? r.dump(2)
                             : "Created experiment " + ecreate_name + " (id " +
                                   JsonCell(r["experiment_id"]) + ")")
                << "\n";
      return absl::OkStatus();
    });
  });

  auto* runs = app.add_subcommand("runs", "Runs: list, search, show, compare");
  runs->require_subcommand(1);
  runs->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");

  static std::string rl_experiment, rl_filter, rl_order;
  static int rl_limit = 50;
  auto list_runs = [=](bool want_filter) {
    return [=] {
      *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
        RETURN_IF_ERROR(need_project());
        ASSIGN_OR_RETURN(std::string eid, ExperimentId(c, project, rl_experiment));
        Json body{{"experiment_ids", {eid}}, {"max_results", rl_limit}};
        if (want_filter || !rl_filter.empty()) body["filter"] = rl_filter;
        if (!rl_order.empty()) body["order_by"] = {rl_order};
        ASSIGN_OR_RETURN(Json r, c.Call("POST", Api(project, "/runs/search"), &body));
        if (c.json()) {
          std::cout << r.dump(2) << "\n";
          return absl::OkStatus();
        }
        // Columns: the metrics that most runs have (up to four).
        std::map<std::string, int> seen;
        for (const auto& run : r.value("runs", Json::array())) {
          for (const auto& m : run["data"].value("metrics", Json::array()))
            ++seen[m["key"].get<std::string>()];
        }
        std::vector<std::pair<int, std::string>> by_count;
        for (auto& [k, n] : seen) by_count.emplace_back(-n, k);
        std::sort(by_count.begin(), by_count.end());
        std::vector<std::string> keys;
        for (size_t i = 0; i < by_count.size() && i < 4; ++i) keys.push_back(by_count[i].second);
        std::vector<std::string> header = {"run id", "name", "status", "started"};
        for (const auto& k : keys) header.push_back(k);
        std::vector<std::vector<std::string>> rows;
        for (const auto& run : r.value("runs", Json::array())) {
          auto metrics = KeyMap(run["data"].value("metrics", Json::array()));
          std::vector<std::string> row = {run["info"]["run_id"].get<std::string>().substr(0, 12),
                                          JsonCell(run["info"]["run_name"]),
                                          JsonCell(run["info"]["status"]),
                                          When(run["info"]["start_time"])};
          for (const auto& k : keys) row.push_back(metrics.count(k) ? metrics[k] : "-");
          rows.push_back(row);
        }
        PrintTable(header, rows);
        return absl::OkStatus();
      });
    };
  };
  auto* rls = runs->add_subcommand("ls", "List the runs of an experiment")->alias("list");
  rls->add_option("--experiment,-e", rl_experiment, "Experiment name")->required();
  rls->add_option("--filter", rl_filter, "Search filter (MLflow syntax)");
  rls->add_option("--order-by", rl_order, "e.g. \"metrics.auc DESC\"");
  rls->add_option("--limit", rl_limit, "How many runs")->capture_default_str();
  rls->callback(list_runs(false));
  auto* rsearch =
      runs->add_subcommand("search", "Search runs: kade runs search \"metrics.auc > 0.9\" -e NAME");
  rsearch->add_option("filter", rl_filter, "Search filter (MLflow syntax)")->required();
  rsearch->add_option("--experiment,-e", rl_experiment, "Experiment name")->required();
  rsearch->add_option("--order-by", rl_order, "e.g. \"metrics.auc DESC\"");
  rsearch->add_option("--limit", rl_limit, "How many runs")->capture_default_str();
  rsearch->callback(list_runs(true));

  auto* rshow = runs->add_subcommand("show", "Show a run: params, metrics, tags, inputs");
  static std::string rshow_id;
  rshow->add_option("run_id", rshow_id, "Run id")->required();
  rshow->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      ASSIGN_OR_RETURN(Json r, c.Call("GET", Api(project, "/runs/get?run_id=" + Enc(rshow_id))));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      const Json& info = r["run"]["info"];
      const Json& data = r["run"]["data"];
      std::cout << info["run_name"].get<std::string>() << "  " << info["run_id"].get<std::string>()
                << "\n"
                << "status " << info["status"].get<std::string>() << ", user "
                << info["user_id"].get<std::string>() << ", started " << When(info["start_time"])
                << ", ended " << When(info.value("end_time", Json())) << "\n\n";
      std::vector<std::vector<std::string>> rows;
      for (auto& [k, v] : KeyMap(data.value("params", Json::array()))) rows.push_back({k, v});
      PrintTable({"param", "value"}, rows);
      std::cout << "\n";
      rows.clear();
      for (const auto& m : data.value("metrics", Json::array())) {
        rows.push_back({m["key"].get<std::string>(), Value(m["value"]), JsonCell(m["step"])});
      }
      PrintTable({"metric", "latest", "step"}, rows);
      std::cout << "\n";
      rows.clear();
      for (auto& [k, v] : KeyMap(data.value("tags", Json::array()))) rows.push_back({k, v});
      PrintTable({"tag", "value"}, rows);
      for (const auto& in : r["run"]["inputs"].value("dataset_inputs", Json::array())) {
        std::cout << "input: " << in["dataset"]["source"].get<std::string>() << " ("
                  << KeyMap(in["tags"])["mlflow.data.context"] << ")\n";
      }
      return absl::OkStatus();
    });
  });

  auto* rcompare =
      runs->add_subcommand("compare", "Compare runs: params that differ, metrics side by side");
  static std::vector<std::string> rcompare_ids;
  rcompare->add_option("run_ids", rcompare_ids, "Two or more run ids")->required()->expected(2, 20);
  rcompare->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      std::vector<Json> all;
      for (const auto& id : rcompare_ids) {
        ASSIGN_OR_RETURN(Json r, c.Call("GET", Api(project, "/runs/get?run_id=" + Enc(id))));
        all.push_back(r["run"]);
      }
      if (c.json()) {
        std::cout << Json(all).dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::string> header = {""};
      for (const auto& r : all) header.push_back(r["info"]["run_name"].get<std::string>());
      auto table = [&](const char* what, bool only_diff) {
        std::set<std::string> keys;
        std::vector<std::map<std::string, std::string>> maps;
        for (const auto& r : all) {
          maps.push_back(KeyMap(r["data"].value(what, Json::array())));
          for (auto& [k, v] : maps.back()) keys.insert(k);
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& k : keys) {
          std::vector<std::string> row = {k};
          std::set<std::string> distinct;
          for (auto& m : maps) {
            row.push_back(m.count(k) ? m[k] : "-");
            distinct.insert(row.back());
          }
          if (!only_diff || distinct.size() > 1) rows.push_back(row);
        }
        std::vector<std::string> h = header;
        h[0] = only_diff ? std::string(what) + " (differing)" : what;
        PrintTable(h, rows);
      };
      table("params", true);
      std::cout << "\n";
      table("metrics", false);
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
