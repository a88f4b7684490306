"""Artifacts: streamed upload/download with hash verification, corruption, garbage collection."""
import hashlib
import http.client
import os
import sqlite3


def rss_peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_upload_download_round_trip(server):
    server.admin("POST", "/api/v1/projects", {"name": "art"})
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = server.admin("PUT", "/api/v1/projects/art/artifacts/models/m.bin", raw=data,
                     headers={"Content-Type": "application/x-model"})
    assert r.status == 201, r.raw
    assert r.json["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.json["size"] == len(data)
    g = server.admin("GET", "/api/v1/projects/art/artifacts/models/m.bin")
    assert g.status == 200 and g.raw == data
    assert g.headers["X-Content-SHA256"] == hashlib.sha256(data).hexdigest()
    assert g.headers["Content-Type"] == "application/x-model"
    lst = server.admin("GET", "/api/v1/projects/art/artifacts?prefix=models/").json["artifacts"]
    assert [a["name"] for a in lst] == ["models/m.bin"]


def test_corrupted_blob_is_an_error_not_returned(server):
    server.admin("POST", "/api/v1/projects", {"name": "cor"})
    r = server.admin("PUT", "/api/v1/projects/cor/artifacts/a.txt", raw=b"the real content")
    sha = r.json["sha256"]
    path = os.path.join(server.data_dir, "artifacts", "blobs", sha[:2], sha[2:])
    with open(path, "wb") as f:
        f.write(b"the fake content")
    g = server.admin("GET", "/api/v1/projects/cor/artifacts/a.txt")
    assert g.status == 500
    assert g.error["code"] == "DATA_LOSS"
    assert b"fake" not in g.raw


def test_gc_removes_only_unreferenced_blobs(server):
    server.admin("POST", "/api/v1/projects", {"name": "gc"})
    keep = server.admin("PUT", "/api/v1/projects/gc/artifacts/keep.txt", raw=b"keep me").json["sha256"]
    drop = server.admin("PUT", "/api/v1/projects/gc/artifacts/drop.txt", raw=b"drop me").json["sha256"]
    server.admin("DELETE", "/api/v1/projects/gc/artifacts/drop.txt")
    blob = lambda sha: os.path.join(server.data_dir, "artifacts", "blobs", sha[:2], sha[2:])
    # The default grace period protects young blobs.
    out = server.cli("gc")
    assert out.returncode == 0, out.stderr
    assert os.path.exists(blob(drop))
    dry = server.cli("--json", "gc", "--dry-run", "--grace", "0s")
    assert '"blobs_removed": 1' in dry.stdout and os.path.exists(blob(drop))
    out = server.cli("gc", "--grace", "0s")
    assert out.returncode == 0 and "removed 1" in out.stdout, out.stdout
    assert not os.path.exists(blob(drop))
    assert os.path.exists(blob(keep))
    assert server.admin("GET", "/api/v1/projects/gc/artifacts/keep.txt").raw == b"keep me"


def test_upload_over_limit_is_413_and_stores_nothing(make_server):
    s = make_server(extra_env={"KADE_MAX_UPLOAD": "100000"}).start()
    s.admin("POST", "/api/v1/projects", {"name": "lim"})
    r = s.admin("PUT", "/api/v1/projects/lim/artifacts/big.bin", raw=os.urandom(200000))
    assert r.status == 413
    assert "exceeds the limit of 100000 bytes" in r.error["message"]
    assert s.admin("GET", "/api/v1/projects/lim/artifacts").json["artifacts"] == []
    assert os.listdir(os.path.join(s.data_dir, "artifacts", "tmp")) == []
    blobs = os.path.join(s.data_dir, "artifacts", "blobs")
    assert sum(len(f) for _, _, f in os.walk(blobs)) == 0


def test_aborted_upload_leaves_nothing(server):
    server.admin("POST", "/api/v1/projects", {"name": "ab"})
    from conftest import ADMIN_TOKEN
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("PUT", "/api/v1/projects/ab/artifacts/half.bin")
    conn.putheader("Authorization", "Bearer " + ADMIN_TOKEN)
    conn.putheader("Content-Length", str(10 * 1024 * 1024))
    conn.endheaders()
    conn.send(os.urandom(1024 * 1024))
    conn.close()
    # Wait for the server to notice the closed connection.
    import time
    for _ in range(100):
        if os.listdir(os.path.join(server.data_dir, "artifacts", "tmp")) == []:
            break
        time.sleep(0.05)
    assert os.listdir(os.path.join(server.data_dir, "artifacts", "tmp")) == []
    assert server.admin("GET", "/api/v1/projects/ab/artifacts").json["artifacts"] == []


def test_two_gib_upload_streams_in_bounded_memory(server):
    """A 2 GiB upload and download keep the server's peak resident memory under 64 MiB."""
    server.admin("POST", "/api/v1/projects", {"name": "huge"})
    from conftest import ADMIN_TOKEN
    size = 2 * 1024 * 1024 * 1024
    chunk = os.urandom(1024 * 1024)
    h = hashlib.sha256()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    conn.putrequest("PUT", "/api/v1/projects/huge/artifacts/big.bin")
    conn.putheader("Authorization", "Bearer " + ADMIN_TOKEN)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    sent = 0
    while sent < size:
        conn.send(chunk)
        h.update(chunk)
        sent += len(chunk)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 201, body
    import json
    assert json.loads(body)["sha256"] == h.hexdigest()
    conn.close()
    # Download it back, counting bytes without keeping them.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    conn.request("GET", "/api/v1/projects/huge/artifacts/big.bin",
                 headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    r = conn.getresponse()
    assert r.status == 200
    got = 0
    while True:
        b = r.read(4 * 1024 * 1024)
        if not b:
            break
        got += len(b)
    conn.close()
    assert got == size
    peak = rss_peak_kib(server.proc.pid)
    assert peak < 64 * 1024, f"peak RSS {peak} KiB"
    # Drop it so the temp directory does not keep 2 GiB around.
    server.admin("DELETE", "/api/v1/projects/huge/artifacts/big.bin")
    server.cli("gc", "--grace", "0s")
