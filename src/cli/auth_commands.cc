// kade login | whoami | users | tokens
#include <unistd.h>

#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "core/status.h"

namespace kade {

void AddAuthCommands(CLI::App& app, ClientOptions* opts, int* exit_code) {
  auto* login =
      app.add_subcommand("login", "Store the server URL and an API token for later commands");
  static std::string login_url_storage{"http://127.0.0.1:8080"};
  auto* login_url = &login_url_storage;
  static std::string login_token_storage{};
  auto* login_token = &login_token_storage;
  login->add_option("--url", *login_url, "Server URL")->capture_default_str();
  login->add_option("--token", *login_token, "API token (read from standard input when omitted)");
  login->callback([=] {
    std::string token = *login_token;
    if (!opts->token.empty() && token.empty()) token = opts->token;
    if (token.empty()) {
      if (isatty(STDIN_FILENO)) std::cerr << "API token: ";
      std::getline(std::cin, token);
    }
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    ClientOptions o = *opts;
    o.url = *login_url;
    o.token = token;
    Client c(o);
    absl::StatusOr<Json> me = c.Call("GET", "/api/v1/whoami");
    if (!me.ok()) {
      *exit_code = Report(me.status());
      return;
    }
    absl::Status s = SaveClientConfig({*login_url, token});
    if (!s.ok()) {
      *exit_code = Report(s);
      return;
    }
    std::cout << "Logged in to " << *login_url << " as " << (*me)["name"].get<std::string>()
              << " (saved to " << ConfigPath() << ")\n";
  });

  auto* whoami = app.add_subcommand("whoami", "Show the user the current token belongs to");
  whoami->callback([=] {
    *exit_code = WithClient(*opts, [](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json me, c.Call("GET", "/api/v1/whoami"));
      if (c.json()) {
        std::cout << me.dump(2) << "\n";
      } else {
        std::cout << me["name"].get<std::string>() << (me["admin"].get<bool>() ? " (admin)" : "")
                  << " at " << c.options().url << "\n";
      }
      return absl::OkStatus();
    });
  });

