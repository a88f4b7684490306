"""The peer for the HTTP benchmark: the stack MLflow's tracking server runs on (Flask under
gunicorn), doing the same work as Kade's routes: a health check, and an authenticated GET of
a small project record that hashes the bearer token, looks it up in SQLite, checks the
caller's role and returns JSON. Written for the benchmark only; it is not part of Kade.
"""
import hashlib
import os
import sqlite3
import threading

from flask import Flask, abort, jsonify, request

DB = os.environ.get("PEER_DB", "/tmp/kade-bench-peer.db")
app = Flask(__name__)
_local = threading.local()


def db():
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB)
        _local.conn = conn
    return conn


def setup(token):
    conn = sqlite3.connect(DB)
    conn.executescript("""
      DROP TABLE IF EXISTS tokens; DROP TABLE IF EXISTS projects; DROP TABLE IF EXISTS members;
      CREATE TABLE tokens (hash TEXT PRIMARY KEY, user_id INTEGER);
      CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT UNIQUE, description TEXT);
      CREATE TABLE members (project_id INTEGER, user_id INTEGER, role INTEGER);
    """)
    conn.execute("INSERT INTO tokens VALUES (?, 1)", (hashlib.sha256(token.encode()).hexdigest(),))
    conn.execute("INSERT INTO projects VALUES (1, 'demo', 'demo project')")
    conn.execute("INSERT INTO members VALUES (1, 1, 4)")
    conn.commit()
    conn.close()


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.get("/api/v1/projects/<name>")
def project(name):
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        abort(401)
    h = hashlib.sha256(auth[7:].encode()).hexdigest()
    row = db().execute("SELECT user_id FROM tokens WHERE hash = ?", (h,)).fetchone()
    if row is None:
        abort(401)
    p = db().execute("SELECT id, name, description FROM projects WHERE name = ?", (name,)).fetchone()
    if p is None:
        abort(404)
    role = db().execute("SELECT role FROM members WHERE project_id = ? AND user_id = ?",
                        (p[0], row[0])).fetchone()
    if role is None:
        abort(404)
    return jsonify(name=p[1], description=p[2], role=role[0])


if __name__ == "__main__":
    import sys
    setup(sys.argv[1])
