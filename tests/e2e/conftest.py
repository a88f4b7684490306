"""Fixtures that start the real `kade` binary on a temporary data directory and a free port.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/e2e
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KADE = os.environ.get("KADE_BIN", os.path.join(ROOT, "build", "release", "kade"))
ADMIN_TOKEN = "kade_e2e_admin_token_0123456789abcdefghijklmnop"


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers

    @property
    def json(self):
        return json.loads(self.raw)

    @property
    def error(self):
        return self.json["error"]


class Server:
    def __init__(self, data_dir, extra_env=None, extra_args=None):
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.extra_args = extra_args or []
        self.proc = None
        self.port = None
        self.log_path = os.path.join(data_dir, "server.log")

    def start(self, expect_ok=True):
        os.makedirs(self.data_dir, exist_ok=True)
        port_file = os.path.join(self.data_dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        env = dict(os.environ)
        env.update({
            "KADE_DATA_DIR": self.data_dir,
            "KADE_ADDR": "127.0.0.1:0",
            "KADE_ADMIN_TOKEN": ADMIN_TOKEN,
            "KADE_ACCESS_LOG": os.path.join(self.data_dir, "access.log"),
            "KADE_THREADS": "2",
        })
        env.update(self.extra_env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([KADE, "server", "--port-file", port_file] + self.extra_args,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if not expect_ok:
            return self.proc.wait(timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kade server exited early:\n" + self.read_log())
            try:
                with open(port_file) as f:
                    self.port = int(f.read().strip())
                if self.request("GET", "/healthz").status == 200:
                    return self
            except (FileNotFoundError, ValueError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("kade server did not become healthy:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, token=None, body=None, raw=None, headers=None, timeout=30):
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.read(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read(), dict(e.headers))

    def admin(self, method, path, body=None, raw=None, headers=None):
        return self.request(method, path, token=ADMIN_TOKEN, body=body, raw=raw, headers=headers)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "log"):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cli(self, *args, token=ADMIN_TOKEN, env=None, input=None):
        e = dict(os.environ)
        e["KADE_URL"] = self.url
        e["KADE_TOKEN"] = token or ""
        e["KADE_CONFIG"] = os.path.join(self.data_dir, "cli-config.json")
        e.update(env or {})
        return subprocess.run([KADE] + list(args), env=e, capture_output=True, text=True,
                              timeout=60, input=input)

    # Helpers for common set-up.
    def make_user(self, name, admin=False):
        r = self.admin("POST", "/api/v1/users", {"name": name, "admin": admin})
        assert r.status == 201, r.raw
        t = self.admin("POST", "/api/v1/tokens", {"name": "test", "user": name})
        assert t.status == 201, t.raw
        return t.json["token"]


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory(prefix="kade-e2e-") as d:
        yield d


@pytest.fixture
def server(tmpdir_path):
    s = Server(os.path.join(tmpdir_path, "data")).start()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmpdir_path):
    made = []

    def factory(name="data", **kw):
        s = Server(os.path.join(tmpdir_path, name), **kw)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.stop(signal.SIGKILL)
