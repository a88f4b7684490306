"""The audit log: an entry for every change (and every refused change), hash-chained, and
`kade audit verify` fails after a row is edited by hand."""
import os
import sqlite3


def actions(server, **q):
    query = "&".join(f"{k}={v}" for k, v in q.items())
    return server.admin("GET", "/api/v1/audit?limit=1000&" + query).json["entries"]


def test_every_change_is_audited(server):
    t = server.make_user("ann")
    server.admin("POST", "/api/v1/projects", {"name": "aud"})
    server.admin("POST", "/api/v1/projects/aud/members", {"user": "ann", "role": "editor"})
    server.admin("PUT", "/api/v1/projects/aud/members/ann", {"role": "viewer"})
    server.admin("PUT", "/api/v1/projects/aud/artifacts/f.txt", raw=b"x")
    server.admin("DELETE", "/api/v1/projects/aud/artifacts/f.txt")
    server.admin("DELETE", "/api/v1/projects/aud/members/ann")
    tid = server.request("GET", "/api/v1/tokens", token=t).json["tokens"][0]["id"]
    server.request("DELETE", f"/api/v1/tokens/{tid}", token=t)
    server.admin("DELETE", "/api/v1/projects/aud")
    entries = actions(server)
    seen = [(e["action"], e["outcome"]) for e in reversed(entries)]
    for expected in ["user.create", "token.create", "project.create", "member.add", "member.update",
                     "artifact.put", "artifact.delete", "member.remove", "token.revoke",
                     "project.delete"]:
        assert (expected, "ok") in seen, (expected, seen)
    e = next(e for e in entries if e["action"] == "member.add" and e["project"] == "aud")
    assert e["actor"] == "admin"
    assert e["target"] == "project/aud/member/ann"
    assert e["request_id"]
    assert e["remote"] == "127.0.0.1"
    assert e["detail"]["role"] == "editor"
    # Reading changes nothing in the log.
    n = len(actions(server))
    server.admin("GET", "/api/v1/projects")
    assert len(actions(server)) == n


def test_refused_changes_are_audited_with_outcome(server):
    t = server.make_user("val")
    server.admin("POST", "/api/v1/projects", {"name": "ref"})
    server.admin("POST", "/api/v1/projects/ref/members", {"user": "val", "role": "viewer"})
    server.request("PUT", "/api/v1/projects/ref/artifacts/x", token=t, raw=b"x")
    server.request("POST", "/api/v1/projects", body={"name": "nope"})  # no token
    server.admin("POST", "/api/v1/projects", {"name": "ref"})  # duplicate
    entries = actions(server)
    outcomes = {(e["action"], e["actor"], e["outcome"]) for e in entries}
    assert ("artifact.put", "val", "PERMISSION_DENIED") in outcomes
    assert ("project.create", "anonymous", "UNAUTHENTICATED") in outcomes
    assert ("project.create", "admin", "ALREADY_EXISTS") in outcomes


def test_audit_is_read_only_over_the_api(server):
    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        r = server.admin(method, "/api/v1/audit", body={})
        assert r.status in (404, 405), (method, r.status)


def test_audit_needs_admin_or_maintainer(server):
    t = server.make_user("ed")
    server.admin("POST", "/api/v1/projects", {"name": "ap"})
    server.admin("POST", "/api/v1/projects/ap/members", {"user": "ed", "role": "editor"})
    assert server.request("GET", "/api/v1/audit", token=t).status == 403
    assert server.request("GET", "/api/v1/projects/ap/audit", token=t).status == 403
    server.admin("PUT", "/api/v1/projects/ap/members/ed", {"role": "maintainer"})
    r = server.request("GET", "/api/v1/projects/ap/audit", token=t)
    assert r.status == 200
    assert all(e["project"] == "ap" for e in r.json["entries"])


def test_audit_paging(server):
    for i in range(7):
        server.admin("POST", "/api/v1/projects", {"name": f"pg{i}"})
    page1 = server.admin("GET", "/api/v1/audit?limit=3").json
    assert len(page1["entries"]) == 3
    page2 = server.admin("GET", f"/api/v1/audit?limit=3&before={page1['next_before']}").json
    assert page2["entries"][0]["seq"] == page1["entries"][-1]["seq"] - 1


def test_verify_detects_a_hand_edited_row(server):
    server.admin("POST", "/api/v1/projects", {"name": "v1"})
    server.admin("POST", "/api/v1/projects", {"name": "v2"})
    ok = server.cli("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit log OK" in ok.stdout
    db = sqlite3.connect(os.path.join(server.data_dir, "kade.db"))
    seq = db.execute("SELECT seq FROM audit_log WHERE action='project.create' AND target='project/v1'").fetchone()[0]
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor='nobody' WHERE seq=?", (seq,))
    db.commit()
    db.close()
    bad = server.cli("audit", "verify")
    assert bad.returncode == 1
    assert f"FAILED at entry {seq}" in bad.stderr, bad.stderr
    assert "modified" in bad.stderr
    r = server.admin("GET", "/api/v1/audit/verify").json
    assert r["ok"] is False and r["first_bad_seq"] == seq


def test_verify_detects_a_deleted_row(server):
    server.admin("POST", "/api/v1/projects", {"name": "d1"})
    server.admin("POST", "/api/v1/projects", {"name": "d2"})
    db = sqlite3.connect(os.path.join(server.data_dir, "kade.db"))
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 2")
    db.commit()
    db.close()
    bad = server.cli("audit", "verify")
    assert bad.returncode == 1
    assert "entry 2 is missing" in bad.stderr


def test_offline_verify_reads_the_data_directory(make_server):
    s = make_server().start()
    s.admin("POST", "/api/v1/projects", {"name": "off1"})
    s.stop()
    ok = s.cli("audit", "verify", "--data-dir", s.data_dir, token="")
    assert ok.returncode == 0, ok.stderr
    assert "audit log OK" in ok.stdout
    db = sqlite3.connect(os.path.join(s.data_dir, "kade.db"))
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET target='project/other' WHERE action='project.create'")
    db.commit()
    db.close()
    bad = s.cli("audit", "verify", "--data-dir", s.data_dir, token="")
    assert bad.returncode == 1 and "FAILED" in bad.stderr
