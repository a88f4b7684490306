// kade audit list|verify, kade gc
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "core/status.h"
#include "platform/audit_log.h"
#include "store/metadata.h"

namespace kade {

void AddAuditCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  auto* audit = app.add_subcommand("audit", "Read and verify the audit log");
  audit->require_subcommand(1);
  auto* alist = audit->add_subcommand("list", "List audit entries, newest first")->alias("ls");
  static std::string aproject_storage{};
  auto* aproject = &aproject_storage;
  static std::string aactor_storage{};
  auto* aactor = &aactor_storage;
  static std::string aaction_storage{};
  auto* aaction = &aaction_storage;
  static int alimit_storage{50};
  auto* alimit = &alimit_storage;
  alist->add_option("--project", *aproject, "Only entries of this project");
  alist->add_option("--actor", *aactor, "Only entries by this user");
  alist->add_option("--action", *aaction, "Only this action, e.g. member.add");
  alist->add_option("--limit", *alimit, "How many entries")->capture_default_str();
  alist->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      std::string q = absl::StrCat("?limit=", *alimit);
      if (!aactor->empty()) q += "&actor=" + *aactor;
      if (!aaction->empty()) q += "&action=" + *aaction;
      std::string path =
          aproject->empty() ? "/api/v1/audit" + q : "/api/v1/projects/" + *aproject + "/audit" + q;
      ASSIGN_OR_RETURN(Json r, c.Call("GET", path));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : r["entries"]) {
        rows.push_back({JsonCell(e["seq"]), JsonCell(e["time"]), JsonCell(e["actor"]),
                        JsonCell(e["action"]), JsonCell(e["target"]), JsonCell(e["outcome"])});
      }
      PrintTable({"seq", "time", "actor", "action", "target", "outcome"}, rows);
      return absl::OkStatus();
    });
  });
  auto* averify = audit->add_subcommand("verify", "Check the audit log's hash chain");
  static std::string verify_data_dir_storage;
  auto* verify_data_dir = &verify_data_dir_storage;
  averify->add_option("--data-dir", *verify_data_dir,
                      "Verify the database in this data directory directly (server may be down)");
  averify->callback([=] {
    auto report = [](const ClientOptions& o, const Json& r) -> absl::Status {
      if (o.json) std::cout << r.dump(2) << "\n";
      if (!r["ok"].get<bool>()) {
        return absl::DataLossError(absl::StrCat("audit log verification FAILED at entry ",
                                                r["first_bad_seq"].dump(), ": ",
                                                r["problem"].get<std::string>()));
      }
      if (!o.json) {
        std::cout << "audit log OK: " << r["entries"] << " entries, head " << r["head_seq"] << " "
                  << r["head_hash"].get<std::string>() << "\n";
      }
      return absl::OkStatus();
    };
    if (!verify_data_dir->empty()) {
      // Offline: read the database file directly.
      MetadataStoreOptions mo;
      mo.path = *verify_data_dir + "/kade.db";
      absl::StatusOr<std::unique_ptr<MetadataStore>> store = MetadataStore::OpenSqlite(mo);
      if (!store.ok()) {
        *exit_code = Report(store.status());
        return;
      }
      AuditLog log(store->get());
      absl::StatusOr<AuditVerifyReport> rep = log.Verify();
      if (!rep.ok()) {
        *exit_code = Report(rep.status());
        return;
      }
      Json j{{"ok", rep->ok},
             {"entries", rep->entries},
             {"head_seq", rep->head_seq},
             {"head_hash", rep->head_hash}};
      if (!rep->ok) {
        j["first_bad_seq"] = rep->first_bad_seq;
        j["problem"] = rep->problem;
      }
      *exit_code = Report(report(*opts, j));
      return;
    }
    *exit_code = WithClient(*opts, [&](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/audit/verify"));
      return report(c.options(), r);
    });
  });

  auto* gc = app.add_subcommand("gc", "Remove artifact blobs nothing refers to (platform admins)");
  static bool dry_storage{false};
  auto* dry = &dry_storage;
  static std::string grace_storage{"1h"};
  auto* grace = &grace_storage;
  gc->add_flag("--dry-run", *dry, "Only report what would be removed");
  gc->add_option("--grace", *grace, "Keep unreferenced blobs younger than this (e.g. 1h, 0s)")
      ->capture_default_str();
  gc->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(int64_t secs, ParseDurationSeconds(*grace));
      Json body{{"dry_run", *dry}, {"grace_seconds", secs}};
      ASSIGN_OR_RETURN(Json r, c.Call("POST", "/api/v1/admin/gc", &body));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::cout << (*dry ? "would remove " : "removed ") << r["blobs_removed"] << " of "
                  << r["blobs_total"] << " blobs (" << r["bytes_removed"] << " bytes); "
                  << r["blobs_referenced"] << " referenced, " << r["blobs_kept_young"]
                  << " kept as younger than the grace period\n";
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
