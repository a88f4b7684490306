"""kill -9 during a stream of writes, then restart: every acknowledged write is there and
the database is consistent."""
import os
import signal
import sqlite3
import threading
import time


def test_kill_minus_9_keeps_every_acknowledged_write(make_server):
    s = make_server().start()
    acked_projects = []
    acked_artifacts = []
    stop = threading.Event()

    def writer(kind):
        i = 0
        while not stop.is_set() and i < 5000:
            i += 1
            try:
                if kind == "project":
                    name = f"p{i}"
                    r = s.admin("POST", "/api/v1/projects", {"name": name})
                    if r.status == 201:
                        acked_projects.append(name)
                else:
                    name = f"f{i}.bin"
                    r = s.admin("PUT", f"/api/v1/projects/crash/artifacts/{name}", raw=os.urandom(2048))
                    if r.status == 201:
                        acked_artifacts.append((name, r.json["sha256"]))
            except OSError:
                return  # the server is gone

    assert s.admin("POST", "/api/v1/projects", {"name": "crash"}).status == 201
    threads = [threading.Thread(target=writer, args=(k,)) for k in ("project", "artifact")]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while time.time() < deadline and (len(acked_projects) < 40 or len(acked_artifacts) < 40):
        time.sleep(0.05)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked_projects) >= 40 and len(acked_artifacts) >= 40

    s2 = make_server().start()  # same data directory
    projects = {p["name"] for p in s2.admin("GET", "/api/v1/projects").json["projects"]}
    missing = [p for p in acked_projects if p not in projects]
    assert not missing, missing
    listed = {a["name"]: a["sha256"] for a in s2.admin("GET", "/api/v1/projects/crash/artifacts").json["artifacts"]}
    for name, sha in acked_artifacts:
        assert listed.get(name) == sha, name
        got = s2.admin("GET", f"/api/v1/projects/crash/artifacts/{name}")
        assert got.status == 200, got.raw

    db = sqlite3.connect(os.path.join(s2.data_dir, "kade.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    v = s2.admin("GET", "/api/v1/audit/verify").json
    assert v["ok"], v
    # No half-written upload is left visible.
    assert os.listdir(os.path.join(s2.data_dir, "artifacts", "tmp")) == []
