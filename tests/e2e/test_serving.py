"""Registry and real-time serving end to end: a training run registered as a model version,
aliases, an endpoint following an alias, predictions equal to Python's xgboost, the Open
Inference Protocol, imports of models trained by Debian's python3-xgboost, input validation,
alias moves under a request stream without a failed request, canary splits, shadows, the
prediction log with feedback, and quality gates."""
import base64
import http.client
import json
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest
import xgboost

from conftest import ADMIN_TOKEN, ROOT
from test_training import encode, ml, wait  # noqa: F401 (ml is a fixture)

P = "/api/v1/projects/ml"
CHURN = os.path.join(ROOT, "tests", "data", "churn.csv")
FEATURES = ["plan", "tenure_months", "monthly_charges", "support_calls", "region"]


def train(server, **params):
    spec = {"dataset": "churn", "target": "churned", "num_rounds": 20, "seed": 3,
            "params": params or {"max_depth": 3}}
    r = server.admin("POST", f"{P}/jobs/train", spec)
    assert r.status == 201, r.raw
    job = wait(server, r.json["id"])
    assert job["status"] == "succeeded", job
    return job["run_id"]


def register(server, run_id, model="churn"):
    r = server.admin("POST", f"{P}/models/{model}/versions", {"run_id": run_id})
    assert r.status == 201, r.raw
    return r.json["version"]


def records(n=None):
    df = pd.read_csv(CHURN, keep_default_na=False, dtype=str)
    rows = []
    for _, row in (df if n is None else df.head(n)).iterrows():
        rec = {}
        for f in FEATURES:
            v = row[f]
            if v in ("", "NA"):
                rec[f] = None
            elif f in ("plan", "region"):
                rec[f] = v
            else:
                rec[f] = float(v)
        rows.append(rec)
    return df if n is None else df.head(n), rows


class Client:
    """A keep-alive HTTP client (urllib opens a connection per request)."""

    def __init__(self, server):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def post(self, path, body, headers=None):
        h = {"Authorization": "Bearer " + ADMIN_TOKEN, "Content-Type": "application/json"}
        h.update(headers or {})
        self.conn.request("POST", path, body=json.dumps(body), headers=h)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())


class Stream:
    """Clients posting `rows` to an endpoint until stopped: versions seen, failures."""

    def __init__(self, server, endpoint, rows, clients):
        self.seen, self.failures, self.stop_event = [], [], threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(server, endpoint, rows))
                        for _ in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, server, endpoint, rows):
        c = Client(server)
        while not self.stop_event.is_set():
            status, body = c.post(f"{P}/endpoints/{endpoint}/predict", {"instances": rows})
            if status != 200:
                self.failures.append((status, body))
            else:
                self.seen.append(body["version"])

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join()


def test_a_registered_run_serves_predictions_equal_to_python_xgboost(ml):
    run_id = train(ml)
    assert register(ml, run_id) == 1
    assert ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1}).json == \
        {"alias": "champion", "version": 1}
    r = ml.admin("POST", f"{P}/endpoints", {"name": "churn-api", "model": "churn"})
    assert r.status == 201 and r.json["ready"] and r.json["serving"] == [{"alias": "champion", "version": 1}]

    df, rows = records()
    r = ml.admin("POST", f"{P}/endpoints/churn-api/predict", {"instances": rows})
    assert r.status == 200, r.raw
    out = r.json
    assert out["version"] == 1 and out["model"] == "churn" and out["request_id"]
    assert out["classes"] == ["false", "true"] and len(out["predictions"]) == len(rows)

    # Python's xgboost on the run's model and the manifest's encoding: the same probabilities.
    version = ml.admin("GET", f"{P}/models/churn/versions/champion").json
    manifest = version["manifest"]
    model = ml.admin("GET", f"{P}/artifacts/{manifest['model_path']}").raw
    booster = xgboost.Booster()
    booster.load_model(bytearray(model))
    sig = manifest["signature"]
    x = encode(df, sig)
    dm = xgboost.DMatrix(x, feature_names=[f["name"] for f in sig["features"]],
                         feature_types=["c" if f["type"] == "categorical" else "q" for f in sig["features"]],
                         enable_categorical=True, missing=np.nan)
    theirs = booster.predict(dm)
    ours = np.array([p[1] for p in out["probabilities"]])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert out["predictions"] == ["true" if p >= 0.5 else "false" for p in ours]

    # Columns and a split frame give the same answers; so does the Open Inference Protocol,
    # at the root (PROJECT:ENDPOINT) and under the project's base URL.
    cols = {f: [rec[f] for rec in rows[:20]] for f in FEATURES}
    r = ml.admin("POST", f"{P}/endpoints/churn-api/predict", {"inputs": cols})
    assert r.json["probabilities"] == out["probabilities"][:20]
    r = ml.admin("POST", f"{P}/endpoints/churn-api/predict",
                 {"dataframe_split": {"columns": FEATURES, "data": [[rec[f] for f in FEATURES] for rec in rows[:5]]}})
    assert r.json["probabilities"] == out["probabilities"][:5]
    tensors = [{"name": f, "shape": [20], "datatype": "BYTES" if f in ("plan", "region") else "FP32",
                "data": cols[f]} for f in FEATURES]
    for path in ("/v2/models/ml:churn-api/infer", f"{P}/v2/models/churn-api/infer",
                 "/v2/models/ml:churn-api/versions/1/infer"):
        r = ml.admin("POST", path, {"id": "abc", "inputs": tensors})
        assert r.status == 200, (path, r.raw)
        o = {t["name"]: t for t in r.json["outputs"]}
        assert r.json["model_name"] == "churn-api" and r.json["model_version"] == "1" and r.json["id"] == "abc"
        assert o["probabilities"]["shape"] == [20, 2]
        np.testing.assert_allclose(np.array(o["probabilities"]["data"]).reshape(20, 2)[:, 1], ours[:20], rtol=1e-6)
    meta = ml.admin("GET", "/v2/models/ml:churn-api").json
    assert meta["name"] == "churn-api" and meta["versions"] == ["1"]
    assert {i["name"] for i in meta["inputs"]} == set(FEATURES)
    assert ml.admin("GET", "/v2/models/ml:churn-api/ready").json["ready"] is True
    assert ml.request("GET", "/v2/health/live").status == 200
    assert ml.request("GET", "/v2/health/ready").status == 200
    assert ml.admin("GET", "/v2/models/churn-api").status == 404  # no project named
    # Prometheus metrics per endpoint and version.
    metrics = ml.admin("GET", "/metrics").raw.decode()
    assert 'kade_endpoint_requests_total{endpoint="ml/churn-api",version="1"}' in metrics
    assert "kade_prediction_log_dropped_total 0" in metrics
    # Lineage: dataset version -> run -> model version -> endpoint.
    lineage = ml.admin("GET", f"{P}/models/churn/versions/1/lineage").json
    assert lineage["run_id"] == run_id and lineage["endpoints"] == ["churn-api"]
    assert lineage["dataset"]["dataset"] == "churn" and lineage["aliases"] == ["champion"]


