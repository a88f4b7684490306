"""Bad input: malformed, oversized, wrong-typed and hostile requests get a clear 4xx and
change nothing."""
import os
import socket
import sqlite3


def db_counts(server):
    db = sqlite3.connect(os.path.join(server.data_dir, "kade.db"))
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ["users", "tokens", "projects", "memberships", "artifacts"]}
    db.close()
    return counts


def test_malformed_json_is_400_with_position(server):
    before = db_counts(server)
    r = server.admin("POST", "/api/v1/projects", raw=b'{"name": "x",\n "description": }',
                     headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert r.error["code"] == "INVALID_ARGUMENT"
    assert "line 2, column" in r.error["message"], r.error["message"]
    assert db_counts(server) == before


def test_non_object_and_empty_bodies(server):
    for raw, expect in [(b"[1,2]", "must be a JSON object"), (b"", "empty"),
                        (b"\xff\xfe", "malformed JSON"), (b"null", "must be a JSON object")]:
        r = server.admin("POST", "/api/v1/projects", raw=raw)
        assert r.status == 400, raw
        assert expect in r.error["message"], r.error["message"]


def test_wrong_types_and_unknown_fields(server):
    cases = [
        ({"name": 42}, "field 'name' must be a string, got number"),
        ({}, "field 'name' is required"),
        ({"name": "ok", "colour": "red"}, "unknown field 'colour'"),
        ({"name": "Bad Name"}, "invalid character at position 1"),
        ({"name": "a" * 64}, "limit is 63"),
        ({"name": "x", "description": ["a"]}, "field 'description' must be a string"),
    ]
    before = db_counts(server)
    for body, expect in cases:
        r = server.admin("POST", "/api/v1/projects", body)
        assert r.status == 400, body
        assert expect in r.error["message"], (body, r.error["message"])
    r = server.admin("POST", "/api/v1/tokens", {"name": "t", "expires_in_seconds": "soon"})
    assert r.status == 400 and "must be an integer" in r.error["message"]
    r = server.admin("POST", "/api/v1/tokens", {"name": "t", "expires_at": "tomorrow"})
    assert r.status == 400 and "RFC 3339" in r.error["message"]
    r = server.admin("POST", "/api/v1/tokens", {"name": "t", "expires_at": "2001-01-01T00:00:00Z"})
    assert r.status == 400 and "future" in r.error["message"]
    r = server.admin("DELETE", "/api/v1/tokens/abc")
    assert r.status == 400 and "positive integer" in r.error["message"]
    assert db_counts(server) == before


def test_duplicate_is_409(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "dup"}).status == 201
    r = server.admin("POST", "/api/v1/projects", {"name": "dup"})
    assert r.status == 409 and r.error["code"] == "ALREADY_EXISTS"


def test_body_over_limit_is_413(make_server):
    s = make_server(extra_env={"KADE_MAX_BODY": "4096"}).start()
    before = db_counts(s)
    big = {"name": "big", "description": "x" * 10000}
    r = s.admin("POST", "/api/v1/projects", big)
    assert r.status == 413, r.raw
    assert "exceeds the limit of 4096 bytes" in r.error["message"]
    assert db_counts(s) == before
    # The server is still fine afterwards.
    assert s.admin("POST", "/api/v1/projects", {"name": "small"}).status == 201


def test_chunked_body_over_limit_is_413(make_server):
    s = make_server(extra_env={"KADE_MAX_BODY": "4096"}).start()
    sock = socket.create_connection(("127.0.0.1", s.port))
    from conftest import ADMIN_TOKEN
    head = (f"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
            "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n").encode()
    chunk = b"x" * 3000
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    sock.sendall(head + body)
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 413"), reply


def test_malformed_http_is_400(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GARBAGE \x01\x02 NOT HTTP\r\n\r\n")
    reply = sock.recv(4096).decode("latin-1")
    sock.close()
    assert reply.startswith("HTTP/1.1 400"), reply
    assert "malformed HTTP request" in reply


def test_huge_headers_are_431(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    reply = sock.recv(4096).decode("latin-1")
    sock.close()
    assert reply.startswith("HTTP/1.1 431"), reply


def test_unknown_route_and_method(server):
    r = server.admin("GET", "/api/v1/nothing-here")
    assert r.status == 404 and "no API route" in r.error["message"]
    r = server.admin("PATCH", "/api/v1/projects")
    assert r.status == 405


def test_bad_percent_escape_and_query(server):
    r = server.admin("GET", "/api/v1/projects/%zz")
    assert r.status == 400 and "percent-escape" in r.error["message"]
    r = server.admin("GET", "/api/v1/audit?limit=abc")
    assert r.status == 400 and "'limit'" in r.error["message"]
    r = server.admin("GET", "/api/v1/audit?limit=100000")
    assert r.status == 400


def test_path_traversal_in_artifact_names_is_rejected(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "trav"}).status == 201
    before = db_counts(server)
    blobs_before = sum(len(f) for _, _, f in os.walk(os.path.join(server.data_dir, "artifacts", "blobs")))
    hostile = [
        ("/api/v1/projects/trav/artifacts/a/%2e%2e/%2e%2e/etc/passwd", "'..' path segment"),
        ("/api/v1/projects/trav/artifacts/..%2f..%2fescape", "'..'"),
        ("/api/v1/projects/trav/artifacts/%2fetc%2fpasswd", "relative"),
        ("/api/v1/projects/trav/artifacts/a%00b", "control character (0x00)"),
        ("/api/v1/projects/trav/artifacts/a%0ab", "control character (0x0a)"),
        ("/api/v1/projects/trav/artifacts/a%5c..%5cb", "backslash"),
        ("/api/v1/projects/trav/artifacts/a/./b", "'.'"),
        ("/api/v1/projects/trav/artifacts/bad%ffutf8", "UTF-8"),
    ]
    for path, expect in hostile:
        r = server.admin("PUT", path, raw=b"payload")
        assert r.status == 400, (path, r.raw)
        assert expect in r.error["message"], (path, r.error["message"])
        g = server.admin("GET", path)
        assert g.status == 400, path
    assert db_counts(server) == before
    blobs_after = sum(len(f) for _, _, f in os.walk(os.path.join(server.data_dir, "artifacts", "blobs")))
    assert blobs_after == blobs_before
    tmp = os.listdir(os.path.join(server.data_dir, "artifacts", "tmp"))
    assert tmp == []
