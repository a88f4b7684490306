"""The kade CLI against a real server: login, projects, users, tokens, members, audit."""
import json
import os
import stat


def test_login_stores_config_with_mode_0600(server, tmpdir_path):
    home = os.path.join(tmpdir_path, "home")
    os.makedirs(home)
    from conftest import ADMIN_TOKEN
    env = {"HOME": home, "KADE_CONFIG": "", "XDG_CONFIG_HOME": ""}
    out = server.cli("login", "--url", server.url, token="", env=env, input=ADMIN_TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    cfg = os.path.join(home, ".config", "kade", "config.json")
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(cfg)).st_mode) == 0o700
    assert json.load(open(cfg)) == {"url": server.url, "token": ADMIN_TOKEN}
    # Later commands use the stored login.
    who = server.cli("whoami", token="", env=dict(env, KADE_URL=""))
    assert who.returncode == 0, who.stderr
    assert who.stdout.startswith("admin (admin)")


def test_login_with_bad_token_fails_and_stores_nothing(server, tmpdir_path):
    home = os.path.join(tmpdir_path, "home2")
    os.makedirs(home)
    out = server.cli("login", "--url", server.url, "--token", "kade_bad", token="",
                     env={"HOME": home, "KADE_CONFIG": "", "XDG_CONFIG_HOME": ""})
    assert out.returncode == 1
    assert out.stderr.startswith("kade: invalid API token (HTTP 401")
    assert not os.path.exists(os.path.join(home, ".config", "kade", "config.json"))


def test_project_user_token_member_commands(server):
    assert server.cli("projects", "create", "cli-proj", "-d", "made by the CLI").returncode == 0
    out = server.cli("projects", "list")
    assert "cli-proj" in out.stdout and "made by the CLI" in out.stdout
    assert out.stdout.splitlines()[0].split()[:2] == ["NAME", "YOUR"]
    data = json.loads(server.cli("--json", "projects", "list").stdout)
    assert any(p["name"] == "cli-proj" and p["role"] == "owner" for p in data["projects"])

    assert server.cli("users", "create", "zoe", "--email", "zoe@example.com").returncode == 0
    assert "zoe@example.com" in server.cli("users", "list").stdout
    tok = server.cli("tokens", "create", "--user", "zoe", "--name", "laptop", "--expires-in", "30d")
    assert tok.returncode == 0, tok.stderr
    secret = tok.stdout.strip()
    assert secret.startswith("kade_")
    who = server.cli("whoami", token=secret)
    assert who.stdout.startswith("zoe")

    assert server.cli("members", "add", "cli-proj", "zoe", "editor").returncode == 0
    lst = server.cli("members", "list", "cli-proj").stdout
    assert "zoe" in lst and "editor" in lst
    # zoe can now see the project.
    assert "cli-proj" in server.cli("projects", "list", token=secret).stdout
    assert server.cli("members", "remove", "cli-proj", "zoe").returncode == 0
    assert "cli-proj" not in server.cli("projects", "list", token=secret).stdout

    listed = json.loads(server.cli("--json", "tokens", "list", "--user", "zoe").stdout)["tokens"]
    assert listed[0]["name"] == "laptop" and listed[0]["expires_at"]
    assert server.cli("tokens", "revoke", str(listed[0]["id"])).returncode == 0
    denied = server.cli("whoami", token=secret)
    assert denied.returncode == 1 and "revoked" in denied.stderr

    audit = server.cli("audit", "list", "--limit", "100").stdout
    for action in ["project.create", "user.create", "token.create", "member.add", "member.remove",
                   "token.revoke"]:
        assert action in audit, action


def test_failures_exit_non_zero_with_one_line_reason(server):
    out = server.cli("projects", "create", "Bad Name")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1
    assert "invalid character" in out.stderr
    out = server.cli("members", "add", "nope", "admin", "viewer")
    assert out.returncode == 1 and "project 'nope' not found" in out.stderr
    out = server.cli("members", "add", "x", "y", "emperor")
    assert out.returncode == 2  # usage error
    out = server.cli("whoami", env={"KADE_URL": "http://127.0.0.1:1"})
    assert out.returncode == 1 and "cannot reach Kade" in out.stderr
    out = server.cli("whoami", token="", env={"KADE_CONFIG": "/nonexistent/cfg.json"})
    assert out.returncode == 1 and "kade login" in out.stderr