def test_models_trained_by_python_xgboost_import_and_predict_the_same(ml):
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({"age": rng.integers(18, 80, n).astype(float),
                       "income": rng.normal(50, 15, n),
                       "color": pd.Categorical(rng.choice(["blue", "green", "red"], n))})
    df.loc[rng.random(n) < 0.1, "income"] = np.nan
    y = ((df["age"] > 40) ^ (df["color"] == "red")).astype(int)
    dm = xgboost.DMatrix(df, label=y, enable_categorical=True)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 4, "tree_method": "hist",
                             "max_cat_to_onehot": 1}, dm, 15)
    signature = {"features": [{"name": "age", "type": "numeric"}, {"name": "income", "type": "numeric"},
                              {"name": "color", "type": "categorical", "categories": ["blue", "green", "red"]}],
                 "classes": ["no", "yes"]}
    expected = booster.predict(dm)
    instances = [{"age": a, "income": None if np.isnan(i) else i, "color": c}
                 for a, i, c in zip(df["age"], df["income"], df["color"].astype(str))]
    for fmt, key in (("json", "model"), ("ubj", "model_base64")):
        raw = bytes(booster.save_raw(fmt))
        payload = raw.decode() if key == "model" else base64.b64encode(raw).decode()
        r = ml.admin("POST", f"{P}/models/imported/import",
                     {key: payload, "signature": signature, "metrics": {"auc": 0.9}})
        assert r.status == 201, r.raw
        v = r.json["version"]
        assert r.json["source"] == "import" and r.json["metrics"] == {"auc": 0.9}
        name = f"imported-{fmt}"
        r = ml.admin("POST", f"{P}/endpoints", {"name": name, "model": "imported", "targets": [{"version": v}]})
        assert r.status == 201, r.raw
        out = ml.admin("POST", f"{P}/endpoints/{name}/predict", {"instances": instances}).json
        np.testing.assert_allclose([p[1] for p in out["probabilities"]], expected, rtol=1e-6, atol=1e-7)
        assert set(out["predictions"]) <= {"no", "yes"}

    # A signature taken from a dataset version (types and categories of its columns).
    body = df.assign(label=y).to_csv(index=False).encode()
    assert ml.request("POST", f"{P}/datasets/people/versions", token=ADMIN_TOKEN, raw=body,
                      headers={"Content-Type": "text/csv"}).status == 201
    r = ml.admin("POST", f"{P}/models/imported/import",
                 {"model": bytes(booster.save_raw("json")).decode(),
                  "signature": {"dataset": "people", "version": "1", "target": "label"}})
    assert r.status == 201, r.raw
    feats = r.json["manifest"]["signature"]["features"]
    assert [f["name"] for f in feats] == ["age", "income", "color"]
    assert feats[2]["categories"] == ["blue", "green", "red"]
    # Files that are not models, and signatures that do not fit, are refused; nothing is added.
    versions = len(ml.admin("GET", f"{P}/models/imported").json["versions"])
    for body, needle in [
        ({"model_base64": base64.b64encode(b"\x00\x01garbage").decode(), "signature": signature}, "not an XGBoost model"),
        ({"model_base64": "%%%", "signature": signature}, "not valid base64"),
        ({"model": {"learner": 1}, "signature": signature}, "not an XGBoost model"),
        ({"model": bytes(booster.save_raw("json")).decode(), "signature": {"features": [{"name": "age"}]}}, "takes 3 features"),
        ({"model": bytes(booster.save_raw("json")).decode()}, "signature"),
        ({"model": 5, "signature": signature}, "expected XGBoost's JSON model"),
    ]:
        r = ml.admin("POST", f"{P}/models/imported/import", body)
        assert r.status == 400 and needle in r.json["error"]["message"], r.raw
    assert len(ml.admin("GET", f"{P}/models/imported").json["versions"]) == versions


def test_bad_predict_requests_get_400_listing_every_problem(ml):
    register(ml, train(ml))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "e", "model": "churn"}).status == 201
    good = {"plan": "basic", "tenure_months": 4, "monthly_charges": 18.8, "support_calls": 0, "region": "north"}
    url = f"{P}/endpoints/e/predict"
    cases = [
        ({"instances": [{k: v for k, v in good.items() if k != "plan"}]}, ["missing feature 'plan'"]),
        ({"instances": [dict(good, age=3)]}, ["instances[0].age: unknown feature"]),
        ({"instances": [dict(good, tenure_months="four")]}, ["instances[0].tenure_months: expected a number"]),
        ({"instances": [dict(good, plan="platinum")]}, ["unseen category \"platinum\""]),
        ({"instances": [dict(good, plan=["basic"])]}, ["expected a category"]),
        ({"instances": [good, dict(good, plan="x", region="y"), 7]},
         ["3 problems", "instances[1].plan", "instances[1].region", "instances[2]: expected an object"]),
        ({"instances": []}, ["non-empty array"]),
        ({"instances": {"plan": "basic"}}, ["non-empty array"]),
        ({"rows": [good]}, ["exactly one of"]),
        ({"instances": [good], "inputs": {}}, ["exactly one of"]),
        ({"instances": [good], "extra": 1}, ["unknown field 'extra'"]),
        ({"inputs": {"plan": ["basic", "basic"], "tenure_months": [1]}}, ["1 values, but 2"]),
        ({"inputs": {"plan": "basic"}}, ["expected an array"]),
        ({"dataframe_split": {"columns": ["plan"], "data": [["basic", 1]]}}, ["expected 1 values"]),
    ]
    for body, needles in cases:
        r = ml.admin("POST", url, body)
        assert r.status == 400, (body, r.raw)
        for n in needles:
            assert n in r.json["error"]["message"], (n, r.raw)
    r = ml.admin("POST", url, raw=b'{"instances": [', headers={"Content-Type": "application/json"})
    assert r.status == 400 and "line 1" in r.json["error"]["message"]
    r = ml.admin("POST", url, raw=b"\xff\xfe binary", headers={"Content-Type": "application/json"})
    assert r.status == 400
    r = ml.admin("POST", url, raw=b'[1,2]', headers={"Content-Type": "application/json"})
    assert r.status == 400
    n = 100001
    r = ml.admin("POST", url, {"inputs": {k: [v] * n for k, v in good.items()}})
    assert r.status == 400 and "at most 100000 rows" in r.json["error"]["message"], r.raw[:200]
    # A pinned version must exist; an unknown endpoint is 404; no token is 401.
    assert ml.admin("POST", url, {"instances": [good]}, headers={"X-Kade-Model-Version": "9"}).status == 404
    assert ml.admin("POST", url, {"instances": [good]}, headers={"X-Kade-Model-Version": "x"}).status == 400
    assert ml.admin("POST", f"{P}/endpoints/none/predict", {"instances": [good]}).status == 404
    assert ml.request("POST", url, body={"instances": [good]}).status == 401
    # Bad OIP tensors.
    for body, needle in [
        ({"inputs": [{"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic"]}]}, "shape holds 2"),
        ({"inputs": [{"name": "plan", "shape": [1], "datatype": "STRING", "data": ["basic"]}]}, "not an Open Inference"),
        ({"inputs": [{"name": "plan", "data": ["basic"]}]}, "expected {"),
        ({"inputs": []}, "non-empty array"),
    ]:
        r = ml.admin("POST", "/v2/models/ml:e/infer", body)
        assert r.status == 400 and needle in r.json["error"]["message"], r.raw
    # Nothing bad reached the prediction log; the counters saw the errors.
    ml.admin("POST", url, {"instances": [good]})
    log = ml.admin("GET", f"{P}/endpoints/e/predictions").json["predictions"]
    assert len(log) == 1 and log[0]["features"] == [good]
    stats = ml.admin("GET", f"{P}/endpoints/e").json["stats"]
    assert stats[0]["errors"] >= 6


def test_alias_moves_and_rollbacks_under_load_fail_no_request(ml):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=5))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "live", "model": "churn"}).status == 201
    _, rows = records(3)
    stream = Stream(ml, "live", rows, 4)
    seen, failures = stream.seen, stream.failures
    try:
        for i in range(6):
            time.sleep(0.3)
            if i % 2 == 0:
                r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2})
            else:
                r = ml.admin("POST", f"{P}/models/churn/aliases/champion/rollback")
            assert r.status == 200, r.raw
        time.sleep(0.3)
    finally:
        stream.stop()
    assert failures == []
    assert len(seen) > 100 and set(seen) == {v1, v2}
    # Rolled back last: champion is v1 again, and the history shows every move.
    assert ml.admin("GET", f"{P}/models/churn").json["aliases"] == {"champion": v1}
    history = ml.admin("GET", f"{P}/models/churn/aliases").json["history"]
    assert len(history) == 7 and history[0]["version"] == v1 and history[0]["previous"] == v2
    audit = ml.admin("GET", "/api/v1/audit?action=model.alias.rollback").json["entries"]
    assert len(audit) == 3


