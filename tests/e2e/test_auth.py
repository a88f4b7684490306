"""Authentication and authorisation end to end: 401, 403, 404, revoked and expired tokens."""
import time


def test_health_needs_no_token(server):
    assert server.request("GET", "/healthz").status == 200
    assert server.request("GET", "/readyz").json["status"] == "ready"


def test_api_without_token_is_401(server):
    for method, path in [("GET", "/api/v1/projects"), ("POST", "/api/v1/projects"),
                         ("GET", "/api/v1/users"), ("GET", "/metrics")]:
        r = server.request(method, path, body={} if method == "POST" else None)
        assert r.status == 401, (method, path, r.raw)
        assert r.error["code"] == "UNAUTHENTICATED"
        assert "Bearer" in r.headers.get("WWW-Authenticate", "")


def test_unknown_token_is_401(server):
    r = server.request("GET", "/api/v1/projects", token="kade_not_a_real_token")
    assert r.status == 401
    assert r.error["message"] == "invalid API token"


def test_wrong_scheme_is_401(server):
    r = server.request("GET", "/api/v1/projects", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert r.status == 401
    assert "Bearer" in r.error["message"]


def test_viewer_writing_is_403(server):
    viewer = server.make_user("vera")
    assert server.admin("POST", "/api/v1/projects", {"name": "churn"}).status == 201
    assert server.admin("POST", "/api/v1/projects/churn/members",
                        {"user": "vera", "role": "viewer"}).status == 200
    # Reading is allowed...
    assert server.request("GET", "/api/v1/projects/churn", token=viewer).status == 200
    # ...writing is not.
    r = server.request("PUT", "/api/v1/projects/churn/artifacts/x.txt", token=viewer, raw=b"x")
    assert r.status == 403, r.raw
    assert r.error["code"] == "PERMISSION_DENIED"
    assert "viewer" in r.error["message"] and "editor" in r.error["message"]
    r = server.request("POST", "/api/v1/projects/churn/members", token=viewer,
                       body={"user": "vera", "role": "owner"})
    assert r.status == 403


def test_other_projects_resources_are_404(server):
    alice = server.make_user("alice")
    bob = server.make_user("bob")
    assert server.request("POST", "/api/v1/projects", token=alice, body={"name": "alices"}).status == 201
    assert server.request("PUT", "/api/v1/projects/alices/artifacts/secret.txt", token=alice,
                          raw=b"s3cret").status == 201
    for path in ["/api/v1/projects/alices", "/api/v1/projects/alices/members",
                 "/api/v1/projects/alices/artifacts/secret.txt", "/api/v1/projects/alices/artifacts"]:
        r = server.request("GET", path, token=bob)
        assert r.status == 404, (path, r.raw)
        assert r.error["message"] == "project 'alices' not found"
    # Same answer as for a project that does not exist at all: existence does not leak.
    assert server.request("GET", "/api/v1/projects/nope", token=bob).error["message"] == \
        "project 'nope' not found"
    # And bob's list does not show it.
    assert server.request("GET", "/api/v1/projects", token=bob).json["projects"] == []


def test_revoked_token_is_refused(server):
    token = server.make_user("rita")
    assert server.request("GET", "/api/v1/whoami", token=token).status == 200
    tokens = server.request("GET", "/api/v1/tokens", token=token).json["tokens"]
    assert len(tokens) == 1 and tokens[0]["status"] == "active"
    assert server.request("DELETE", f"/api/v1/tokens/{tokens[0]['id']}", token=token).status == 200
    r = server.request("GET", "/api/v1/whoami", token=token)
    assert r.status == 401
    assert "revoked" in r.error["message"]


def test_expired_token_is_refused(server):
    server.make_user("eve")
    r = server.admin("POST", "/api/v1/tokens", {"name": "short", "user": "eve", "expires_in_seconds": 1})
    assert r.status == 201
    token = r.json["token"]
    assert server.request("GET", "/api/v1/whoami", token=token).status == 200
    time.sleep(1.3)
    r = server.request("GET", "/api/v1/whoami", token=token)
    assert r.status == 401
    assert "expired" in r.error["message"]


def test_tokens_are_shown_once_and_stored_hashed(server):
    import sqlite3, os
    r = server.admin("POST", "/api/v1/tokens", {"name": "once"})
    secret = r.json["token"]
    assert secret.startswith("kade_") and len(secret) == 5 + 43
    listed = server.admin("GET", "/api/v1/tokens").json["tokens"]
    assert all("token" not in t for t in listed)
    db = sqlite3.connect(os.path.join(server.data_dir, "kade.db"))
    rows = [row[0] for row in db.execute("SELECT token_hash FROM tokens")]
    db.close()
    assert secret not in rows and all(len(h) == 64 for h in rows)


def test_non_admin_cannot_create_users_or_others_tokens(server):
    t = server.make_user("ursula")
    assert server.request("POST", "/api/v1/users", token=t, body={"name": "x"}).status == 403
    r = server.request("POST", "/api/v1/tokens", token=t, body={"name": "x", "user": "admin"})
    assert r.status == 403
    # A non-admin revoking someone else's token is told it does not exist.
    admin_tokens = server.admin("GET", "/api/v1/tokens").json["tokens"]
    r = server.request("DELETE", f"/api/v1/tokens/{admin_tokens[0]['id']}", token=t)
    assert r.status == 404


def test_repeated_failures_from_one_address_are_slowed(make_server):
    s = make_server(extra_env={"KADE_AUTH_FAIL_LIMIT": "5", "KADE_AUTH_FAIL_WINDOW": "60"}).start()
    for _ in range(5):
        assert s.request("GET", "/api/v1/projects", token="kade_wrong").status == 401
    r = s.request("GET", "/api/v1/projects", token="kade_wrong")
    assert r.status == 429
    assert "too many failed authentication attempts" in r.error["message"]
    # Retry-After is the window's real remaining time, not a fixed hint.
    wait = int(r.headers["Retry-After"])
    assert 55 <= wait <= 60, wait
    assert f"retry in {wait} s" in r.error["message"]
    # Failed attempts are throttled, valid tokens are not: behind a proxy or NAT one attacker
    # must not lock everybody (the admin included) out.
    assert s.admin("GET", "/api/v1/projects").status == 200
    assert s.request("GET", "/api/v1/projects", token="kade_wrong").status == 429


def test_members_roles_and_last_owner(server):
    server.make_user("mia")
    server.make_user("max")
    assert server.admin("POST", "/api/v1/projects", {"name": "p1"}).status == 201
    r = server.admin("POST", "/api/v1/projects/p1/members", {"user": "mia", "role": "maintainer"})
    assert r.status == 200 and r.json["role"] == "maintainer"
    r = server.admin("PUT", "/api/v1/projects/p1/members/mia", {"role": "editor"})
    assert r.json["role"] == "editor"
    r = server.admin("POST", "/api/v1/projects/p1/members", {"user": "mia", "role": "boss"})
    assert r.status == 400 and "viewer, editor, maintainer, owner" in r.error["message"]
    r = server.admin("POST", "/api/v1/projects/p1/members", {"user": "ghost", "role": "viewer"})
    assert r.status == 404
    # admin is the only owner: cannot be removed or demoted.
    r = server.admin("DELETE", "/api/v1/projects/p1/members/admin")
    assert r.status == 409 and "last owner" in r.error["message"]
    r = server.admin("DELETE", "/api/v1/projects/p1/members/mia")
    assert r.status == 200
    members = [m["user"] for m in server.admin("GET", "/api/v1/projects/p1/members").json["members"]]
    assert members == ["admin"]


def test_maintainer_cannot_grant_owner(server):
    m = server.make_user("mo")
    server.make_user("ned")
    server.admin("POST", "/api/v1/projects", {"name": "p2"})
    server.admin("POST", "/api/v1/projects/p2/members", {"user": "mo", "role": "maintainer"})
    r = server.request("POST", "/api/v1/projects/p2/members", token=m, body={"user": "ned", "role": "owner"})
    assert r.status == 403
    r = server.request("POST", "/api/v1/projects/p2/members", token=m, body={"user": "ned", "role": "editor"})
    assert r.status == 200


def test_role_changes_take_effect_on_the_next_request(server):
    # Project lookups are cached (see docs/operations.md); a change made through this server
    # drops the cache, so access follows the new role at once.
    tok = server.make_user("rhea")
    server.admin("POST", "/api/v1/projects", {"name": "p3"})
    server.admin("POST", "/api/v1/projects/p3/members", {"user": "rhea", "role": "editor"})
    assert server.request("PUT", "/api/v1/projects/p3/artifacts/a.txt", token=tok, raw=b"a").status == 201
    assert server.admin("PUT", "/api/v1/projects/p3/members/rhea", {"role": "viewer"}).status == 200
    r = server.request("PUT", "/api/v1/projects/p3/artifacts/b.txt", token=tok, raw=b"b")
    assert r.status == 403, r.raw
    assert server.request("GET", "/api/v1/projects/p3", token=tok).status == 200
    assert server.admin("DELETE", "/api/v1/projects/p3/members/rhea").status == 200
    assert server.request("GET", "/api/v1/projects/p3", token=tok).status == 404
    # A deleted and re-created project is a new project: the old role does not carry over.
    server.admin("POST", "/api/v1/projects/p3/members", {"user": "rhea", "role": "viewer"})
    assert server.request("GET", "/api/v1/projects/p3", token=tok).status == 200
    assert server.admin("DELETE", "/api/v1/projects/p3").status == 200
    server.admin("POST", "/api/v1/projects", {"name": "p3"})
    assert server.request("GET", "/api/v1/projects/p3", token=tok).status == 404


def test_admins_change_users_at_once_and_the_last_admin_stays(server):
    ada = server.make_user("ada", admin=True)
    ursula = server.make_user("ursula")
    assert server.request("GET", "/api/v1/users", token=ada).status == 200
    # Only admins change users; wrong types and unknown fields are 400s naming the field.
    assert server.request("PATCH", "/api/v1/users/ada", token=ursula, body={"admin": False}).status == 403
    r = server.admin("PATCH", "/api/v1/users/ada", {"admin": "no"})
    assert r.status == 400 and "admin" in r.error["message"]
    r = server.admin("PATCH", "/api/v1/users/ada", {"root": True})
    assert r.status == 400 and "root" in r.error["message"]
    assert server.admin("PATCH", "/api/v1/users/nobody", {"admin": False}).status == 404
    # A demoted admin loses admin rights on the next request (no cache delay here).
    r = server.admin("PATCH", "/api/v1/users/ada", {"admin": False, "display_name": "Ada L."})
    assert r.status == 200 and r.json["admin"] is False and r.json["display_name"] == "Ada L."
    assert server.request("GET", "/api/v1/users", token=ada).status == 403
    # A disabled user's tokens are refused.
    assert server.admin("PATCH", "/api/v1/users/ursula", {"disabled": True}).status == 200
    r = server.request("GET", "/api/v1/projects", token=ursula)
    assert r.status == 401 and "disabled" in r.error["message"]
    # The last enabled admin cannot be demoted or disabled: nobody could administer then.
    for body in ({"admin": False}, {"disabled": True}):
        r = server.admin("PATCH", "/api/v1/users/admin", body)
        assert r.status == 409 and "last enabled admin" in r.error["message"], r.raw
    assert server.request("GET", "/api/v1/users", token=None).status == 401
    # The CLI does the same, and every change is audited.
    out = server.cli("users", "update", "ada", "--admin", "true")
    assert out.returncode == 0 and "(admin)" in out.stdout, out.stderr
    out = server.cli("users", "update", "ada")
    assert out.returncode != 0 and "nothing to change" in out.stderr
    entries = server.admin("GET", "/api/v1/audit?action=user.update&limit=20").json["entries"]
    assert sum(1 for e in entries if e["action"] == "user.update" and e["outcome"] == "ok") >= 3, entries
