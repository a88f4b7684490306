// kade monitor: the fleet's status and an endpoint's drift, data quality, health, fit, KPIs
// and monitor configuration (docs/monitoring.md).
#include <fstream>
#include <iostream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "core/status.h"

namespace kade {
namespace {

std::string Monitoring(const std::string& p, const std::string& e) {
  return absl::StrCat("/api/v1/projects/", p, "/endpoints/", e, "/monitoring");
}

// A number with `digits` significant digits, or `decimals` after the point when given.
std::string Fig(const Json& v, int decimals = -1) {
  if (v.is_number()) {
    return decimals >= 0 ? absl::StrFormat("%.*f", decimals, v.get<double>())
                         : absl::StrFormat("%.4g", v.get<double>());
  }
  return v.is_null() ? std::string("-") : JsonCell(v);
}

void PrintDrift(const Json& rows, const char* what) {
  std::vector<std::vector<std::string>> out;
  for (const auto& f : rows) {
    out.push_back({JsonCell(f["name"]), JsonCell(f["type"]), JsonCell(f["method"]), Fig(f["value"]),
                   Fig(f["threshold"]), f["drifted"].get<bool>() ? "DRIFT" : "ok",
                   f["current_count"].dump()});
  }
  PrintTable({what, "TYPE", "METHOD", "VALUE", "THRESHOLD", "VERDICT", "ROWS"}, out);
}

}  // namespace

void AddMonitorCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  static std::string project;
  auto run = [opts, exit_code](bool needs_project, std::function<absl::Status(Client&)> fn) {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      if (needs_project && project.empty()) {
        return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
      }
      return fn(c);
    });
  };
  auto* mon = app.add_subcommand(
      "monitor", "Monitoring: fleet status, drift, data quality, health, fit, KPIs, monitors");
  mon->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  mon->require_subcommand(1);

  mon->add_subcommand("status", "Every endpoint you can see, most in need of attention first")
      ->callback([=] {
        run(false, [&](Client& c) -> absl::Status {
          ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/monitoring/fleet"));
          if (c.json()) {
            std::cout << r.dump(2) << "\n";
            return absl::OkStatus();
          }
          std::vector<std::vector<std::string>> rows;
          for (const auto& e : r["endpoints"]) {
            rows.push_back({absl::StrCat(JsonCell(e["project"]), "/", JsonCell(e["endpoint"])),
                            JsonCell(e["status"]), JsonCell(e["health"]), JsonCell(e["drift"]),
                            JsonCell(e["quality"]), JsonCell(e.value("fit", Json("grey"))),
                            e["requests_1h"].dump(), Fig(e["p99_ms_1h"], 2),
                            e.value("value", Json()).is_number()
                                ? absl::StrCat(JsonCell(e["value_name"]), " ", Fig(e["value"]))
                                : "-",
                            JsonCell(e["reason"])});
          }
          PrintTable({"ENDPOINT", "STATUS", "HEALTH", "DRIFT", "QUALITY", "FIT", "REQ/1H", "P99 MS",
                      "VALUE/24H", "WHY"},
                     rows);
          return absl::OkStatus();
        });
      });

  static std::string name, window = "24h";
  static int64_t version = 0;
  auto* drift = mon->add_subcommand("drift", "Feature and prediction drift against the reference");
  drift->add_option("endpoint", name, "Endpoint name")->required();
  drift->add_option("--window,-w", window, "1h, 24h, 7d, 30d or seconds")->capture_default_str();
  drift->add_option("--version", version, "Version compared (default: the busiest)");
  drift->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      std::string url = absl::StrCat(Monitoring(project, name), "/drift?window=", window);
      if (version > 0) absl::StrAppend(&url, "&version=", version);
      ASSIGN_OR_RETURN(Json r, c.Call("GET", url));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << "version " << r["version"].dump() << " against " << JsonCell(r["reference"])
                << ", " << r["rows"].dump() << " rows in " << JsonCell(r["window"]) << "\n";
      if (r.contains("note")) std::cout << JsonCell(r["note"]) << "\n";
      PrintDrift(r["features"], "FEATURE");
      if (!r["outputs"].empty()) PrintDrift(r["outputs"], "OUTPUT");
      const Json& d = r["drift"];
      std::cout << "dataset drift: " << (d["dataset_drift"].get<bool>() ? "YES" : "no") << " ("
                << d["features_drifted"].dump() << " of " << d["features_checked"].dump()
                << " features drifted; threshold share " << Fig(d["drift_share"]) << ")\n";
      const Json& mv = r["multivariate"];
      if (mv.value("available", false)) {
        std::cout << "multivariate drift: " << (mv["drifted"].get<bool>() ? "YES" : "no")
                  << " (reconstruction error " << Fig(mv["error"]) << ", expected "
                  << Fig(mv["lower"]) << " to " << Fig(mv["upper"]) << ")\n";
      } else {
        std::cout << "multivariate drift: " << JsonCell(mv.value("note", Json("-"))) << "\n";
      }
      return absl::OkStatus();
    });
  });

  static std::string step;
  auto* trend = mon->add_subcommand(
      "trend", "Drift, reconstruction error, estimated and realised fit and value per step");
  trend->add_option("endpoint", name, "Endpoint name")->required();
  trend->add_option("--window,-w", window, "1h, 24h, 7d, 30d or seconds")->capture_default_str();
  trend->add_option("--step", step, "Width of a point: 5m, 1h, 1d (default 1h up to 24 h)");
  trend->add_option("--version", version, "Version (default: the busiest)");
  trend->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      std::string url = absl::StrCat(Monitoring(project, name), "/trend?window=", window);
      if (!step.empty()) absl::StrAppend(&url, "&step=", step);
      if (version > 0) absl::StrAppend(&url, "&version=", version);
      ASSIGN_OR_RETURN(Json r, c.Call("GET", url));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << "version " << r["version"].dump() << ", one point per " << JsonCell(r["step"])
                << "\n";
      auto fig = [](const Json& j) { return j.is_number() ? Fig(j) : std::string("-"); };
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : r["points"]) {
        if (p["rows"].get<int64_t>() == 0 && p["labelled"].get<int64_t>() == 0) continue;
        rows.push_back(
            {JsonCell(p["start"]), p["rows"].dump(),
             absl::StrCat(p["features_drifted"].dump(), "/", p["features_checked"].dump()),
             fig(p["reconstruction_error"]), p.value("multivariate_drift", false) ? "YES" : "no",
             fig(p["estimated_auc"]), fig(p["realised"].value("auc", Json())),
             fig(p["realised"].value("rmse", Json())), p["labelled"].dump(), fig(p["value"])});
      }
      PrintTable({"START", "ROWS", "DRIFTED", "RECON ERR", "MV DRIFT", "EST AUC", "AUC", "RMSE",
                  "LABELLED", "VALUE"},
                 rows);
      return absl::OkStatus();
    });
  });

  auto* quality = mon->add_subcommand("quality", "Data quality in production: violations");
  quality->add_option("endpoint", name, "Endpoint name")->required();
  quality->add_option("--window,-w", window, "1h, 24h, 7d, 30d or seconds")->capture_default_str();
  quality->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", absl::StrCat(Monitoring(project, name),
                                                          "/quality?window=", window)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << r["rows"].dump() << " rows answered, " << r["refused"].dump()
                << " requests refused in " << JsonCell(r["window"]) << "\n";
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : r["violations"]) {
        rows.push_back({JsonCell(v["feature_name"]), JsonCell(v["constraint_check_type"]),
                        JsonCell(v["description"])});
      }
      if (rows.empty()) {
        std::cout << "no violations\n";
      } else {
        PrintTable({"FEATURE", "CHECK", "DESCRIPTION"}, rows);
      }
      return absl::OkStatus();
    });
  });

  static std::string hwindow = "1h";
  auto* health = mon->add_subcommand("health", "Requests, errors, availability and latency");
  health->add_option("endpoint", name, "Endpoint name")->required();
  health->add_option("--window,-w", hwindow, "1h, 24h, 7d, 30d or seconds")->capture_default_str();
  health->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", absl::StrCat(Monitoring(project, name),
                                                          "/health?window=", hwindow)));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : r["versions"]) {
        for (const auto& p : v["points"]) {
          rows.push_back({"v" + v["version"].dump(), JsonCell(p["time"]), p["requests"].dump(),
                          p["errors"].dump(), Fig(p["availability"], 4), Fig(p["p50_ms"], 2),
                          Fig(p["p99_ms"], 2)});
        }
      }
      PrintTable({"VERSION", "FROM", "REQUESTS", "ERRORS", "AVAILABILITY", "P50 MS", "P99 MS"},
                 rows);
      const Json& t = r["total"];
      std::cout << "total: " << t["requests"].dump() << " requests, " << t["errors"].dump()
                << " errors, availability " << Fig(t["availability"], 4) << ", p99 "
                << Fig(t["p99_ms"], 2) << " ms (step " << JsonCell(r["step"]) << ")\n";
      return absl::OkStatus();
    });
  });

  static std::string kpi_name, kpi_time;
  static double kpi_value = 0;
  auto* kpi = mon->add_subcommand("kpi", "Post a KPI value (business value) for an endpoint");
  kpi->add_option("endpoint", name, "Endpoint name")->required();
  kpi->add_option("--name", kpi_name, "KPI name")->required();
  kpi->add_option("--value", kpi_value, "Value")->required();
  kpi->add_option("--time", kpi_time, "RFC 3339 time (default: now)");
  kpi->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      Json body{{"name", kpi_name}, {"value", kpi_value}};
      if (!kpi_time.empty()) body["time"] = kpi_time;
      ASSIGN_OR_RETURN(Json r, c.Call("POST", Monitoring(project, name) + "/kpis", &body));
      std::cout << (c.json() ? r.dump(2) : std::string("posted")) << "\n";
      return absl::OkStatus();
    });
  });

  static std::string config_file;
  auto* config = mon->add_subcommand(
      "config", "Show an endpoint's monitor, or replace it with --set FILE (JSON)");
  config->add_option("endpoint", name, "Endpoint name")->required();
  config->add_option("--set", config_file, "JSON file with the new configuration");
  config->callback([=] {
    run(true, [&](Client& c) -> absl::Status {
      Json r;
      if (config_file.empty()) {
        ASSIGN_OR_RETURN(r, c.Call("GET", Monitoring(project, name) + "/monitor"));
      } else {
        std::ifstream in(config_file);
        if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", config_file));
        std::stringstream ss;
        ss << in.rdbuf();
        auto body = ParseJsonObject(ss.str());
        if (!body.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(config_file, ": ", body.status().message()));
        }
        ASSIGN_OR_RETURN(r, c.Call("PUT", Monitoring(project, name) + "/monitor", &*body));
      }
      std::cout << r.dump(2) << "\n";
      return absl::OkStatus();
    });
  });

  mon->add_subcommand("alerts", "Alert rules with their state: firing and pending first")
      ->callback([=] {
        run(true, [&](Client& c) -> absl::Status {
          ASSIGN_OR_RETURN(Json r,
                           c.Call("GET", absl::StrCat("/api/v1/projects/", project, "/alerts")));
          if (c.json()) {
            std::cout << r.dump(2) << "\n";
            return absl::OkStatus();
          }
          std::vector<std::vector<std::string>> rows;
          for (int pass = 0; pass < 3; ++pass) {
            const char* want = pass == 0 ? "firing" : pass == 1 ? "pending" : "inactive";
            for (const auto& a : r["rules"]) {
              if (a["state"] != want) continue;
              std::string cond =
                  absl::StrCat(JsonCell(a["metric"]),
                               a.contains("feature") ? "(" + JsonCell(a["feature"]) + ")" : "", " ",
                               JsonCell(a["comparator"]), " ", Fig(a["threshold"]), " over ",
                               JsonCell(a["window"]), " for ", JsonCell(a["for"]));
              rows.push_back({JsonCell(a["name"]), JsonCell(a["endpoint"]),
                              absl::StrCat(want, a["silenced"].get<bool>() ? " (silenced)" : ""),
                              Fig(a["value"]), cond, JsonCell(a["since"])});
            }
          }
          PrintTable({"ALERT", "ENDPOINT", "STATE", "VALUE", "CONDITION", "SINCE"}, rows);
          std::cout << r["firing"].dump() << " firing, " << r["pending"].dump() << " pending\n";
          return absl::OkStatus();
        });
      });

  mon->add_subcommand("rules",
                      "The project's alert rules as Prometheus alerting rules (for promtool "
                      "and a Prometheus scraping Kade's /metrics)")
      ->callback([=] {
        run(true, [&](Client& c) -> absl::Status {
          ASSIGN_OR_RETURN(RawResponse r, HttpRequestRaw(c.options().url, "GET",
                                                         absl::StrCat("/api/v1/projects/", project,
                                                                      "/alerts/prometheus-rules"),
                                                         "", c.options().token));
          RETURN_IF_ERROR(StatusFromResponse(r));
          std::cout << r.body;
          return absl::OkStatus();
        });
      });
}

}  // namespace kade
