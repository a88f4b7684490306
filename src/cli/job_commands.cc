// kade train | kade jobs: training jobs from the command line.
#include <chrono>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "core/status.h"

namespace kade {
namespace {

std::string Jobs(const std::string& project) { return "/api/v1/projects/" + project + "/jobs"; }

// "churn@3" -> ("churn", "3"); "churn" -> ("churn", "latest").
std::pair<std::string, std::string> DatasetRef(const std::string& s) {
  size_t at = s.rfind('@');
  if (at == std::string::npos) return {s, "latest"};
  return {s.substr(0, at), s.substr(at + 1)};
}

// "max_depth=6" -> a number when it reads as one, else the text.
absl::StatusOr<std::pair<std::string, Json>> Param(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--param '", kv, "' must be NAME=VALUE"));
  }
  std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
  int64_t i = 0;
  double d = 0;
  if (absl::SimpleAtoi(value, &i)) return std::make_pair(name, Json(i));
  if (absl::SimpleAtod(value, &d)) return std::make_pair(name, Json(d));
  return std::make_pair(name, Json(value));
}

void PrintJob(const Json& j) {
  std::cout << "job      " << j["id"].get<std::string>() << "\n"
            << "status   " << j["status"].get<std::string>() << "\n"
            << "dataset  " << JsonCell(j["spec"]["dataset"]) << "@"
            << JsonCell(j["spec"]["version"]) << "  target " << JsonCell(j["spec"]["target"])
            << "  algorithm " << JsonCell(j["spec"]["algorithm"]) << "\n"
            << "attempts " << j["attempts"] << " of " << j["max_attempts"] << "\n";
  if (!j["run_id"].get<std::string>().empty())
    std::cout << "run      " << JsonCell(j["run_id"]) << "\n";
  if (!j["error"].get<std::string>().empty())
    std::cout << "error    " << JsonCell(j["error"]) << "\n";
  if (j["result"].contains("best_run_id")) {
    std::cout << "best     trial " << j["result"]["best_trial"] << " (run "
              << JsonCell(j["result"]["best_run_id"]) << "): " << JsonCell(j["result"]["metric"])
              << " " << absl::StrFormat("%.4f", j["result"]["best_value"].get<double>()) << ", "
              << j["result"]["best_params"].dump() << "\n";
  }
  if (j["result"].contains("metrics")) {
    for (auto it = j["result"]["metrics"].begin(); it != j["result"]["metrics"].end(); ++it) {
      std::cout << absl::StrFormat("  %-10s %.4f\n", it.key(), it.value().get<double>());
    }
  }
}

// Prints log lines as they come until the job ends.
absl::Status Follow(Client& c, const std::string& project, const std::string& id, bool follow) {
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(
        Json r, c.Call("GET", Jobs(project) + "/" + id + "/logs?after=" + std::to_string(after)));
    for (const auto& l : r["lines"]) {
      std::cout << l["time"].get<std::string>().substr(11, 12) << "  "
                << l["line"].get<std::string>() << "\n";
      after = l["seq"].get<int64_t>();
    }
    std::cout.flush();
    if (!follow || r["ended"].get<bool>()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

void AddJobCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  static std::string project;
  auto need_project = []() -> absl::Status {
    if (project.empty())
      return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
    return absl::OkStatus();
  };

  auto* train = app.add_subcommand("train", "Train a model on a dataset version (a job)");
  static std::string t_dataset, t_target, t_algo = "xgboost", t_task, t_experiment, t_name,
                                          t_validation, t_test;
  static std::vector<std::string> t_params, t_include, t_exclude;
  static int t_rounds = 100, t_early = 10, t_folds = 0;
  static double t_holdout = 0.2;
  static int64_t t_seed = 42;
  static bool t_force = false, t_wait = false;
  static std::string t_search, t_strategy, t_search_metric;
  static int t_trials = 10, t_parallel = 2;
  train->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  train->add_option("--dataset", t_dataset, "Dataset version: NAME[@VERSION]")->required();
  train->add_option("--target", t_target, "Target column (default: the dataset's declared one)");
  train->add_option("--algo", t_algo, "xgboost, random_forest or linear")->capture_default_str();
  train->add_option("--task", t_task, "binary, multiclass or regression (default: inferred)");
  train->add_option("--param", t_params, "XGBoost parameter NAME=VALUE (repeatable)");
  train->add_option("--include", t_include, "Feature column (repeatable; default: all usable)");
  train->add_option("--exclude", t_exclude, "Column to leave out (repeatable)");
  train->add_option("--rounds", t_rounds, "Boosting rounds")->capture_default_str();
  train->add_option("--early-stopping", t_early, "Stop after N rounds without improvement (0: off)")
      ->capture_default_str();
  train->add_option("--holdout", t_holdout, "Fraction held out for evaluation")
      ->capture_default_str();
  train->add_option("--folds", t_folds, "k-fold cross-validation on the training rows (0: none)")
      ->capture_default_str();
  train->add_option("--validation-version", t_validation,
                    "A version of the dataset for validation instead of the holdout");
  train->add_option("--test-version", t_test, "A version of the dataset for the final metrics");
  train->add_option("--seed", t_seed, "Random seed")->capture_default_str();
  train->add_option("--experiment", t_experiment, "Experiment of the run (default: training)");
  train->add_option("--run-name", t_name, "Name of the run");
  train->add_flag("--force", t_force, "Train even on a version that failed a blocking check");
  train->add_option("--search", t_search,
                    "Hyper-parameter search space: \"max_depth=4,6,8;eta=0.05..0.3\"");
  train->add_option("--strategy", t_strategy,
                    "grid, random or halving (default: grid when every dimension is a list)");
  train->add_option("--trials", t_trials, "Random search and halving: trials")
      ->capture_default_str();
  train->add_option("--search-metric", t_search_metric,
                    "Holdout metric that picks the best trial (default: auc, logloss or rmse)");
  train->add_option("--parallel", t_parallel, "Trials trained at the same time")
      ->capture_default_str();
  train->add_flag("--wait,-w", t_wait, "Follow the job's log until it ends");
  train->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      auto [name, version] = DatasetRef(t_dataset);
      Json spec{{"dataset", name},
                {"version", version},
                {"algorithm", t_algo},
                {"num_rounds", t_rounds},
                {"early_stopping_rounds", t_early},
                {"holdout", t_holdout},
                {"seed", t_seed},
                {"force", t_force}};
      if (t_folds > 0) spec["folds"] = t_folds;
      if (!t_validation.empty()) spec["validation_version"] = t_validation;
      if (!t_test.empty()) spec["test_version"] = t_test;
      if (!t_target.empty()) spec["target"] = t_target;
      if (!t_task.empty()) spec["task"] = t_task;
      if (!t_experiment.empty()) spec["experiment"] = t_experiment;
      if (!t_name.empty()) spec["run_name"] = t_name;
      if (!t_include.empty()) spec["include"] = t_include;
      if (!t_exclude.empty()) spec["exclude"] = t_exclude;
      Json params = Json::object();
      for (const auto& kv : t_params) {
        ASSIGN_OR_RETURN(auto p, Param(kv));
        params[p.first] = p.second;
      }
      spec["params"] = params;
      if (!t_search.empty()) {
        std::string strategy = t_strategy;
        if (strategy.empty()) strategy = absl::StrContains(t_search, "..") ? "random" : "grid";
        Json search{{"strategy", strategy},
                    {"space", t_search},
                    {"trials", t_trials},
                    {"parallel", t_parallel}};
        if (!t_search_metric.empty()) search["metric"] = t_search_metric;
        spec["search"] = search;
      }
      ASSIGN_OR_RETURN(Json job, c.Call("POST", Jobs(project) + "/train", &spec));
      std::string id = job["id"].get<std::string>();
      if (c.json() && !t_wait) {
        std::cout << job.dump(2) << "\n";
        return absl::OkStatus();
      }
      if (!c.json()) std::cout << "Submitted job " << id << "\n";
      if (!t_wait) return absl::OkStatus();
      RETURN_IF_ERROR(Follow(c, project, id, true));
      ASSIGN_OR_RETURN(Json done, c.Call("GET", Jobs(project) + "/" + id));
      if (c.json()) {
        std::cout << done.dump(2) << "\n";
      } else {
        PrintJob(done);
      }
      if (done["status"] != "succeeded") {
        return absl::AbortedError(absl::StrCat("job ", id, " ", done["status"].get<std::string>(),
                                               ": ", done["error"].get<std::string>()));
      }
      return absl::OkStatus();
    });
  });

  // kade runs reproduce RUN: under the tracking commands' "runs", using their --project.
  if (CLI::App* runs = app.get_subcommand("runs")) {
    auto* rep = runs->add_subcommand("reproduce", "Train again what produced a run (a new job)");
    static std::string rep_run;
    static bool rep_wait = false;
    rep->add_option("run_id", rep_run, "Run id")->required();
    rep->add_flag("--wait,-w", rep_wait, "Follow the job's log until it ends");
    rep->callback([=] {
      *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
        std::string proj = runs->get_option("--project")->as<std::string>();
        if (proj.empty()) {
          return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
        }
        Json body{{"run_id", rep_run}};
        ASSIGN_OR_RETURN(Json job, c.Call("POST", Jobs(proj) + "/reproduce", &body));
        std::string id = job["id"].get<std::string>();
        std::cout << "Submitted job " << id << "\n";
        if (!rep_wait) return absl::OkStatus();
        RETURN_IF_ERROR(Follow(c, proj, id, true));
        ASSIGN_OR_RETURN(Json done, c.Call("GET", Jobs(proj) + "/" + id));
        PrintJob(done);
        return done["status"] == "succeeded"
                   ? absl::OkStatus()
                   : absl::AbortedError(
                         absl::StrCat("job ", id, " ", done["status"].get<std::string>()));
      });
    });
  }

  auto* jobs = app.add_subcommand("jobs", "Jobs: list, show, logs, cancel");
  jobs->require_subcommand(1);
  jobs->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  auto* ls = jobs->add_subcommand("ls", "List jobs, newest first")->alias("list");
  ls->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      ASSIGN_OR_RETURN(Json r, c.Call("GET", Jobs(project)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& j : r["jobs"]) {
        rows.push_back(
            {JsonCell(j["id"]), JsonCell(j["kind"]), JsonCell(j["status"]),
             absl::StrCat(JsonCell(j["spec"]["dataset"]), "@", JsonCell(j["spec"]["version"])),
             JsonCell(j["run_id"]), JsonCell(j["created_by"]), JsonCell(j["created_at"])});
      }
      PrintTable({"id", "kind", "status", "dataset", "run", "by", "created"}, rows);
      return absl::OkStatus();
    });
  });
  static std::string job_id;
  auto* show = jobs->add_subcommand("show", "Show a job");
  show->add_option("id", job_id, "Job id")->required();
  show->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      ASSIGN_OR_RETURN(Json j, c.Call("GET", Jobs(project) + "/" + job_id));
      if (c.json()) {
        std::cout << j.dump(2) << "\n";
      } else {
        PrintJob(j);
      }
      return absl::OkStatus();
    });
  });
  static bool follow = false;
  auto* logs = jobs->add_subcommand("logs", "Print a job's log");
  logs->add_option("id", job_id, "Job id")->required();
  logs->add_flag("--follow,-f", follow, "Keep printing until the job ends");
  logs->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      return Follow(c, project, job_id, follow);
    });
  });
  auto* cancel = jobs->add_subcommand("cancel", "Cancel a queued or running job");
  cancel->add_option("id", job_id, "Job id")->required();
  cancel->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      ASSIGN_OR_RETURN(Json j, c.Call("POST", Jobs(project) + "/" + job_id + "/cancel"));
      std::cout << (c.json() ? j.dump(2) : "Cancel requested for job " + job_id) << "\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