def test_canary_split_follows_the_weights_and_a_header_pins_a_version(ml):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=4))
    r = ml.admin("POST", f"{P}/endpoints", {"name": "canary", "model": "churn",
                                           "targets": [{"version": v1, "weight": 90}, {"version": v2, "weight": 10}],
                                           "log_sample": 0})
    assert r.status == 201, r.raw
    _, rows = records(1)
    counts = {v1: 0, v2: 0}
    lock = threading.Lock()

    def run(n):
        c = Client(ml)
        for _ in range(n):
            status, body = c.post(f"{P}/endpoints/canary/predict", {"instances": rows})
            assert status == 200
            with lock:
                counts[body["version"]] += 1

    threads = [threading.Thread(target=run, args=(2500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    share = counts[v2] / 10000
    assert abs(share - 0.10) < 0.015, counts
    # A header pins a version; log_sample 0 kept the log empty.
    c = Client(ml)
    for v in (v1, v2):
        status, body = c.post(f"{P}/endpoints/canary/predict", {"instances": rows},
                              headers={"X-Kade-Model-Version": str(v)})
        assert status == 200 and body["version"] == v
    assert ml.admin("GET", f"{P}/endpoints/canary/predictions").json["predictions"] == []
    # The split editor: all traffic to v2, then back; bad splits are refused and change nothing.
    r = ml.admin("PATCH", f"{P}/endpoints/canary", {"targets": [{"version": v2, "weight": 1}]})
    assert r.status == 200 and r.json["serving"] == [{"version": v2}]
    for body, needle in [({"targets": []}, "one to ten"),
                         ({"targets": [{"version": v1, "weight": -1}]}, "weight"),
                         ({"targets": [{"version": v1, "alias": "x"}]}, "either 'alias' or 'version'"),
                         ({"targets": [{"version": 99}]}, "no version 99"),
                         ({"log_sample": 2}, "log_sample"),
                         ({"colour": "red"}, "colour")]:
        r = ml.admin("PATCH", f"{P}/endpoints/canary", body)
        assert 400 <= r.status < 500 and needle in r.json["error"]["message"], (body, r.raw)
    assert ml.admin("GET", f"{P}/endpoints/canary").json["serving"] == [{"version": v2}]


def test_a_shadow_sees_every_request_and_never_changes_answers(ml):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=6, eta=0.5))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "plain", "model": "churn"}).status == 201
    assert ml.admin("POST", f"{P}/endpoints", {"name": "shadowed", "model": "churn",
                                               "shadow": {"version": v2}}).status == 201
    _, rows = records(50)
    for i in range(0, 50, 10):
        a = ml.admin("POST", f"{P}/endpoints/plain/predict", {"instances": rows[i:i + 10]}).json
        b = ml.admin("POST", f"{P}/endpoints/shadowed/predict", {"instances": rows[i:i + 10]}).json
        assert b["version"] == v1
        assert (a["predictions"], a["probabilities"]) == (b["predictions"], b["probabilities"])
    log = ml.admin("GET", f"{P}/endpoints/shadowed/predictions?limit=100").json["predictions"]
    primary = [e for e in log if not e["shadow"]]
    shadow = [e for e in log if e["shadow"]]
    assert len(primary) == 5 and len(shadow) == 5
    assert {e["version"] for e in shadow} == {v2}
    assert {e["request_id"] for e in shadow} == {e["request_id"] for e in primary}
    # The shadow really is another model: some of its probabilities differ.
    assert any(s["outputs"]["probabilities"] != p["outputs"]["probabilities"]
               for s, p in zip(sorted(shadow, key=lambda e: e["request_id"]),
                               sorted(primary, key=lambda e: e["request_id"])))


def test_prediction_log_and_ground_truth_feedback(ml):
    register(ml, train(ml))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1})
    ml.admin("POST", f"{P}/endpoints", {"name": "fb", "model": "churn"})
    _, rows = records(2)
    r = ml.admin("POST", f"{P}/endpoints/fb/predict", {"instances": rows}, headers={"X-Request-Id": "req-001"})
    assert r.json["request_id"] == "req-001"
    r = ml.admin("POST", f"{P}/endpoints/fb/feedback", {"request_id": "req-001", "label": "true"})
    assert r.status == 200 and r.json == {"accepted": 1}, r.raw
    log = ml.admin("GET", f"{P}/endpoints/fb/predictions").json["predictions"]
    assert log[0]["request_id"] == "req-001" and log[0]["label"] == "true" and log[0]["version"] == 1
    assert log[0]["features"] == rows and log[0]["latency_us"] >= 0
    for body, status, needle in [
        ({"request_id": "req-001"}, 400, "label"),
        ({"request_id": 5, "label": 1}, 400, "request_id"),
        ({"items": [{"request_id": "req-001", "label": 1}, {"request_id": "x", "label": [0]}]}, 400,
         "items[1].label"),
        ({"items": "x"}, 400, "items"),
        ({"request_id": "req-001", "label": 1, "extra": 2}, 400, "extra"),
    ]:
        r = ml.admin("POST", f"{P}/endpoints/fb/feedback", body)
        assert r.status == status and needle in r.json["error"]["message"], (body, r.raw)
    # The failed batch stored nothing: the label is still the first one.
    assert ml.admin("GET", f"{P}/endpoints/fb/predictions").json["predictions"][0]["label"] == "true"
    # Ground truth may arrive before its request reaches the log (sampled out, or still on
    # its way from a replica): it is kept and joined when the entry shows up.
    r = ml.admin("POST", f"{P}/endpoints/fb/feedback", {"request_id": "req-002", "label": "false"})
    assert r.status == 200, r.raw
    ml.admin("POST", f"{P}/endpoints/fb/predict", {"instances": rows}, headers={"X-Request-Id": "req-002"})
    log = ml.admin("GET", f"{P}/endpoints/fb/predictions").json["predictions"]
    assert [(e["request_id"], e["label"]) for e in log] == [("req-002", "false"), ("req-001", "true")]
    assert ml.admin("POST", f"{P}/endpoints/none/feedback", {"request_id": "a", "label": 1}).status == 404


def test_prediction_log_left_in_sqlite_by_an_older_version_moves_to_files(ml):
    import sqlite3
    register(ml, train(ml))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1})
    ml.admin("POST", f"{P}/endpoints", {"name": "old", "model": "churn"})
    _, rows = records(1)
    assert ml.stop() == 0
    # Versions before 0.9 kept the log in the metadata store's predictions table.
    db = sqlite3.connect(os.path.join(ml.data_dir, "kade.db"))
    (eid,) = db.execute("SELECT id FROM endpoints WHERE name = 'old'").fetchone()
    for i in range(3):
        db.execute("INSERT INTO predictions (endpoint_id, request_id, ts, version, shadow, latency_us, "
                   "features, outputs) VALUES (?, ?, ?, 1, 0, 5, ?, ?)",
                   (eid, f"legacy-{i}", 1700000000000 + i, json.dumps({"instances": rows}),
                    json.dumps({"predictions": [0.5]})))
    db.commit()
    db.close()
    ml.start()
    ml.admin("POST", f"{P}/endpoints/old/predict", {"instances": rows}, headers={"X-Request-Id": "new-0"})
    log = ml.admin("GET", f"{P}/endpoints/old/predictions").json["predictions"]
    assert [e["request_id"] for e in log] == ["new-0", "legacy-2", "legacy-1", "legacy-0"]
    assert log[1]["features"] == rows and log[1]["outputs"] == {"predictions": [0.5]}
    db = sqlite3.connect(os.path.join(ml.data_dir, "kade.db"))
    assert db.execute("SELECT count(*) FROM predictions").fetchone() == (0,)
    db.close()
    # The log is JSON Lines files any tool can read.
    seg_dir = os.path.join(ml.data_dir, "predictions")
    lines = []
    for d in os.listdir(seg_dir):
        for f in sorted(os.listdir(os.path.join(seg_dir, d))):
            with open(os.path.join(seg_dir, d, f)) as fh:
                lines += [json.loads(line) for line in fh]
    assert [entry["request_id"] for entry in lines] == ["legacy-0", "legacy-1", "legacy-2", "new-0"]
    # Deleting the endpoint deletes its log.
    assert ml.admin("DELETE", f"{P}/endpoints/old").status == 200
    assert os.listdir(seg_dir) == []


