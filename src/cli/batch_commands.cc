// kade batch: batch inference jobs and their schedules.
#include <chrono>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "core/status.h"

namespace kade {
namespace {

std::string Batch(const std::string& p) { return "/api/v1/projects/" + p + "/batch"; }

std::pair<std::string, std::string> Ref(const std::string& s, const std::string& fallback) {
  size_t at = s.rfind('@');
  if (at == std::string::npos) return {s, fallback};
  return {s.substr(0, at), s.substr(at + 1)};
}

}  // namespace

void AddBatchCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  static std::string project;
  auto run = [opts, exit_code](std::function<absl::Status(Client&)> fn) {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      if (project.empty()) {
        return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
      }
      return fn(c);
    });
  };
  auto* batch =
      app.add_subcommand("batch", "Batch inference: score dataset versions, on schedules");
  batch->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  batch->require_subcommand(1);

  static std::string model, dataset, output;
  static bool wait = false, force = false;
  auto spec = []() {
    auto [m, mv] = Ref(model, "champion");
    auto [d, dv] = Ref(dataset, "latest");
    Json s{
        {"model", m}, {"version", mv}, {"dataset", d}, {"dataset_version", dv}, {"force", force}};
    if (!output.empty()) s["output"] = output;
    return s;
  };
  auto* r = batch->add_subcommand("run", "Score a dataset version with a model version or alias");
  r->add_option("--model", model, "NAME[@VERSION|ALIAS] (default alias: champion)")->required();
  r->add_option("--dataset", dataset, "NAME[@VERSION] (default: latest)")->required();
  r->add_option("--output", output, "Dataset for the scored rows (default: DATASET-scored)");
  r->add_flag("--force", force, "Score a version that failed a blocking quality check");
  r->add_flag("--wait,-w", wait, "Wait for the job and print its result");
  r->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json body = spec();
      ASSIGN_OR_RETURN(Json job, c.Call("POST", Batch(project) + "/jobs", &body));
      std::string id = job["id"].get<std::string>();
      if (!wait) {
        std::cout << (c.json() ? job.dump(2) : "Submitted batch job " + id) << "\n";
        return absl::OkStatus();
      }
      for (;;) {
        ASSIGN_OR_RETURN(job, c.Call("GET", "/api/v1/projects/" + project + "/jobs/" + id));
        if (job["status"] != "queued" && job["status"] != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (c.json()) {
        std::cout << job.dump(2) << "\n";
      } else if (job["status"] == "succeeded") {
        const Json& res = job["result"];
        std::cout << "Scored " << res["rows"] << " rows of " << JsonCell(res["input"]) << " with "
                  << JsonCell(res["model"]) << " v" << res["model_version"] << " into "
                  << JsonCell(res["output"]) << "@" << res["output_version"] << "\n";
      }
      if (job["status"] != "succeeded") {
        return absl::AbortedError(absl::StrCat("batch job ", id, " ",
                                               job["status"].get<std::string>(), ": ",
                                               job["error"].get<std::string>()));
      }
      return absl::OkStatus();
    });
  });

  static std::string s_name, s_cron, s_tz;
  auto* sc =
      batch->add_subcommand("schedule", "Score on a cron schedule (5 fields, explicit time zone)");
  sc->add_option("name", s_name, "Schedule name")->required();
  sc->add_option("--cron", s_cron, "Cron expression, e.g. \"0 2 * * *\"")->required();
  sc->add_option("--tz", s_tz, "IANA time zone, e.g. UTC or Europe/Berlin")->required();
  sc->add_option("--model", model, "NAME[@VERSION|ALIAS] (default alias: champion)")->required();
  sc->add_option("--dataset", dataset, "NAME[@VERSION] (default: latest)")->required();
  sc->add_option("--output", output, "Dataset for the scored rows (default: DATASET-scored)");
  sc->callback([=] {
    run([&](Client& c) -> absl::Status {
      Json body{{"name", s_name}, {"cron", s_cron}, {"timezone", s_tz}, {"spec", spec()}};
      ASSIGN_OR_RETURN(Json s, c.Call("POST", Batch(project) + "/schedules", &body));
      if (c.json()) {
        std::cout << s.dump(2) << "\n";
      } else {
        std::cout << "Schedule " << s_name << " (" << s_cron << ", " << s_tz << "): next run "
                  << JsonCell(s["next_run_at"]) << "\n";
      }
      return absl::OkStatus();
    });
  });

  batch->add_subcommand("ls", "Schedules and recent batch jobs")->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json s, c.Call("GET", Batch(project) + "/schedules"));
      ASSIGN_OR_RETURN(Json j, c.Call("GET", Batch(project) + "/jobs?limit=20"));
      if (c.json()) {
        std::cout << Json{{"schedules", s["schedules"]}, {"jobs", j["jobs"]}}.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& x : s["schedules"]) {
        rows.push_back({JsonCell(x["name"]), JsonCell(x["cron"]), JsonCell(x["timezone"]),
                        x["enabled"].get<bool>() ? "yes" : "no", JsonCell(x["next_run_at"]),
                        std::to_string(x["history"].size())});
      }
      PrintTable({"SCHEDULE", "CRON", "TIME ZONE", "ENABLED", "NEXT RUN", "RUNS"}, rows);
      std::cout << "\n";
      rows.clear();
      for (const auto& x : j["jobs"]) {
        const Json& res = x["result"];
        rows.push_back(
            {JsonCell(x["id"]), JsonCell(x["status"]),
             JsonCell(x["spec"]["model"]) + "@" + JsonCell(x["spec"]["version"]),
             JsonCell(x["spec"]["dataset"]) + "@" + JsonCell(x["spec"]["dataset_version"]),
             res.contains("output")
                 ? JsonCell(res["output"]) + "@" + JsonCell(res["output_version"])
                 : "-",
             res.contains("rows") ? JsonCell(res["rows"]) : "-"});
      }
      PrintTable({"JOB", "STATUS", "MODEL", "INPUT", "OUTPUT", "ROWS"}, rows);
      return absl::OkStatus();
    });
  });

  static std::string l_job;
  auto* logs = batch->add_subcommand("logs", "A batch job's log");
  logs->add_option("job", l_job, "Job id")->required();
  logs->callback([=] {
    run([&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r,
                       c.Call("GET", "/api/v1/projects/" + project + "/jobs/" + l_job + "/logs"));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      for (const auto& l : r["lines"]) {
        std::cout << l["time"].get<std::string>().substr(11, 12) << "  "
                  << l["line"].get<std::string>() << "\n";
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
