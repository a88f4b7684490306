// kade data: the dataset catalog from the command line.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fstream>
#include <sstream>
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/client.h"
#include "core/status.h"
#include "data/ingest.h"

namespace kade {

namespace {

void PrintProfile(const Json& profile) {
  std::vector<std::vector<std::string>> rows;
  auto num = [](const Json& v) -> std::string {
    if (v.is_null()) return "-";
    if (v.is_number_float()) return absl::StrFormat("%.4g", v.get<double>());
    return JsonCell(v);
  };
  for (const auto& c : profile["columns"]) {
    std::string top;
    if (c.contains("top")) {
      for (size_t i = 0; i < c["top"].size() && i < 3; ++i) {
        absl::StrAppend(&top, i ? ", " : "", c["top"][i]["value"].get<std::string>(), " (",
                        c["top"][i]["count"].get<int64_t>(), ")");
      }
    }
    rows.push_back({JsonCell(c["name"]), JsonCell(c["type"]), JsonCell(c["nulls"]),
                    JsonCell(c["distinct"]), num(c.value("min", Json())),
                    num(c.value("mean", Json())), num(c.value("std", Json())),
                    num(c.value("max", Json())), top});
  }
  PrintTable({"column", "type", "nulls", "distinct", "min", "mean", "std", "max", "top values"},
             rows);
}

// "churn@3" -> ("churn", "3"); "churn" -> ("churn", "latest").
std::pair<std::string, std::string> SplitRef(const std::string& ref) {
  size_t at = ref.find('@');
  if (at == std::string::npos) return {ref, "latest"};
  return {ref.substr(0, at), ref.substr(at + 1)};
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

absl::StatusOr<Json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  return j;
}

std::string Base(const std::string& project) {
  return "/api/v1/projects/" + UrlEncode(project) + "/datasets";
}

void PrintQuality(const Json& q) {
  std::cout << "quality: " << q.value("status", "unchecked") << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : q.value("checks", Json::array())) {
    rows.push_back({JsonCell(c["check"]), c.value("column", "-"), JsonCell(c["severity"]),
                    c["passed"].get<bool>() ? "pass" : "FAIL", JsonCell(c["message"])});
  }
  if (!rows.empty()) PrintTable({"check", "column", "severity", "result", "detail"}, rows);
}

}  // namespace

void AddDataCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  auto* data = app.add_subcommand("data", "Datasets: push, list, show, profile, download");
  data->require_subcommand(1);

  static std::string project;
  data->add_option("--project,-p", project, "Project (default: KADE_PROJECT)")
      ->envname("KADE_PROJECT");
  auto need_project = []() -> absl::Status {
    if (project.empty())
      return absl::InvalidArgumentError("give the project with --project or KADE_PROJECT");
    return absl::OkStatus();
  };

  auto* push = data->add_subcommand("push", "Upload a file as a new version of a dataset");
  static std::string push_file, push_dataset, push_target, push_schema, push_checks,
      push_format = "auto", push_description;
  push->add_option("file", push_file, "CSV, TSV or JSON Lines file (gzip/zstd ok)")->required();
  push->add_option("--dataset,-d", push_dataset, "Dataset name")->required();
  push->add_option("--target", push_target, "Declare the target column");
  push->add_option("--schema", push_schema, "Pin this schema (JSON file) before the upload");
  push->add_option("--checks", push_checks,
                   "Set these quality checks (JSON file) before the upload");
  push->add_option("--format", push_format, "auto, csv, tsv or jsonl")->capture_default_str();
  push->add_option("--description", push_description, "Dataset description (when new)");
  push->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      std::string base = Base(project);
      if (!push_schema.empty() || !push_checks.empty()) {
        Json spec = Json::object();
        if (!push_schema.empty()) {
          ASSIGN_OR_RETURN(spec["schema"], ReadJsonFile(push_schema));
        }
        if (!push_checks.empty()) {
          ASSIGN_OR_RETURN(spec["checks"], ReadJsonFile(push_checks));
        }
        if (!push_target.empty()) spec["target"] = push_target;
        absl::StatusOr<Json> patched = c.Call("PATCH", base + "/" + UrlEncode(push_dataset), &spec);
        if (absl::IsNotFound(patched.status())) {
          spec["name"] = push_dataset;
          if (!push_description.empty()) spec["description"] = push_description;
          RETURN_IF_ERROR(c.Call("POST", base, &spec).status());
        } else {
          RETURN_IF_ERROR(patched.status());
        }
      }
      std::string fname = push_file.substr(push_file.rfind('/') + 1);
      std::string target =
          absl::StrCat(base, "/", UrlEncode(push_dataset), "/versions?filename=", UrlEncode(fname),
                       "&format=", UrlEncode(push_format));
      if (!push_target.empty()) absl::StrAppend(&target, "&target=", UrlEncode(push_target));
      if (!push_description.empty())
        absl::StrAppend(&target, "&description=", UrlEncode(push_description));
      ASSIGN_OR_RETURN(RawResponse r, HttpUploadFile(c.options().url, "POST", target, push_file,
                                                     c.options().token));
      RETURN_IF_ERROR(StatusFromResponse(r));
      Json v = Json::parse(r.body, nullptr, false);
      if (c.json()) {
        std::cout << v.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << (v["created"].get<bool>() ? "Created " : "Unchanged: identical to ")
                << v["ref"].get<std::string>() << ": " << v["rows"] << " rows, " << v["columns"]
                << " columns, " << v["format"].get<std::string>() << ", sha256 "
                << v["sha256"].get<std::string>().substr(0, 12) << "…\n";
      PrintQuality(v["quality"]);
      return absl::OkStatus();
    });
  });

  auto* ls = data->add_subcommand("ls", "List or search datasets")->alias("list");
  static std::string ls_search;
  ls->add_option("--search,-s", ls_search, "Search names, descriptions, tags and column names");
  ls->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      std::string q = ls_search.empty() ? "" : "?q=" + UrlEncode(ls_search);
      ASSIGN_OR_RETURN(Json r, c.Call("GET", Base(project) + q));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& d : r["datasets"]) {
        rows.push_back({JsonCell(d["name"]), JsonCell(d["latest_version"]), JsonCell(d["rows"]),
                        d["roles"].value("target", "-"), JsonCell(d["owner"]),
                        JsonCell(d["description"])});
      }
      PrintTable({"dataset", "versions", "rows", "target", "owner", "description"}, rows);
      return absl::OkStatus();
    });
  });

  auto* show = data->add_subcommand("show", "Show a dataset and its versions, or one version");
  static std::string show_ref;
  show->add_option("dataset", show_ref, "NAME or NAME@VERSION")->required();
  show->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      auto [name, ver] = SplitRef(show_ref);
      if (show_ref.find('@') != std::string::npos) {
        ASSIGN_OR_RETURN(Json v, c.Call("GET", Base(project) + "/" + UrlEncode(name) +
                                                   "/versions/" + UrlEncode(ver)));
        if (c.json()) {
          std::cout << v.dump(2) << "\n";
          return absl::OkStatus();
        }
        std::cout << v["ref"].get<std::string>() << "  " << v["rows"] << " rows  "
                  << v["format"].get<std::string>() << " (" << v["compression"].get<std::string>()
                  << ")  sha256:" << v["sha256"].get<std::string>() << "\nuploaded "
                  << v["created_at"].get<std::string>() << " by "
                  << v["created_by"].get<std::string>() << "\n\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& col : v["schema"])
          rows.push_back({JsonCell(col["name"]), JsonCell(col["type"])});
        PrintTable({"column", "type"}, rows);
        std::cout << "\n";
        PrintQuality(v["quality"]);
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(Json d, c.Call("GET", Base(project) + "/" + UrlEncode(name)));
      if (c.json()) {
        std::cout << d.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << d["name"].get<std::string>() << ": " << d["description"].get<std::string>()
                << "\n"
                << "owner " << d["owner"].get<std::string>() << ", roles " << d["roles"].dump()
                << (d["pinned_schema"].is_null() ? "" : ", schema pinned") << ", "
                << d["checks"].size() << " quality check(s)\n\n";
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : d["versions"]) {
        rows.push_back({JsonCell(v["version"]), JsonCell(v["rows"]), JsonCell(v["columns"]),
                        JsonCell(v["format"]), JsonCell(v["quality_status"]),
                        JsonCell(v["created_at"]), JsonCell(v["created_by"]),
                        v["sha256"].get<std::string>().substr(0, 12)});
      }
      PrintTable({"version", "rows", "cols", "format", "quality", "created", "by", "sha256"}, rows);
      return absl::OkStatus();
    });
  });

  auto* profile = data->add_subcommand("profile", "Show a version's profile");
  static std::string profile_ref;
  profile->add_option("dataset", profile_ref, "NAME[@VERSION]")->required();
  profile->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      auto [name, ver] = SplitRef(profile_ref);
      ASSIGN_OR_RETURN(Json p, c.Call("GET", Base(project) + "/" + UrlEncode(name) + "/versions/" +
                                                 UrlEncode(ver) + "/profile"));
      if (c.json()) {
        std::cout << p.dump(2) << "\n";
      } else {
        std::cout << p["rows"] << " rows\n\n";
        PrintProfile(p);
      }
      return absl::OkStatus();
    });
  });

  auto* check = data->add_subcommand(
      "check", "Show a version's quality report (exit 1 when a blocking check failed)");
  static std::string check_ref;
  check->add_option("dataset", check_ref, "NAME[@VERSION]")->required();
  check->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      auto [name, ver] = SplitRef(check_ref);
      ASSIGN_OR_RETURN(Json q, c.Call("GET", Base(project) + "/" + UrlEncode(name) + "/versions/" +
                                                 UrlEncode(ver) + "/quality"));
      if (c.json())
        std::cout << q.dump(2) << "\n";
      else
        PrintQuality(q);
      if (q.value("status", "") == "failed")
        return absl::FailedPreconditionError("a blocking quality check failed");
      return absl::OkStatus();
    });
  });

  auto* diff = data->add_subcommand("diff", "Compare two versions of a dataset");
  static std::string diff_name, diff_from, diff_to;
  diff->add_option("dataset", diff_name, "Dataset name")->required();
  diff->add_option("from", diff_from, "Older version")->required();
  diff->add_option("to", diff_to, "Newer version")->required();
  diff->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      ASSIGN_OR_RETURN(Json d, c.Call("GET", Base(project) + "/" + UrlEncode(diff_name) +
                                                 "/diff?from=" + UrlEncode(diff_from) +
                                                 "&to=" + UrlEncode(diff_to)));
      if (c.json()) {
        std::cout << d.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::cout << diff_name << "@" << d["from"] << " -> @" << d["to"] << ": rows "
                << d["rows"]["from"] << " -> " << d["rows"]["to"] << "\n";
      for (const auto& c2 : d["schema"]["added"])
        std::cout << "  + column " << c2["name"].get<std::string>() << " ("
                  << c2["type"].get<std::string>() << ")\n";
      for (const auto& c2 : d["schema"]["removed"])
        std::cout << "  - column " << c2["name"].get<std::string>() << "\n";
      for (const auto& c2 : d["schema"]["type_changed"]) {
        std::cout << "  ~ column " << c2["name"].get<std::string>() << ": "
                  << c2["from"].get<std::string>() << " -> " << c2["to"].get<std::string>() << "\n";
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& col : d["columns"]) {
        std::string shift = col.contains("ks_statistic")
                                ? absl::StrFormat("KS %.3f", col["ks_statistic"].get<double>())
                            : col.contains("total_variation")
                                ? absl::StrFormat("TVD %.3f", col["total_variation"].get<double>())
                                : "-";
        rows.push_back(
            {JsonCell(col["name"]),
             absl::StrFormat("%.3f -> %.3f", col["null_fraction"]["from"].get<double>(),
                             col["null_fraction"]["to"].get<double>()),
             col.contains("mean")
                 ? absl::StrFormat(
                       "%.4g -> %.4g",
                       col["mean"]["from"].is_null() ? 0.0 : col["mean"]["from"].get<double>(),
                       col["mean"]["to"].is_null() ? 0.0 : col["mean"]["to"].get<double>())
                 : "-",
             shift, col.value("shifted", false) ? "SHIFTED" : ""});
      }
      PrintTable({"column", "null fraction", "mean", "distribution change", ""}, rows);
      return absl::OkStatus();
    });
  });

  auto* download = data->add_subcommand("download", "Download a version's original bytes");
  static std::string dl_ref, dl_out;
  download->add_option("dataset", dl_ref, "NAME[@VERSION]")->required();
  download->add_option("--output,-o", dl_out, "File to write")->required();
  download->callback([=] {
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      RETURN_IF_ERROR(need_project());
      auto [name, ver] = SplitRef(dl_ref);
      ASSIGN_OR_RETURN(RawResponse r,
                       HttpDownloadFile(c.options().url,
                                        Base(project) + "/" + UrlEncode(name) + "/versions/" +
                                            UrlEncode(ver) + "/download",
                                        dl_out, c.options().token));
      RETURN_IF_ERROR(StatusFromResponse(r));
      if (!c.json()) std::cout << "Wrote " << dl_out << "\n";
      return absl::OkStatus();
    });
  });

  auto* inspect = data->add_subcommand("inspect", "Profile a local file without a server");
  static std::string inspect_file, inspect_format = "auto", inspect_target;
  inspect->add_option("file", inspect_file, "CSV, TSV or JSON Lines file (gzip/zstd ok)")
      ->required();
  inspect->add_option("--format", inspect_format, "auto, csv, tsv or jsonl")->capture_default_str();
  inspect->add_option("--target", inspect_target, "Target column (for target correlations)");
  inspect->callback([=] {
    IngestOptions io;
    auto f = ParseTableFormat(inspect_format);
    if (!f) {
      *exit_code = Report(absl::InvalidArgumentError("--format must be auto, csv, tsv or jsonl"));
      return;
    }
    io.format = *f;
    io.filename = inspect_file;
    io.profile.target = inspect_target;
    int fd = ::open(inspect_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *exit_code = Report(absl::NotFoundError(absl::StrCat("cannot open ", inspect_file)));
      return;
    }
    Ingest ingest(io);
    std::string buf(1 << 20, '\0');
    absl::Status st;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      st = ingest.Feed(absl::string_view(buf.data(), static_cast<size_t>(n)));
      if (!st.ok()) break;
    }
    ::close(fd);
    if (!st.ok()) {
      *exit_code = Report(absl::Status(st.code(), absl::StrCat(inspect_file, ": ", st.message())));
      return;
    }
    absl::StatusOr<IngestResult> r = ingest.Finish();
    if (!r.ok()) {
      *exit_code = Report(
          absl::Status(r.status().code(), absl::StrCat(inspect_file, ": ", r.status().message())));
      return;
    }
    if (opts->json) {
      std::cout << Json{{"format", TableFormatName(r->format)},
                        {"compression", r->compression},
                        {"rows", r->rows},
                        {"schema", SchemaToJson(r->schema)},
                        {"profile", r->profile}}
                       .dump(2)
                << "\n";
      return;
    }
    std::cout << inspect_file << ": " << r->rows << " rows, " << r->schema.size() << " columns ("
              << TableFormatName(r->format) << ", " << r->compression << ")\n\n";
    PrintProfile(r->profile);
  });
}

}  // namespace kade