def test_log_ingest_keeps_hostile_text_as_one_entry_each(ml):
    register(ml, train(ml))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1})
    ml.admin("POST", f"{P}/endpoints", {"name": "ing", "model": "churn"})
    records_in = [
        {"request_id": 'q"uote\\d\nline', "ts": 1, "version": 1, "latency_us": 3,
         "features": '{\n  "instances": [\r\n {"plan": "a\\nb", "x": 1}\n ]\n}', "outputs": '{"predictions": [1]}'},
        {"request_id": "plain", "ts": 2, "version": 1, "latency_us": 4, "shadow": True,
         "features": "[]", "outputs": "null"},
    ]
    r = ml.admin("POST", f"{P}/endpoints/ing/predictions", {"records": records_in, "replica": "r1"})
    assert r.status == 200 and r.json == {"accepted": 2}, r.raw
    log = ml.admin("GET", f"{P}/endpoints/ing/predictions").json["predictions"]
    assert [e["request_id"] for e in log] == ["plain", records_in[0]["request_id"]]
    assert log[1]["features"] == [{"plan": "a\nb", "x": 1}] and log[1]["outputs"] == {"predictions": [1]}
    assert log[0]["shadow"] is True and log[0]["features"] == []
    # Two entries, two lines in the endpoint's segment file.
    seg_root = os.path.join(ml.data_dir, "predictions")
    (d,) = os.listdir(seg_root)
    text = "".join(open(os.path.join(seg_root, d, f)).read() for f in os.listdir(os.path.join(seg_root, d)))
    assert text.count("\n") == 2
    # Wrong types are refused whole, naming the field; nothing is appended.
    for bad, needle in [
        ({"records": [{**records_in[1], "features": "{not json"}]}, "records[0].features"),
        ({"records": [records_in[1], {**records_in[1], "ts": -1}]}, "records[1].ts"),
        ({"records": [{**records_in[1], "what": 1}]}, "what"),
        ({"records": []}, "records"),
    ]:
        r = ml.admin("POST", f"{P}/endpoints/ing/predictions", bad)
        assert r.status == 400 and needle in r.json["error"]["message"], (bad, r.raw)
    assert len(ml.admin("GET", f"{P}/endpoints/ing/predictions").json["predictions"]) == 2


def test_quality_gates_guard_serving_aliases_and_overrides_are_audited(ml):
    v1 = register(ml, train(ml, max_depth=3))
    v2 = register(ml, train(ml, max_depth=1, eta=0.01))  # a weak model
    r = ml.admin("PATCH", f"{P}/models/churn", {"gates": {
        "metrics": [{"metric": "auc", "min": 0.6}], "data_quality": True, "latency_p99_ms": 50,
        "beat_champion": {"dataset": "churn", "version": "1", "metric": "auc"}}})
    assert r.status == 200, r.raw
    r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert r.status == 200, r.raw
    report = ml.admin("GET", f"{P}/models/churn/versions/{v1}").json["gate_report"]
    assert report["passed"] and {c["gate"] for c in report["checks"]} == \
        {"metric", "data_quality", "latency", "beat_champion"}
    # v2 scores lower than the champion on the same data: refused, the report says why.
    r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2})
    assert r.status == 409 and "beat_champion" in r.json["error"]["message"], r.raw
    report = ml.admin("GET", f"{P}/models/churn/versions/{v2}").json["gate_report"]
    bc = [c for c in report["checks"] if c["gate"] == "beat_champion"][0]
    assert not bc["passed"] and bc["value"] < bc["champion_value"] and bc["champion_version"] == v1
    # An alias no one serves from is not gated.
    assert ml.admin("PUT", f"{P}/models/churn/aliases/candidate", {"version": v2}).status == 200
    # Overriding needs the maintainer role and is audited with the report.
    ed = ml.make_user("eddie")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "eddie", "role": "editor"})
    r = ml.request("PUT", f"{P}/models/churn/aliases/champion", token=ed, body={"version": v2, "force": True})
    assert r.status == 403, r.raw
    assert ml.admin("GET", f"{P}/models/churn").json["aliases"]["champion"] == v1
    r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2, "force": True})
    assert r.status == 200, r.raw
    entries = ml.admin("GET", "/api/v1/audit?action=model.alias.override").json["entries"]
    assert len(entries) == 1 and entries[0]["detail"]["gate_report"]["passed"] is False
    # Editors may not change gates; bad gate configs are refused.
    assert ml.request("PATCH", f"{P}/models/churn", token=ed, body={"gates": {}}).status == 403
    for gates, needle in [({"metrics": [{"metric": "auc"}]}, "gates.metrics[0]"),
                          ({"latency_p99_ms": -1}, "latency_p99_ms"),
                          ({"speed": 1}, "speed"),
                          ({"beat_champion": {"metric": "auc"}}, "beat_champion")]:
        r = ml.admin("PATCH", f"{P}/models/churn", {"gates": gates})
        assert r.status == 400 and needle in r.json["error"]["message"], r.raw


def test_registry_compare_archive_and_access(ml):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=4))
    c = ml.admin("GET", f"{P}/models/churn/compare?versions={v1},{v2}").json
    assert [v["version"] for v in c["versions"]] == [v1, v2]
    assert c["versions"][0]["params"]["max_depth"] == "2" and c["versions"][1]["params"]["max_depth"] == "4"
    assert "auc" in c["versions"][0]["metrics"]
    assert c["versions"][1]["signature_changes"]["added"] == []
    assert ml.admin("GET", f"{P}/models/churn/compare?versions={v1}").status == 400
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    r = ml.admin("POST", f"{P}/models/churn/versions/{v1}/archive")
    assert r.status == 409 and "champion" in r.json["error"]["message"]
    assert ml.admin("POST", f"{P}/models/churn/versions/{v2}/archive").json["status"] == "archived"
    r = ml.admin("PUT", f"{P}/models/churn/aliases/challenger", {"version": v2})
    assert r.status == 409 and "archived" in r.json["error"]["message"]
    assert ml.admin("POST", f"{P}/models/churn/versions/{v2}/restore").json["status"] == "ready"
    # Bad input: unknown run, bad names, numbers as aliases, missing version.
    for method, path, body, status in [
        ("POST", f"{P}/models/churn/versions", {"run_id": "nope"}, 404),
        ("POST", f"{P}/models/Bad%20Name/versions", {"run_id": "x"}, 400),
        ("POST", f"{P}/models/churn/versions", {"run": "x"}, 400),
        ("PUT", f"{P}/models/churn/aliases/7", {"version": v1}, 400),
        ("PUT", f"{P}/models/churn/aliases/x", {"version": "1"}, 400),
        ("PUT", f"{P}/models/churn/aliases/x", {"version": 99}, 404),
        ("POST", f"{P}/models/churn/aliases/nothing/rollback", None, 409),
        ("POST", f"{P}/endpoints", {"name": "e", "model": "churn", "alias": "nothing"}, 409),
        ("POST", f"{P}/endpoints", {"name": "e", "model": "nope"}, 404),
        ("POST", f"{P}/endpoints", {"name": "../e", "model": "churn"}, 400),
    ]:
        r = ml.admin(method, path, body)
        assert r.status == status, (path, body, r.raw)
    assert ml.admin("GET", f"{P}/endpoints").json["endpoints"] == []
    # Access: no token 401; a viewer reads and predicts but may not register or move aliases.
    viewer = ml.make_user("vic")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vic", "role": "viewer"})
    assert ml.request("GET", f"{P}/models").status == 401
    assert ml.request("GET", f"{P}/models", token=viewer).status == 200
    assert ml.request("PUT", f"{P}/models/churn/aliases/champion", token=viewer, body={"version": v2}).status == 403
    assert ml.request("POST", f"{P}/endpoints", token=viewer, body={"name": "x", "model": "churn"}).status == 403
    refused = ml.admin("GET", "/api/v1/audit?action=model.alias.set").json["entries"]
    assert any(e["actor"] == "vic" and e["outcome"] == "PERMISSION_DENIED" for e in refused)


