// kade data: the dataset catalog from the command line.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

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

}  // namespace

void AddDataCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  auto* data = app.add_subcommand("data", "Datasets: push, list, show, profile, download");
  data->require_subcommand(1);

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