  // users
  auto* users = app.add_subcommand("users", "Manage users (platform admins)");
  users->require_subcommand(1);
  auto* ucreate = users->add_subcommand("create", "Create a user");
  static std::string uname_storage{};
  auto* uname = &uname_storage;
  static std::string uemail_storage{};
  auto* uemail = &uemail_storage;
  static std::string udisplay_storage{};
  auto* udisplay = &udisplay_storage;
  static bool uadmin_storage{false};
  auto* uadmin = &uadmin_storage;
  ucreate->add_option("name", *uname, "User name")->required();
  ucreate->add_option("--email", *uemail, "E-mail address");
  ucreate->add_option("--display-name", *udisplay, "Display name");
  ucreate->add_flag("--admin", *uadmin, "Make the user a platform admin");
  ucreate->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      Json body{
          {"name", *uname}, {"email", *uemail}, {"display_name", *udisplay}, {"admin", *uadmin}};
      ASSIGN_OR_RETURN(Json u, c.Call("POST", "/api/v1/users", &body));
      if (c.json()) {
        std::cout << u.dump(2) << "\n";
      } else {
        std::cout << "Created user " << u["name"].get<std::string>()
                  << ". Give them a token with: kade tokens create --user " << *uname << "\n";
      }
      return absl::OkStatus();
    });
  });
  auto* ulist = users->add_subcommand("list", "List users")->alias("ls");
  ulist->callback([=] {
    *exit_code = WithClient(*opts, [](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/users"));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& u : r["users"]) {
        rows.push_back({JsonCell(u["name"]), JsonCell(u["display_name"]), JsonCell(u["email"]),
                        u["admin"].get<bool>() ? "yes" : "no",
                        u.value("disabled", false) ? "yes" : "no", JsonCell(u["created_at"])});
      }
      PrintTable({"name", "display name", "email", "admin", "disabled", "created"}, rows);
      return absl::OkStatus();
    });
  });

  auto* uupdate = users->add_subcommand("update", "Change a user: admin flag, disabled, name");
  struct UserUpdateArgs {
    std::string name, email, display, admin, disabled;
  };
  static UserUpdateArgs uu;
  uupdate->add_option("name", uu.name, "User name")->required();
  uupdate->add_option("--email", uu.email, "E-mail address");
  uupdate->add_option("--display-name", uu.display, "Display name");
  uupdate->add_option("--admin", uu.admin, "Platform admin: true or false")
      ->check(CLI::IsMember({"true", "false"}));
  uupdate->add_option("--disabled", uu.disabled, "Disabled (tokens refused): true or false")
      ->check(CLI::IsMember({"true", "false"}));
  uupdate->callback([=] {
    *exit_code = WithClient(*opts, [](Client& c) -> absl::Status {
      Json body = Json::object();
      if (!uu.email.empty()) body["email"] = uu.email;
      if (!uu.display.empty()) body["display_name"] = uu.display;
      if (!uu.admin.empty()) body["admin"] = uu.admin == "true";
      if (!uu.disabled.empty()) body["disabled"] = uu.disabled == "true";
      if (body.empty()) {
        return absl::InvalidArgumentError(
            "nothing to change: give --admin, --disabled, --email or --display-name");
      }
      ASSIGN_OR_RETURN(Json u, c.Call("PATCH", "/api/v1/users/" + uu.name, &body));
      if (c.json()) {
        std::cout << u.dump(2) << "\n";
      } else {
        std::cout << "Updated user " << u["name"].get<std::string>()
                  << (u["admin"].get<bool>() ? " (admin)" : "")
                  << (u["disabled"].get<bool>() ? " (disabled)" : "") << "\n";
      }
      return absl::OkStatus();
    });
  });

  // tokens
  auto* tokens = app.add_subcommand("tokens", "Manage API tokens");
  tokens->require_subcommand(1);
  auto* tcreate = tokens->add_subcommand("create", "Create an API token (shown once)");
  static std::string tname_storage{"cli"};
  auto* tname = &tname_storage;
  static std::string tuser_storage{};
  auto* tuser = &tuser_storage;
  static std::string texpires_storage{};
  auto* texpires = &texpires_storage;
  tcreate->add_option("--name", *tname, "A label for the token")->capture_default_str();
  tcreate->add_option("--user", *tuser, "Create for another user (admins)");
  tcreate->add_option("--expires-in", *texpires, "Lifetime, e.g. 30d, 12h");
  tcreate->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      Json body{{"name", *tname}};
      if (!tuser->empty()) body["user"] = *tuser;
      if (!texpires->empty()) {
        ASSIGN_OR_RETURN(int64_t secs, ParseDurationSeconds(*texpires));
        body["expires_in_seconds"] = secs;
      }
      ASSIGN_OR_RETURN(Json t, c.Call("POST", "/api/v1/tokens", &body));
      if (c.json()) {
        std::cout << t.dump(2) << "\n";
      } else {
        std::cout << t["token"].get<std::string>() << "\n";
        std::cerr << "Token " << t["id"] << " for " << t["user"].get<std::string>()
                  << " created; it is shown only once"
                  << (t["expires_at"].is_null() ? "" : ", expires " + JsonCell(t["expires_at"]))
                  << ".\n";
      }
      return absl::OkStatus();
    });
  });
  auto* tlist = tokens->add_subcommand("list", "List API tokens")->alias("ls");
  static std::string tlist_user_storage{};
  auto* tlist_user = &tlist_user_storage;
  static bool tlist_all_storage{false};
  auto* tlist_all = &tlist_all_storage;
  tlist->add_option("--user", *tlist_user, "Another user's tokens (admins)");
  tlist->add_flag("--all", *tlist_all, "Every user's tokens (admins)");
  tlist->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      std::string q = *tlist_all ? "?user=*" : tlist_user->empty() ? "" : "?user=" + *tlist_user;
      ASSIGN_OR_RETURN(Json r, c.Call("GET", "/api/v1/tokens" + q));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& t : r["tokens"]) {
        rows.push_back({JsonCell(t["id"]), JsonCell(t["user"]), JsonCell(t["name"]),
                        JsonCell(t["prefix"]) + "…", JsonCell(t["status"]),
                        JsonCell(t["created_at"]), JsonCell(t["expires_at"]),
                        JsonCell(t["last_used_at"])});
      }
      PrintTable({"id", "user", "name", "prefix", "status", "created", "expires", "last used"},
                 rows);
      return absl::OkStatus();
    });
  });
  auto* trevoke = tokens->add_subcommand("revoke", "Revoke an API token");
  static std::string tid_storage{};
  auto* tid = &tid_storage;
  trevoke->add_option("id", *tid, "Token id (from `kade tokens list`)")->required();
  trevoke->callback([=] {
    *exit_code = WithClient(*opts, [=](Client& c) -> absl::Status {
      ASSIGN_OR_RETURN(Json r, c.Call("DELETE", "/api/v1/tokens/" + *tid));
      if (c.json()) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::cout << "Revoked token " << *tid << "\n";
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace kade