def test_cli_models_and_endpoints(ml):
    r1, r2 = train(ml, max_depth=2), train(ml, max_depth=4)
    def cli(*args):
        return ml.cli(*args, env={"KADE_PROJECT": "ml"})
    out = cli("models", "register", r1, "--name", "churn")
    assert out.returncode == 0 and "version 1" in out.stdout, out.stderr
    assert cli("models", "register", r2, "--name", "churn").returncode == 0
    out = cli("models", "alias", "set", "churn", "champion", "1")
    assert out.returncode == 0 and "version 1" in out.stdout, out.stderr
    out = cli("models", "ls")
    assert "churn" in out.stdout and "champion=v1" in out.stdout, out.stdout
    out = cli("models", "show", "churn")
    assert "v2" in out.stdout and "champion" in out.stdout and "auc=" in out.stdout, out.stdout
    out = cli("models", "compare", "churn", "1", "2")
    assert "param max_depth" in out.stdout and "metric auc" in out.stdout, out.stdout
    out = cli("endpoints", "create", "api", "--model", "churn", "--traffic", "champion")
    assert out.returncode == 0 and "ready    yes" in out.stdout, out.stdout + out.stderr
    rec = '{"plan": "basic", "tenure_months": 4, "monthly_charges": 18.8, "support_calls": 0, "region": "north"}'
    out = cli("endpoints", "predict", "api", "--data", rec)
    assert out.returncode == 0 and json.loads(out.stdout)["version"] == 1, out.stdout + out.stderr
    out = cli("models", "importance", "churn", "1", "--rows", "100")
    assert out.returncode == 0 and "MEAN |SHAP|" in out.stdout and "100 of 600 rows" in out.stdout, out.stdout + out.stderr
    out = cli("endpoints", "explain", "api", "--data", rec)
    assert out.returncode == 0 and "CONTRIBUTION" in out.stdout and "tenure_months" in out.stdout, out.stdout + out.stderr
    assert "margin" in out.stdout and "tree_shap" in out.stdout
    out = cli("models", "alias", "set", "churn", "champion", "2")
    assert out.returncode == 0
    assert json.loads(cli("endpoints", "predict", "api", "-d", "[" + rec + "]").stdout)["version"] == 2
    out = cli("models", "alias", "rollback", "churn", "champion")
    assert out.returncode == 0 and "version 1" in out.stdout
    out = cli("endpoints", "split", "api", "1=50,2=50")
    assert out.returncode == 0 and "weight 50" in out.stdout, out.stdout + out.stderr
    out = cli("endpoints", "show", "api")
    assert "requests" in out.stdout and "serving  version 2" in out.stdout, out.stdout
    assert "api" in cli("endpoints", "ls").stdout
    out = cli("endpoints", "predict", "api", "--data", '{"plan": "gold"}')
    assert out.returncode == 1 and "unseen category" in out.stderr, out.stderr
    out = cli("models", "alias", "set", "churn", "champion", "9")
    assert out.returncode == 1 and "no version" in out.stderr
    # Import a model file trained by Python's xgboost, with a signature file.
    df = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})
    booster = xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(df, label=df["a"] * 2), 5)
    path = os.path.join(ml.data_dir, "m.ubj")
    booster.save_model(path)
    sig = os.path.join(ml.data_dir, "sig.json")
    with open(sig, "w") as f:
        json.dump({"features": [{"name": "a"}, {"name": "b"}]}, f)
    out = cli("models", "import", path, "--name", "reg", "--signature", sig)
    assert out.returncode == 0 and "version 1" in out.stdout, out.stderr
    # The prediction log and ground truth from the CLI.
    ml.admin("POST", f"{P}/endpoints/api/predict", {"instances": [json.loads(rec)]}, headers={"X-Request-Id": "cli-1"})
    ml.admin("POST", f"{P}/endpoints/api/predict", {"instances": [json.loads(rec)]}, headers={"X-Request-Id": "cli-2"})
    out = cli("endpoints", "feedback", "api", "--request-id", "cli-1", "--label", "true")
    assert out.returncode == 0 and "accepted 1" in out.stdout, out.stdout + out.stderr
    labels = os.path.join(ml.data_dir, "labels.csv")
    with open(labels, "w") as f:
        f.write('request_id,label\ncli-2,"false"\n\ncli-3,"a ""quoted"", label"\n')
    out = cli("endpoints", "feedback", "api", "--file", labels)
    assert out.returncode == 0 and "accepted 2" in out.stdout, out.stdout + out.stderr
    out = cli("endpoints", "log", "api", "-n", "2")
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines[0].split()[:3] == ["TIME", "REQUEST", "VERSION"], out.stdout
    assert "cli-2" in lines[1] and lines[1].rstrip().endswith("false"), out.stdout
    assert "cli-1" in lines[2] and lines[2].rstrip().endswith("true"), out.stdout
    log = json.loads(ml.cli("--json", "endpoints", "log", "api", env={"KADE_PROJECT": "ml"}).stdout)
    assert log["predictions"][0]["request_id"] == "cli-2"
    # Realised fit from that ground truth (two labelled answers).
    out = cli("endpoints", "performance", "api", "--window", "1h")
    assert out.returncode == 0 and out.stdout.splitlines()[0].split()[:3] == ["VERSION", "TASK", "PREDICTIONS"], out.stdout + out.stderr
    assert "binary" in out.stdout and "window 3600s" in out.stdout, out.stdout
    assert cli("endpoints", "performance", "api", "--window", "soon").returncode != 0
    bad = os.path.join(ml.data_dir, "bad.csv")
    for text, needle in [("request_id,label\nonly-one-field\n", "line 2"), ("id,label\nx,1\n", "line 1"),
                         ('request_id,label\nx,"unclosed\n', "line 2"), ("[{", "not valid JSON")]:
        with open(bad, "w") as f:
            f.write(text)
        out = cli("endpoints", "feedback", "api", "--file", bad)
        assert out.returncode == 1 and needle in out.stderr, (text, out.stderr)
    out = cli("endpoints", "feedback", "api", "--request-id", "x")
    assert out.returncode == 1 and "--label" in out.stderr
    # More than one call's worth: a refusal in the second part says where, and what was stored.
    many = os.path.join(ml.data_dir, "many.json")
    with open(many, "w") as f:
        json.dump([{"request_id": f"m-{i}", "label": 1} for i in range(10000)] +
                  [{"request_id": "m-last", "label": [1]}], f)
    out = cli("endpoints", "feedback", "api", "--file", many)
    assert out.returncode == 1 and "items 10000 to 10000" in out.stderr and "items[0].label" in out.stderr \
        and "10000 labels before them were stored" in out.stderr, out.stderr
    # Update the log sampling and shadow, then delete.
    out = cli("endpoints", "update", "api", "--log-sample", "0.5", "--shadow", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    cfg = ml.admin("GET", f"{P}/endpoints/api").json["config"]
    assert cfg["log_sample"] == 0.5 and cfg["shadow"]["version"] == 2 and len(cfg["targets"]) == 2, cfg
    assert cli("endpoints", "update", "api", "--shadow", "none").returncode == 0
    assert ml.admin("GET", f"{P}/endpoints/api").json["config"]["shadow"] is None
    assert cli("endpoints", "update", "api").returncode == 1
    out = cli("endpoints", "delete", "api")
    assert out.returncode == 0 and "deleted endpoint api" in out.stdout, out.stdout + out.stderr
    assert ml.admin("GET", f"{P}/endpoints/api").status == 404


def test_a_second_server_on_the_same_store_follows_endpoints_and_alias_moves(ml, make_server):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=4))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "shared", "model": "churn"}).status == 201
    other = make_server(name="data")  # the same data directory as `ml`
    other.data_dir = ml.data_dir
    other.log_path = os.path.join(ml.data_dir, "server2.log")
    other.start()
    _, rows = records(1)

    def served_by_other(expect, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = other.admin("POST", f"{P}/endpoints/shared/predict", {"instances": rows})
            if (r.status, r.json.get("version") if r.status == 200 else None) == expect:
                return True
            time.sleep(0.3)
        return False

    assert served_by_other((200, v1))
    # Moved through the first server: the second follows within its 2 s sync.
    assert ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2}).status == 200
    assert served_by_other((200, v2))
    # Endpoints created and deleted through the first appear and disappear on the second.
    assert ml.admin("POST", f"{P}/endpoints", {"name": "later", "model": "churn", "targets": [{"version": v1}]}).status == 201
    deadline = time.time() + 10
    while other.admin("POST", f"{P}/endpoints/later/predict", {"instances": rows}).status != 200:
        assert time.time() < deadline, "the second server never served the new endpoint"
        time.sleep(0.3)
    assert ml.admin("DELETE", f"{P}/endpoints/shared").status == 200
    deadline = time.time() + 10
    while other.admin("POST", f"{P}/endpoints/shared/predict", {"instances": rows}).status != 404:
        assert time.time() < deadline, "the second server kept serving a deleted endpoint"
        time.sleep(0.3)


