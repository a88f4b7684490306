"""Alerts end to end: a rule goes pending, fires after its `for`, resolves; a silence stops
notifications but not the history; a webhook receiver on loopback that fails at first gets the
notification on a retry and verifies its HMAC signature; Debian's prometheus-alertmanager
receives Kade's alerts; `promtool check rules` accepts `kade monitor rules`, and a real
Prometheus scrapes Kade's monitoring gauges; bad input and roles."""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import ADMIN_TOKEN, Server
from test_monitoring import send, serve, until
from test_serving import P, records


class Receiver:
    """A webhook receiver on loopback that answers 500 to the first `fail` posts."""

    def __init__(self, fail=0):
        self.bodies, self.signatures, self.attempts = [], [], 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(body)
                outer.signatures.append(self.headers.get("X-Kade-Signature", ""))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def fast(tmpdir_path):
    s = Server(os.path.join(tmpdir_path, "data"), extra_env={"KADE_ALERT_INTERVAL": "0.5"}).start()
    assert s.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
    churn = os.path.join(os.path.dirname(__file__), "..", "data", "churn.csv")
    with open(churn, "rb") as f:
        r = s.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=f.read(),
                      headers={"Content-Type": "text/csv"})
    assert r.status == 201, r.raw
    yield s
    s.stop()


def rule(server, name):
    return server.admin("GET", f"{P}/alerts/rules/{name}").json


def test_pending_firing_resolved_with_a_signed_webhook_that_is_retried(fast):
    serve(fast, "live")
    hook = Receiver(fail=2)
    try:
        r = fast.admin("POST", f"{P}/alerts/channels", {"name": "ops", "kind": "webhook", "url": hook.url})
        assert r.status == 201, r.raw
        secret = r.json["secret"]
        assert fast.admin("GET", f"{P}/alerts/channels").json["channels"][0].get("secret") is None
        # Fires while at least 5 requests came in the last hour, after holding for 2 s.
        spec = {"name": "busy", "endpoint": "live", "metric": "requests", "comparator": ">=",
                "threshold": 5, "window": "1h", "for": "2s", "channels": ["ops"], "severity": "critical"}
        r = fast.admin("POST", f"{P}/alerts/rules", spec)
        assert r.status == 201, r.raw
        assert r.json["state"] == "inactive"
        _, rows = records(10)
        send(fast, "live", rows, batch=1)
        pending = until(lambda: rule(fast, "busy")["state"] == "pending", timeout=20)
        firing = until(lambda: rule(fast, "busy")["state"] == "firing", timeout=20)
        assert pending and firing, rule(fast, "busy")
        # Delivered on the third try (two 500s, backoff 1 s then 2 s), signed.
        assert until(lambda: len(hook.bodies) == 1, timeout=20), rule(fast, "busy")["deliveries"]
        assert hook.attempts == 3
        body = hook.bodies[0]
        expect = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hook.signatures[0], expect)
        payload = json.loads(body)
        assert payload["status"] == "firing" and payload["version"] == "4"
        alert = payload["alerts"][0]
        assert alert["labels"]["alertname"] == "busy" and alert["labels"]["severity"] == "critical"
        assert alert["labels"]["endpoint"] == "live" and alert["labels"]["project"] == "ml"
        d = rule(fast, "busy")["deliveries"][0]
        assert d["status"] == "delivered" and d["attempts"] == 3
        # Acknowledged, then silenced: the rule still resolves and keeps its history, but
        # nothing more is sent.
        assert fast.admin("POST", f"{P}/alerts/rules/busy/acknowledge").json["acknowledged_by"] == "admin"
        r = fast.admin("POST", f"{P}/alerts/rules/busy/silence", {"for": "1h"})
        assert r.status == 200 and r.json["silenced"] is True
        assert fast.admin("PATCH", f"{P}/alerts/rules/busy", {}).status in (404, 405)
        # Resolve by raising the bar: replace the rule with one that cannot hold.
        assert fast.admin("DELETE", f"{P}/alerts/rules/busy").status == 200
        spec.update({"threshold": 10**9, "for": "0s"})
        assert fast.admin("POST", f"{P}/alerts/rules", spec).status == 201
        time.sleep(2)
        assert rule(fast, "busy")["state"] == "inactive"
        assert len(hook.bodies) == 1
    finally:
        hook.close()

    # Resolution with notification: a rule on a KPI that fires and then resolves.
    hook2 = Receiver()
    try:
        assert fast.admin("POST", f"{P}/alerts/channels", {"name": "ops2", "kind": "webhook", "url": hook2.url}).status == 201
        assert fast.admin("POST", f"{P}/alerts/rules", {
            "name": "loss", "endpoint": "live", "metric": "kpi", "feature": "revenue", "comparator": "<",
            "threshold": 0, "window": "1h", "channels": ["ops2"]}).status == 201
        assert fast.admin("POST", f"{P}/endpoints/live/monitoring/kpis", {"name": "revenue", "value": -50}).status == 200
        assert until(lambda: rule(fast, "loss")["state"] == "firing")
        assert fast.admin("POST", f"{P}/endpoints/live/monitoring/kpis", {"name": "revenue", "value": 100}).status == 200
        assert until(lambda: rule(fast, "loss")["state"] == "inactive")
        assert until(lambda: len(hook2.bodies) == 2)
        assert [json.loads(b)["status"] for b in hook2.bodies] == ["firing", "resolved"]
        states = [h["state"] for h in rule(fast, "loss")["history"]]
        assert states[:2] == ["resolved", "firing"]
        inbox = fast.admin("GET", f"{P}/alerts").json
        assert {a["name"] for a in inbox["rules"]} == {"busy", "loss"}
    finally:
        hook2.close()


