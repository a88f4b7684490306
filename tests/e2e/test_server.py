"""Server behaviour: metrics, request ids, access logs, schema guard, graceful shutdown."""
import http.client
import json
import os
import signal
import sqlite3
import threading
import time


def test_metrics_in_prometheus_format(server):
    server.admin("GET", "/api/v1/projects")
    server.request("GET", "/api/v1/projects")  # 401
    # A request is counted once its answer is written, which a loaded machine may finish a
    # moment after the client has read it.
    want = 'kade_http_requests_total{route="/api/v1/projects",method="GET",status="401"}'
    for _ in range(50):
        text = server.admin("GET", "/metrics").raw.decode()
        if want in text:
            break
        time.sleep(0.1)
    assert 'kade_http_requests_total{route="/api/v1/projects",method="GET",status="200"}' in text
    assert 'kade_http_requests_total{route="/api/v1/projects",method="GET",status="401"}' in text
    assert "kade_http_request_duration_seconds_bucket" in text
    assert "kade_http_requests_in_flight" in text
    assert "process_resident_memory_bytes" in text
    assert "process_cpu_seconds_total" in text
    assert "process_open_fds" in text


def test_request_ids_are_echoed_or_generated(server):
    r = server.request("GET", "/healthz", headers={"X-Request-Id": "my-req-42"})
    assert r.headers["X-Request-Id"] == "my-req-42"
    r = server.request("GET", "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert r.headers["X-Request-Id"] != "bad id with spaces" and r.headers["X-Request-Id"]


def test_access_log_is_structured_json(server):
    server.admin("GET", "/api/v1/projects", headers={"X-Request-Id": "log-check-1"})
    path = os.path.join(server.data_dir, "access.log")
    for _ in range(50):
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        if any("log-check-1" in line for line in lines):
            break
        time.sleep(0.1)
    entry = next(json.loads(line) for line in lines if "log-check-1" in line)
    assert entry["method"] == "GET" and entry["status"] == 200
    assert entry["route"] == "/api/v1/projects" and entry["user"] == "admin"
    assert entry["duration_ms"] >= 0


def test_keep_alive_serves_many_requests_on_one_connection(server):
    from conftest import ADMIN_TOKEN
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(20):
        conn.request("GET", "/api/v1/projects", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()


def test_refuses_database_from_newer_version(make_server):
    s = make_server().start()
    s.stop()
    db = sqlite3.connect(os.path.join(s.data_dir, "kade.db"))
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    s2 = make_server()
    rc = s2.start(expect_ok=False)
    assert rc != 0
    assert "newer Kade" in s2.read_log()


def test_graceful_shutdown_finishes_in_flight_request(make_server):
    s = make_server().start()
    s.admin("POST", "/api/v1/projects", {"name": "gs"})
    from conftest import ADMIN_TOKEN
    result = {}
    size = 4 * 1024 * 1024

    def slow_upload():
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.putrequest("PUT", "/api/v1/projects/gs/artifacts/slow.bin")
        conn.putheader("Authorization", "Bearer " + ADMIN_TOKEN)
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        sent = 0
        while sent < size:
            conn.send(b"x" * (256 * 1024))
            sent += 256 * 1024
            time.sleep(0.1)  # ~1.6 s in total
        r = conn.getresponse()
        result["status"] = r.status
        result["body"] = r.read()

    t = threading.Thread(target=slow_upload)
    t.start()
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    # New connections are refused while draining.
    try:
        r = s.request("GET", "/healthz", timeout=2)
        refused = r.status != 200
    except OSError:
        refused = True
    assert refused
    t.join(timeout=30)
    assert result.get("status") == 201, result
    assert s.proc.wait(timeout=30) == 0
    assert "stopped cleanly" in s.read_log()
    # The upload that was in flight is stored.
    s2 = make_server().start()
    names = [a["name"] for a in s2.admin("GET", "/api/v1/projects/gs/artifacts").json["artifacts"]]
    assert names == ["slow.bin"]


def test_demo_content_is_seeded(make_server):
    s = make_server(extra_args=["--demo"]).start()
    projects = {p["name"] for p in s.admin("GET", "/api/v1/projects").json["projects"]}
    assert "demo" in projects
    members = {m["user"]: m["role"] for m in s.admin("GET", "/api/v1/projects/demo/members").json["members"]}
    assert members["alice"] == "editor" and members["bob"] == "maintainer"
    # The demo users' plain MLflow names land in the demo project.
    assert s.admin("GET", "/api/v1/users/alice").json["default_project"] == "demo"
    # Seeding again is a no-op.
    s.stop()
    s2 = make_server(extra_args=["--demo"]).start()
    assert len(s2.admin("GET", "/api/v1/projects").json["projects"]) == len(projects)


def test_bootstrap_token_is_printed_once(make_server):
    s = make_server(extra_env={"KADE_ADMIN_TOKEN": ""}).start()
    log = s.read_log()
    line = next(l for l in log.splitlines() if "Admin token" in l)
    token = line.split(":", 1)[1].strip().split()[-1]
    assert token.startswith("kade_")
    assert s.request("GET", "/api/v1/whoami", token=token).json["name"] == "admin"
    s.stop()
    s2 = make_server(extra_env={"KADE_ADMIN_TOKEN": ""})
    s2.log_path = os.path.join(s2.data_dir, "server2.log")
    s2.start()
    assert "Admin token" not in s2.read_log()


def test_unknown_api_paths_are_errors_in_the_callers_protocol(server):
    # MLflow's clients and load balancers probe /health without a token.
    r = server.request("GET", "/health")
    assert r.status == 200 and r.raw == b"OK"
    # An MLflow path with no route is MLflow's ENDPOINT_NOT_FOUND, at the root and per project.
    for path in ("/api/2.0/mlflow/no-such/thing", "/ajax-api/2.0/mlflow/no-such/thing",
                 "/projects/demo/api/2.0/mlflow/no-such/thing"):
        r = server.admin("GET", path)
        assert r.status == 404, path
        assert r.json["error_code"] == "ENDPOINT_NOT_FOUND", path
        assert "no-such/thing" in r.json["message"]
    # A native API path with no route is a JSON 404, never the UI's index.html.
    for path in ("/api/v1/no-such-thing", "/v2/no-such-thing", "/projects/demo/api/v1/nothing"):
        r = server.admin("GET", path)
        assert r.status == 404, path
        assert r.headers["Content-Type"].startswith("application/json"), path
    # Client-side UI routes still get the UI.
    r = server.request("GET", "/projects/demo")
    assert r.status == 200 and b"<html" in r.raw.lower()


def test_openapi_document_is_served_and_every_path_in_it_is_routed(server):
    import re
    import subprocess
    from conftest import KADE
    assert server.request("GET", "/api/v1/openapi.json").status == 401  # needs a token
    doc = server.admin("GET", "/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    offline = json.loads(subprocess.run([KADE, "openapi"], capture_output=True, check=True).stdout)
    assert offline == doc  # `kade openapi` prints the same document
    seen = 0
    for path, item in doc["paths"].items():
        # At the root the Open Inference Protocol names a model PROJECT:ENDPOINT.
        concrete = re.sub(r"\{[^}]+\}", "x", path.replace("/v2/models/{model}", "/v2/models/p:x"))
        for method, op in item.items():
            # Without a token a routed path answers 401 (public ones answer themselves); a path
            # no route serves would answer 404 in its protocol.
            r = server.request(method.upper(), concrete, body={} if method in ("post", "put", "patch") else None)
            if op.get("security") == []:
                assert r.status != 404, (method, path, r.status)
            else:
                assert r.status == 401, (method, path, r.status, r.raw[:200])
            seen += 1
    assert seen >= 190