def start_replica(ml, tmpdir_path, url, *extra):
    """Starts `kade replica` for project ml against `url`; returns the process, its log file
    and a client for it, once it listens."""
    import subprocess
    from conftest import KADE
    port_file = os.path.join(tmpdir_path, "replica.port")
    log = open(os.path.join(tmpdir_path, "replica.log"), "wb")
    proc = subprocess.Popen([KADE, "replica", "--url", url, "--token", ADMIN_TOKEN, "--project", "ml",
                             "--addr", "127.0.0.1:0", "--data-dir", os.path.join(tmpdir_path, "replica"),
                             "--sync", "1", "--port-file", port_file, *extra],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        assert proc.poll() is None and time.time() < deadline, open(log.name).read()
        time.sleep(0.1)
    replica = type(ml)(ml.data_dir)
    replica.port = int(open(port_file).read())
    return proc, log, replica


def stop_replica(proc, log):
    """Stops a replica with SIGTERM; it must exit within 30 s."""
    import subprocess
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the replica did not stop: " + open(log.name).read()[-3000:])
    finally:
        log.close()


def wait_serving(replica, url, rows, log):
    """Waits until the replica answers predictions on `url`."""
    deadline = time.time() + 15
    while replica.admin("POST", url, {"instances": rows}).status != 200:
        assert time.time() < deadline, open(log.name).read()
        time.sleep(0.2)


def wait_label(server, endpoint, request_id, label, what):
    """Waits until the server's log shows `request_id` with the ground truth `label`."""
    deadline = time.time() + 20
    while True:
        got = [p for p in server.admin("GET", f"{P}/endpoints/{endpoint}/predictions?limit=100").json["predictions"]
               if p["request_id"] == request_id]
        if got and got[0]["label"] == label:
            return
        assert time.time() < deadline, (what, got)
        time.sleep(0.3)


def test_kade_serve_replica_serves_follows_alias_moves_and_forwards_its_log(ml, tmpdir_path):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=4))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "api", "model": "churn"}).status == 201
    proc, log, replica = start_replica(ml, tmpdir_path, ml.url)
    try:
        _, rows = records(2)
        url = f"{P}/endpoints/api/predict"

        def wait_version(v):
            deadline = time.time() + 15
            while time.time() < deadline:
                r = replica.admin("POST", url, {"instances": rows})
                if r.status == 200 and r.json["version"] == v:
                    return r.json
                time.sleep(0.2)
            raise AssertionError(f"replica never served v{v}")

        answer = wait_version(v1)
        direct = ml.admin("POST", url, {"instances": rows}).json
        assert answer["probabilities"] == direct["probabilities"]
        # OIP on the replica; its health routes need no token.
        assert replica.request("GET", "/v2/health/ready").status == 200
        r = replica.admin("POST", "/v2/models/ml:api/infer", {"inputs": [
            {"name": f, "shape": [2], "datatype": "BYTES" if f in ("plan", "region") else "FP32",
             "data": [rec[f] for rec in rows]} for f in FEATURES]})
        assert r.status == 200 and r.json["model_version"] == str(v1)
        # The alias moves on the server; the replica follows.
        assert ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2}).status == 200
        wait_version(v2)
        # Tokens: none is 401; an outsider (no role in the project) is 404; a viewer predicts.
        assert replica.request("POST", url, body={"instances": rows}).status == 401
        outsider = ml.make_user("olga")
        assert replica.request("POST", url, token=outsider, body={"instances": rows}).status == 404
        viewer = ml.make_user("vik")
        ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vik", "role": "viewer"})
        assert replica.request("POST", url, token=viewer, body={"instances": rows}).status == 200
        # Replicas serve; they do not change the registry.
        assert replica.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1}).status == 404
        # The replica's prediction log reaches the server.
        replica.admin("POST", url, {"instances": rows}, headers={"X-Request-Id": "via-replica"})
        deadline = time.time() + 15
        while time.time() < deadline:
            log_rows = ml.admin("GET", f"{P}/endpoints/api/predictions?limit=100").json["predictions"]
            if any(p["request_id"] == "via-replica" for p in log_rows):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the replica's log never reached the server")
        assert ml.admin("POST", f"{P}/endpoints/api/feedback", {"request_id": "via-replica", "label": "true"}).status == 200
        # Bad log batches are refused whole.
        r = ml.admin("POST", f"{P}/endpoints/api/predictions", {"records": [{"request_id": "x"}]})
        assert r.status == 400 and "records[0]" in r.json["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == 0


def test_registry_text_fields_and_gates_are_checked_on_create_too(ml):
    for body, needle in [
        ({"name": "m1", "gates": {"metrics": [{"metric": "auc"}]}}, "gates.metrics[0]"),
        ({"name": "m1", "gates": {"sped": 1}}, "sped"),
        ({"name": "m1", "description": "d" * 4001}, "longer than 4000"),
        ({"name": "m1", "tags": {"team": 5}}, "tags.team"),
        ({"name": "m1", "tags": ["x"]}, "tags"),
    ]:
        r = ml.admin("POST", f"{P}/models", body)
        assert r.status == 400 and needle in r.json["error"]["message"], (body, r.raw)
    assert ml.admin("GET", f"{P}/models").json["models"] == []
    assert ml.admin("POST", f"{P}/models", {"name": "m1", "tags": {"team": "risk"}}).status == 201
    r = ml.admin("PATCH", f"{P}/models/m1", {"description": "x" * 4001})
    assert r.status == 400
    run = train(ml)
    r = ml.admin("POST", f"{P}/models/m1/versions", {"run_id": run, "description": "y" * 4001})
    assert r.status == 400 and ml.admin("GET", f"{P}/models/m1").json["versions"] == []


class _StallingProxy:
    """A TCP proxy in front of the server that can be told to stall: it then accepts
    connections and never answers (a server that hangs, as seen by a replica)."""

    def __init__(self, target_port):
        import socket
        import threading
        self.target_port = target_port
        self.stall = False
        self.refuse = False  # close every new connection at once (a server that is down)
        self.closed = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:
                client.close()
                return
            if self.stall:
                self.held.append(client)  # read nothing, answer nothing
                continue
            if self.refuse:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def close(self):
        import socket
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.sock.close()
        for c in self.held:
            c.close()


def test_replica_forwards_feedback_refuses_endpoint_writes_and_follows_role_changes(ml, tmpdir_path):
    v1 = register(ml, train(ml, max_depth=2))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "api", "model": "churn"}).status == 201
    ada = ml.make_user("ada", admin=True)  # an admin with no role in the project
    vik = ml.make_user("vik")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vik", "role": "editor"})
    proxy = _StallingProxy(ml.port)
    proc, log, replica = start_replica(ml, tmpdir_path, f"http://127.0.0.1:{proxy.port}",
                                       "--token-ttl", "1")
    try:
        _, rows = records(2)
        url = f"{P}/endpoints/api/predict"
        wait_serving(replica, url, rows, log)
        # Ground truth posted to the replica reaches the server, with the prediction.
        r = replica.request("POST", url, token=vik, body={"instances": rows},
                            headers={"X-Request-Id": "rep-1"})
        assert r.status == 200, r.raw
        r = replica.request("POST", f"{P}/endpoints/api/feedback", token=vik,
                            body={"items": [{"request_id": "rep-1", "label": True}]})
        assert r.status == 200 and r.json["accepted"] == 1, r.raw
        assert replica.request("POST", f"{P}/endpoints/api/feedback", token=vik,
                               body={"items": [{"request_id": "rep-1"}]}).status == 400
        wait_label(ml, "api", "rep-1", "true", "feedback never reached the server")
        # Endpoint changes are the server's: refused on the replica, the server unchanged.
        before = ml.admin("GET", f"{P}/endpoints/api").json
        for method, path, body in [("POST", f"{P}/endpoints", {"name": "x", "model": "churn"}),
                                   ("PATCH", f"{P}/endpoints/api", {"targets": [{"version": v1, "weight": 100}]}),
                                   ("DELETE", f"{P}/endpoints/api", None),
                                   ("POST", f"{P}/endpoints/api/predictions", {"records": []})]:
            r = replica.admin(method, path, body)
            assert r.status == 405 and "serving replica" in r.json["error"]["message"], (method, path, r.raw)
        assert replica.admin("GET", f"{P}/endpoints/api").status == 200
        assert ml.admin("GET", f"{P}/endpoints/api").json["config"] == before["config"]
        assert [e["name"] for e in ml.admin("GET", f"{P}/endpoints").json["endpoints"]] == ["api"]
        # An admin sees every project on the replica; demoted on the server, not any more
        # once the token's check is older than the TTL.
        assert replica.request("POST", url, token=ada, body={"instances": rows}).status == 200
        assert ml.admin("PATCH", "/api/v1/users/ada", {"admin": False}).status == 200
        deadline = time.time() + 10
        while replica.request("POST", url, token=ada, body={"instances": rows}).status != 404:
            assert time.time() < deadline, "the demoted admin kept admin rights on the replica"
            time.sleep(0.3)
        # A server that cannot be reached is not "no role": the editor keeps predicting and
        # posting ground truth (queued), and the queue drains once the server is back.
        proxy.refuse = True
        time.sleep(1.5)  # past the TTL: the replica asks, and cannot reach the server
        r = replica.request("POST", url, token=vik, body={"instances": rows},
                            headers={"X-Request-Id": "rep-2"})
        assert r.status == 200, r.raw
        r = replica.request("POST", f"{P}/endpoints/api/feedback", token=vik,
                            body={"request_id": "rep-2", "label": False})
        assert r.status == 200, r.raw
        proxy.refuse = False
        wait_label(ml, "api", "rep-2", "false", "queued feedback never reached the server")
    finally:
        proxy.close()
        stop_replica(proc, log)
    assert proc.returncode == 0