def test_alert_input_and_roles(fast):
    serve(fast, "guard")
    url = f"{P}/alerts/rules"
    base = {"name": "r1", "endpoint": "guard", "metric": "error_rate", "comparator": ">", "threshold": 0.1}
    cases = [
        ({**base, "metric": "mood"}, "metric"),
        ({**base, "threshold": "high"}, "threshold"),
        ({**base, "comparator": "=="}, "comparator"),
        ({**base, "window": "forever"}, "window"),
        ({**base, "for": "later"}, "for"),
        ({**base, "metric": "feature_drift"}, "feature"),
        ({**base, "metric": "feature_drift", "feature": "ghost"}, "feature"),
        ({**base, "channels": ["nowhere"]}, "channels[0]"),
        ({**base, "colour": 1}, "colour"),
        ({k: v for k, v in base.items() if k != "threshold"}, "threshold"),
    ]
    for body, field in cases:
        r = fast.admin("POST", url, body)
        assert r.status == 400 and field in r.error["message"], (body, r.raw)
    r = fast.admin("POST", url, {**base, "endpoint": "nope"})
    assert r.status == 404
    for body, field in [({"name": "c", "kind": "webhook", "url": "ftp://example/x"}, "url"),
                        ({"name": "c", "kind": "webhook", "url": "javascript:alert(1)"}, "url"),
                        ({"name": "c", "kind": "pager", "url": "http://127.0.0.1:1/"}, "kind"),
                        ({"name": "c", "kind": "webhook"}, "url")]:
        r = fast.admin("POST", f"{P}/alerts/channels", body)
        assert r.status == 400 and field in r.error["message"], (body, r.raw)
    assert fast.admin("GET", f"{P}/alerts/channels").json["channels"] == []
    assert fast.admin("GET", f"{P}/alerts").json["rules"] == []

    viewer, editor, maintainer = fast.make_user("v"), fast.make_user("e"), fast.make_user("m")
    for u, role in (("v", "viewer"), ("e", "editor"), ("m", "maintainer")):
        fast.admin("POST", "/api/v1/projects/ml/members", {"user": u, "role": role})
    chan = {"name": "c", "kind": "alertmanager", "url": "http://127.0.0.1:9/"}
    assert fast.request("GET", f"{P}/alerts", token=viewer).status == 200
    assert fast.request("POST", url, token=viewer, body=base).status == 403
    assert fast.request("POST", url, token=editor, body=base).status == 201
    assert fast.request("POST", url, token=editor, body=base).status == 409
    assert fast.request("POST", f"{P}/alerts/channels", token=editor, body=chan).status == 403
    assert fast.request("POST", f"{P}/alerts/channels", token=maintainer, body=chan).status == 201
    entries = fast.admin("GET", "/api/v1/audit?limit=50").json["entries"]
    actions = {e["action"] for e in entries}
    assert {"alert.rule.create", "alert.channel.create"} <= actions


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except Exception:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_alertmanager_receives_and_prometheus_checks_and_scrapes(fast, tmpdir_path):
    for tool in ("prometheus-alertmanager", "prometheus", "promtool"):
        assert shutil.which(tool), f"{tool} is installed by scripts/setup.sh"
    serve(fast, "prom")
    am_port = free_port()
    am_dir = os.path.join(tmpdir_path, "am")
    os.makedirs(am_dir)
    with open(os.path.join(am_dir, "am.yml"), "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    am = subprocess.Popen(["prometheus-alertmanager", f"--config.file={am_dir}/am.yml",
                           f"--storage.path={am_dir}", f"--web.listen-address=127.0.0.1:{am_port}",
                           "--cluster.listen-address="],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prom = None
    try:
        wait_http(f"http://127.0.0.1:{am_port}/-/ready")
        r = fast.admin("POST", f"{P}/alerts/channels", {"name": "am", "kind": "alertmanager", "url": f"http://127.0.0.1:{am_port}"})
        assert r.status == 201, r.raw
        spec = {"name": "traffic", "endpoint": "prom", "metric": "requests", "comparator": ">",
                "threshold": 0, "window": "1h", "channels": ["am"], "description": "someone is calling"}
        assert fast.admin("POST", f"{P}/alerts/rules", spec).status == 201
        assert fast.admin("POST", f"{P}/alerts/rules", {
            "name": "drifting", "endpoint": "prom", "metric": "feature_drifted", "feature": "plan",
            "comparator": ">=", "threshold": 1, "window": "24h", "for": "5m"}).status == 201
        _, rows = records(20)
        send(fast, "prom", rows)

        def received():
            alerts = json.loads(wait_http(f"http://127.0.0.1:{am_port}/api/v2/alerts"))
            return [a for a in alerts if a["labels"].get("alertname") == "traffic"]
        got = until(received, timeout=30)
        assert got, rule(fast, "traffic")
        assert got[0]["labels"]["project"] == "ml" and got[0]["annotations"]["description"] == "someone is calling"

        # promtool accepts the rules Kade prints.
        out = fast.cli("monitor", "rules", env={"KADE_PROJECT": "ml"})
        assert out.returncode == 0, out.stderr
        rules_file = os.path.join(tmpdir_path, "kade-rules.yml")
        with open(rules_file, "w") as f:
            f.write(out.stdout)
        check = subprocess.run(["promtool", "check", "rules", rules_file], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr + out.stdout
        assert "kade_monitor_requests" in out.stdout and "kade_monitor_feature_drifted" in out.stdout

        # A real Prometheus scrapes Kade's /metrics with those rules loaded.
        prom_port = free_port()
        host = fast.url.replace("http://", "")
        with open(os.path.join(tmpdir_path, "token"), "w") as f:
            f.write(ADMIN_TOKEN)
        with open(os.path.join(tmpdir_path, "prom.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules_file}\n"
                    f"scrape_configs:\n  - job_name: kade\n    authorization:\n      credentials_file: {tmpdir_path}/token\n"
                    f"    static_configs:\n      - targets: ['{host}']\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={tmpdir_path}/prom.yml",
                                 f"--storage.tsdb.path={tmpdir_path}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready")

        def scraped():
            q = urllib.request.quote('kade_monitor_requests{endpoint="prom"}')
            res = json.loads(wait_http(f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}"))
            return res["data"]["result"]
        result = until(scraped, timeout=30)
        assert result and float(result[0]["value"][1]) >= 1
        def firing():
            res = json.loads(wait_http(f"http://127.0.0.1:{prom_port}/api/v1/alerts"))
            return [a for a in res["data"]["alerts"] if a["labels"]["alertname"] == "traffic"]
        assert until(firing, timeout=30)
    finally:
        for proc in (am, prom):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


def test_a_webhook_over_https_is_verified_and_a_bad_certificate_is_retried(tmpdir_path):
    """Delivery over TLS: the receiver's certificate (self-signed for 127.0.0.1, trusted through
    KADE_CA_FILE) is checked, and its name must match: the same receiver reached as
    "localhost", which the certificate does not name, is refused and kept for retries."""
    import ssl
    cert, key = os.path.join(tmpdir_path, "hook.pem"), os.path.join(tmpdir_path, "hook.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    hook = Receiver()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    hook.httpd.socket = ctx.wrap_socket(hook.httpd.socket, server_side=True)
    port = hook.httpd.server_port
    s = Server(os.path.join(tmpdir_path, "data"),
               extra_env={"KADE_ALERT_INTERVAL": "0.5", "KADE_CA_FILE": cert}).start()
    try:
        assert s.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
        churn = os.path.join(os.path.dirname(__file__), "..", "data", "churn.csv")
        with open(churn, "rb") as f:
            assert s.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=f.read(),
                             headers={"Content-Type": "text/csv"}).status == 201
        serve(s, "tls")
        r = s.admin("POST", f"{P}/alerts/channels",
                    {"name": "secure", "kind": "webhook", "url": f"https://127.0.0.1:{port}/hook"})
        assert r.status == 201, r.raw
        secret = r.json["secret"]
        assert s.admin("POST", f"{P}/alerts/channels",
                       {"name": "misnamed", "kind": "webhook",
                        "url": f"https://localhost:{port}/hook"}).status == 201
        for name, channel in (("tls-ok", "secure"), ("tls-bad", "misnamed")):
            assert s.admin("POST", f"{P}/alerts/rules", {
                "name": name, "endpoint": "tls", "metric": "requests", "comparator": ">=",
                "threshold": 1, "window": "1h", "for": "0s", "channels": [channel]}).status == 201
        _, rows = records(3)
        send(s, "tls", rows, batch=1)
        assert until(lambda: len(hook.bodies) == 1, timeout=30), rule(s, "tls-ok")
        expect = "sha256=" + hmac.new(secret.encode(), hook.bodies[0], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hook.signatures[0], expect)
        assert json.loads(hook.bodies[0])["alerts"][0]["labels"]["alertname"] == "tls-ok"

        def refused():
            d = rule(s, "tls-bad").get("deliveries") or []
            return d[0] if d and d[0]["attempts"] >= 2 else None
        d = until(refused, timeout=30)
        assert d and d["status"] != "delivered", d
        assert "certificate" in d["last_error"] or "verify" in d["last_error"], d
        assert len(hook.bodies) == 1  # nothing reached the receiver under the wrong name
    finally:
        s.stop()
        hook.close()
