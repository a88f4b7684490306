// kade projects | members
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/client.h"
#include "core/status.h"

namespace kade {

void AddProjectCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  auto* projects = app.add_subcommand("projects", "Manage projects");
  projects->require_subcommand(1);
  auto* pcreate = projects->add_subcommand("create", "Create a project (you become its owner)");
  static std::string pname_storage{};
  auto* pname = &pname_storage;
  static std::string pdesc_storage{};
  auto* pdesc = &pdesc_storage;
  pcreate->add_option("name", *pname, "Project name")->required();
  pcreate->add_option("--description,-d", *pdesc, "What the project is for");
  pcreate->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      Json body{{"name", *pname}, {"description", *pdesc}};
      ASSIGN_OR_RETURN(Json p, c.Call("POST", "/api/v1/projects", &body));
      if (c.json()) {
        std::cout << p.dump(2) << "\n";
      } else {
        std::cout << "Created project " << p["name"].get<std::string>() << "\n";
      }
      return absl::OkStatus();
    });
  });
  auto* plist = projects->add_subcommand("list", "List the projects you can see")->alias("ls");
  plist->callback([=] {
    *exit_code = WithClient(*opts, [](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/projects"));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : r["projects"]) {
        rows.push_back({JsonCell(p["name"]), JsonCell(p["role"]), JsonCell(p["created_by"]),
                        JsonCell(p["created_at"]), JsonCell(p["description"])});
      }
      PrintTable({"name", "your role", "created by", "created", "description"}, rows);
      return absl::OkStatus();
    });
  });
  auto* pdelete = projects->add_subcommand("delete", "Delete a project and everything in it");
  static std::string pdel_name_storage{};
  auto* pdel_name = &pdel_name_storage;
  pdelete->add_option("name", *pdel_name, "Project name")->required();
  pdelete->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("DELETE", "/api/v1/projects/" + *pdel_name));
      std::cout << (c.json() ? r.dump(2) : "Deleted project " + *pdel_name) << "\n";
      return absl::OkStatus();
    });
  });

  auto* members = app.add_subcommand("members", "Manage who has which role in a project");
  members->require_subcommand(1);
  auto* madd = members->add_subcommand("add", "Give a user a role in a project (or change it)");
  static std::string mproject_storage{};
  auto* mproject = &mproject_storage;
  static std::string muser_storage{};
  auto* muser = &muser_storage;
  static std::string mrole_storage{};
  auto* mrole = &mrole_storage;
  madd->add_option("project", *mproject, "Project name")->required();
  madd->add_option("user", *muser, "User name")->required();
  madd->add_option("role", *mrole, "viewer, editor, maintainer or owner")
      ->required()
      ->check(CLI::IsMember({"viewer", "editor", "maintainer", "owner"}));
  madd->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      Json body{{"user", *muser}, {"role", *mrole}};
      ASSIGN_OR_RETURN(Json m, c.Call("POST", "/api/v1/projects/" + *mproject + "/members", &body));
      std::cout << (c.json() ? m.dump(2)
                             : *muser + " is now " + *mrole + " in project " + *mproject)
                << "\n";
      return absl::OkStatus();
    });
  });
  auto* mremove = members->add_subcommand("remove", "Remove a user from a project")->alias("rm");
  static std::string rproject_storage{};
  auto* rproject = &rproject_storage;
  static std::string ruser_storage{};
  auto* ruser = &ruser_storage;
  mremove->add_option("project", *rproject, "Project name")->required();
  mremove->add_option("user", *ruser, "User name")->required();
  mremove->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r,
                       c.Call("DELETE", "/api/v1/projects/" + *rproject + "/members/" + *ruser));
      std::cout << (c.json() ? r.dump(2) : "Removed " + *ruser + " from project " + *rproject)
                << "\n";
      return absl::OkStatus();
    });
  });
  auto* mlist = members->add_subcommand("list", "List a project's members")->alias("ls");
  static std::string lproject_storage{};
  auto* lproject = &lproject_storage;
  mlist->add_option("project", *lproject, "Project name")->required();
  mlist->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/projects/" + *lproject + "/members"));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& m : r["members"]) {
        rows.push_back({JsonCell(m["user"]), JsonCell(m["role"]), JsonCell(m["since"])});
      }
      PrintTable({"user", "role", "since"}, rows);
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