def test_kade_serve_keeps_answering_while_a_token_check_hangs(ml, tmpdir_path):
    # A replica asks the server about a token it has not seen lately. That call goes to the
    # blocking pool: with one event-loop thread and a server that hangs, callers with known
    # tokens are still answered.
    import threading
    v1 = register(ml, train(ml, max_depth=2))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "api", "model": "churn"}).status == 201
    stranger = ml.make_user("sid")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "sid", "role": "viewer"})
    proxy = _StallingProxy(ml.port)
    proc, log, replica = start_replica(ml, tmpdir_path, f"http://127.0.0.1:{proxy.port}", "--threads", "1")
    try:
        _, rows = records(2)
        url = f"{P}/endpoints/api/predict"
        wait_serving(replica, url, rows, log)
        proxy.stall = True
        # The stranger's first call makes the replica ask the (now hanging) server.
        hung = threading.Thread(target=lambda: replica.request("POST", url, token=stranger,
                                                               body={"instances": rows}, timeout=90),
                                daemon=True)
        hung.start()
        time.sleep(1.0)
        assert hung.is_alive()  # still waiting on the server
        for _ in range(5):
            r = replica.request("POST", url, token=ADMIN_TOKEN, body={"instances": rows}, timeout=20)
            assert r.status == 200
    finally:
        proxy.close()
        stop_replica(proc, log)


def test_a_model_file_larger_than_a_request_body_is_imported_through_an_artifact(ml, tmpdir_path):
    # 1,000 trees of depth 8: an XGBoost JSON file past the 8 MiB JSON body limit. The CLI
    # streams it up as a project artifact and imports from there.
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=3000) > 0).astype(int)
    names = [f"f{i}" for i in range(6)]
    dm = xgboost.DMatrix(x, label=y, feature_names=names)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 8, "eta": 0.05,
                             "min_child_weight": 0, "lambda": 0.01}, dm, 1000)
    path = os.path.join(tmpdir_path, "big.json")
    booster.save_model(path)
    assert os.path.getsize(path) > 8 << 20, os.path.getsize(path)
    # Refused (the signature has one feature too few): no version, and the uploaded file is
    # removed again.
    bad_sig = os.path.join(tmpdir_path, "bad-sig.json")
    with open(bad_sig, "w") as f:
        json.dump({"features": [{"name": n, "type": "numeric"} for n in names[:5]]}, f)
    r = ml.cli("models", "import", path, "--name", "big", "--signature", bad_sig, env={"KADE_PROJECT": "ml"})
    assert r.returncode != 0 and "takes 6 features" in r.stderr, r.stderr
    assert ml.admin("GET", f"{P}/artifacts?prefix=imports/big/").json["artifacts"] == []
    assert ml.admin("GET", f"{P}/models/big").status == 404
    sig_path = os.path.join(tmpdir_path, "sig.json")
    with open(sig_path, "w") as f:
        json.dump({"features": [{"name": n, "type": "numeric"} for n in names]}, f)
    r = ml.cli("--json", "models", "import", path, "--name", "big", "--signature", sig_path,
               env={"KADE_PROJECT": "ml"})
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)["version"]
    arts = ml.admin("GET", f"{P}/artifacts?prefix=imports/big/").json
    assert any(a["name"].startswith("imports/big/") for a in arts["artifacts"]), arts
    assert ml.admin("POST", f"{P}/endpoints", {"name": "big", "model": "big",
                                               "targets": [{"version": v}]}).status == 201
    rows = [dict(zip(names, map(float, row))) for row in x[:50]]
    out = ml.admin("POST", f"{P}/endpoints/big/predict", {"instances": rows}).json
    np.testing.assert_allclose([p[1] for p in out["probabilities"]], booster.predict(xgboost.DMatrix(x[:50], feature_names=names)),
                               rtol=1e-6, atol=1e-7)
    # The artifact form, refused when it names nothing or is given with another form.
    sig = {"features": [{"name": n, "type": "numeric"} for n in names]}
    r = ml.admin("POST", f"{P}/models/big/import", {"model_artifact": "imports/none.json", "signature": sig})
    assert r.status == 404, r.raw
    r = ml.admin("POST", f"{P}/models/big/import", {"model_artifact": "x", "model": "{}", "signature": sig})
    assert r.status == 400 and "model_artifact" in r.json["error"]["message"], r.raw
    assert len(ml.admin("GET", f"{P}/models/big").json["versions"]) == 1


def blob_path(server, sha):
    return os.path.join(server.data_dir, "artifacts", "blobs", sha[:2], sha[2:])


def test_a_version_that_cannot_load_never_takes_the_endpoint_down(ml):
    v1 = register(ml, train(ml, max_depth=2))
    v2 = register(ml, train(ml, max_depth=4))
    ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v1})
    ml.admin("PUT", f"{P}/models/churn/aliases/challenger", {"version": v1})
    assert ml.admin("POST", f"{P}/endpoints", {"name": "live", "model": "churn", "targets": [
        {"alias": "champion", "weight": 90}, {"alias": "challenger", "weight": 10}]}).status == 201
    # Corrupt v2's model file on disk.
    sha = ml.admin("GET", f"{P}/models/churn/versions/{v2}").json["model_sha256"]
    path = blob_path(ml, sha)
    with open(path, "rb") as f:
        good = f.read()
    os.chmod(path, 0o600)
    with open(path, "wb") as f:
        f.write(good[:-10] + b"0000000000")
    _, rows = records(3)
    stream = Stream(ml, "live", rows, 3)
    seen, failures = stream.seen, stream.failures
    try:
        time.sleep(0.3)
        # The move is recorded; the endpoint cannot load v2 and keeps serving v1.
        r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2})
        assert r.status == 200, r.raw
        time.sleep(2.5)  # a sync retries (and fails again) meanwhile
        e = ml.admin("GET", f"{P}/endpoints/live").json
        assert e["ready"] and [s["version"] for s in e["serving"]] == [v1, v1], e
        failed = [v for v in e["versions"] if v["version"] == v2][0]
        assert failed["state"] == "failed" and "hash" in failed["error"] and failed["next_retry_at"], e
        assert e["pending"]["version"] == v2
        metrics = ml.admin("GET", "/metrics").raw.decode()
        assert f'kade_servable_state{{endpoint="ml/live",version="{v2}",state="failed"}} 1' in metrics
        assert ml.request("GET", f"{P}/v2/models/live/ready", token=ADMIN_TOKEN).status == 200
        # Repaired on disk and the alias moved again: the endpoint serves v2.
        with open(path, "wb") as f:
            f.write(good)
        n = len(seen)
        r = ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v2})
        assert r.status == 200, r.raw
        time.sleep(0.5)
    finally:
        stream.stop()
    assert failures == []
    assert set(seen[:n]) == {v1} and v2 in seen[n:], (len(seen), n)
    e = ml.admin("GET", f"{P}/endpoints/live").json
    assert "pending" not in e and {s["version"] for s in e["serving"]} == {v1, v2}
    # The failure was logged a few times, not once per request.
    assert ml.read_log().count("cannot load version") <= 3


def test_model_fit_from_fed_back_ground_truth_equals_scikit_learn(ml):
    import pytest
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    v = register(ml, train(ml))
    assert ml.admin("POST", f"{P}/endpoints", {"name": "fit", "model": "churn", "targets": [{"version": v}]}).status == 201
    df, rows = records(120)
    truth = df["churned"].tolist()
    probs, labels = [], []
    for i, row in enumerate(rows):
        r = ml.admin("POST", f"{P}/endpoints/fit/predict", {"instances": [row]}, headers={"X-Request-Id": f"fit-{i:03d}"})
        assert r.status == 200, r.raw
        out = r.json
        if i % 3 != 2:  # ground truth comes back for two thirds of the requests
            positive = out["classes"][1]
            probs.append(out["probabilities"][0][1])
            labels.append(int(str(truth[i]) == positive))
    items = [{"request_id": f"fit-{i:03d}", "label": str(truth[i])} for i in range(len(rows)) if i % 3 != 2]
    items.append({"request_id": "fit-000", "label": str(truth[0])})  # a repeat replaces, not adds
    assert ml.admin("POST", f"{P}/endpoints/fit/feedback", {"items": items}).status == 200
    perf = ml.admin("GET", f"{P}/endpoints/fit/monitoring/performance?window=1h")
    assert perf.status == 200, perf.raw
    (ver,) = perf.json["versions"]
    assert ver["version"] == v and ver["task"] == "binary"
    assert ver["predictions"] == 120 and ver["labelled"] == len(labels) == 80
    assert ver["label_coverage"] == pytest.approx(80 / 120)
    m = ver["metrics"]
    assert m["auc"] == pytest.approx(roc_auc_score(labels, probs), abs=1e-6)
    assert m["logloss"] == pytest.approx(log_loss(labels, probs), abs=1e-5)
    pred = [int(p >= 0.5) for p in probs]
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, pred), abs=1e-9)
    assert m["f1"] == pytest.approx(f1_score(labels, pred), abs=1e-9)
    assert "auc" in ver["holdout"]  # the training holdout's figures, side by side
    d = ver["label_delay_s"]  # ground truth came back right after the answers
    assert d is not None and 0 <= d["p50"] <= d["p90"] < 60, d
    # CBPE from the scores alone (calibrated on the holdout), beside the realised figures:
    # on 120 rows of the training data itself, within 0.1 of them.
    def estimated():
        e = ml.admin("GET", f"{P}/endpoints/fit/monitoring/performance?window=1h").json["versions"][0]["estimated"]
        return e if e and e["rows"] == 120 else None
    est = None
    for _ in range(50):
        est = estimated()
        if est:
            break
        time.sleep(0.2)
    assert est and est["method"] == "cbpe", est
    assert abs(est["auc"] - m["auc"]) < 0.1 and abs(est["accuracy"] - m["accuracy"]) < 0.1, (est, m)
    for bad in ("0h", "soon", "100d", "30"):
        r = ml.admin("GET", f"{P}/endpoints/fit/monitoring/performance?window={bad}")
        assert r.status == 400 and "window" in r.error["message"], bad


def test_explain_gives_xgboosts_shap_values_by_feature_name(ml):
    register(ml, train(ml))
    assert ml.admin("POST", f"{P}/endpoints", {"name": "why", "model": "churn",
                                               "targets": [{"version": 1}]}).status == 201
    df, rows = records(40)
    r = ml.admin("POST", f"{P}/endpoints/why/explain", {"instances": rows})
    assert r.status == 200, r.raw
    out = r.json
    assert out["version"] == 1 and out["method"] == "tree_shap" and len(out["explanations"]) == 40
    # XGBoost's own pred_contribs on the version's model and the manifest's encoding.
    manifest = ml.admin("GET", f"{P}/models/churn/versions/1").json["manifest"]
    booster = xgboost.Booster()
    booster.load_model(bytearray(ml.admin("GET", f"{P}/artifacts/{manifest['model_path']}").raw))
    sig = manifest["signature"]
    names = [f["name"] for f in sig["features"]]
    dm = xgboost.DMatrix(encode(df, sig), feature_names=names,
                         feature_types=["c" if f["type"] == "categorical" else "q" for f in sig["features"]],
                         enable_categorical=True, missing=np.nan)
    theirs = booster.predict(dm, pred_contribs=True)
    margins = booster.predict(dm, output_margin=True)
    probs = booster.predict(dm)
    for i, e in enumerate(out["explanations"]):
        np.testing.assert_allclose([e["contributions"][n] for n in names], theirs[i][:-1], rtol=1e-5, atol=1e-6)
        assert e["base_value"] == pytest.approx(float(theirs[i][-1]), rel=1e-5, abs=1e-6)
        assert e["margin"] == pytest.approx(float(margins[i]), rel=1e-5, abs=1e-5)
        assert e["prediction"] == ("true" if probs[i] >= 0.5 else "false")
    # Global: mean |SHAP| over the training data (600 rows, all sampled) equals xgboost's.
    full, _ = records()
    dm_all = xgboost.DMatrix(encode(full, sig), feature_names=names,
                             feature_types=["c" if f["type"] == "categorical" else "q" for f in sig["features"]],
                             enable_categorical=True, missing=np.nan)
    all_contribs = booster.predict(dm_all, pred_contribs=True)
    imp = ml.admin("GET", f"{P}/models/churn/versions/1/importance")
    assert imp.status == 200, imp.raw
    assert imp.json["rows"] == imp.json["dataset_rows"] == len(full) and imp.json["dataset"] == "churn@1"
    (grp,) = imp.json["groups"]
    got = {f["name"]: f for f in grp["features"]}
    for j, n in enumerate(names):
        assert got[n]["mean_abs_shap"] == pytest.approx(float(np.abs(all_contribs[:, j]).mean()), rel=1e-5)
        assert got[n]["mean_shap"] == pytest.approx(float(all_contribs[:, j].mean()), rel=1e-4, abs=1e-6)
    assert [f["mean_abs_shap"] for f in grp["features"]] == sorted((f["mean_abs_shap"] for f in grp["features"]), reverse=True)
    for bad, needle in [("rows=0", "rows"), ("rows=x", "rows"), ("dataset=nope", "nope")]:
        r = ml.admin("GET", f"{P}/models/churn/versions/1/importance?{bad}")
        assert r.status in (400, 404) and needle in r.error["message"], (bad, r.raw)
    # Explaining is not traffic: nothing is logged.
    assert ml.admin("GET", f"{P}/endpoints/why/predictions").json["predictions"] == []
    # Bad input is refused naming the field, as for predict; too many rows too.
    r = ml.admin("POST", f"{P}/endpoints/why/explain", {"instances": [{**rows[0], "tenure_months": "many"}]})
    assert r.status == 400 and "tenure_months" in r.error["message"], r.raw
    r = ml.admin("POST", f"{P}/endpoints/why/explain", {"instances": [rows[0]] * 1001})
    assert r.status == 400 and "1000 rows" in r.error["message"], r.raw
    assert ml.admin("POST", f"{P}/endpoints/nope/explain", {"instances": rows[:1]}).status == 404
    assert ml.request("POST", f"{P}/endpoints/why/explain", body={"instances": rows[:1]}).status == 401
