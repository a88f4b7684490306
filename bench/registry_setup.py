"""Registers M models x V versions through MLflow's registry API (8 threads), each version an
MLflow-logged XGBoost model (a small booster in a run's model directory), then times the
searches (median of 5, round trip). Prints one line:
seconds_to_create models_search_ms versions_search_ms filtered_search_ms versions_returned
models_parse_ms versions_parse_ms"""
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import xgboost

base, token, models, versions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
API = base + "/projects/bench/api/2.0/mlflow"


def call(method, url, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        out = r.read()
    return json.loads(out) if out else {}


# One MLflow run holding an XGBoost model directory.
eid = call("POST", API + "/experiments/create", {"name": "registry-bench"})["experiment_id"]
run = call("POST", API + "/runs/create", {"experiment_id": eid, "start_time": 1})["run"]["info"]
rid = run["run_id"]
rng = np.random.default_rng(1)
x = rng.normal(size=(200, 4))
booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2},
                        xgboost.DMatrix(x, label=(x[:, 0] > 0).astype(int), feature_names=["a", "b", "c", "d"]), 3)
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "model.json")
    booster.save_model(path)
    model = open(path, "rb").read()
mlmodel = ("artifact_path: model\nflavors:\n  xgboost:\n    data: model.json\n    model_format: json\n"
           f"run_id: {rid}\nsignature:\n  inputs: '[{{\"type\": \"double\", \"name\": \"a\"}}, "
           "{\"type\": \"double\", \"name\": \"b\"}, {\"type\": \"double\", \"name\": \"c\"}, "
           "{\"type\": \"double\", \"name\": \"d\"}]'\n")
art = base + f"/api/2.0/mlflow-artifacts/artifacts/bench/runs/{rid}/artifacts/model"
call("PUT", art + "/model.json", raw=model)
call("PUT", art + "/MLmodel", raw=mlmodel.encode())
source = run["artifact_uri"] + "/model"


def worker(start, step):
    for m in range(start, models, step):
        name = f"model-{m:04d}"
        call("POST", API + "/registered-models/create",
             {"name": name, "tags": [{"key": "team", "value": f"t{m % 10}"}]})
        for _ in range(versions):
            call("POST", API + "/model-versions/create", {"name": name, "source": source, "run_id": rid})


t0 = time.time()
threads = [threading.Thread(target=worker, args=(t, 8)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
created = time.time() - t0


parse_ms = []


def timed(url):
    """Round trip (request sent to last byte received), median of 5; Python's json.loads of
    the answer, the client's cost, is kept apart."""
    times, raw = [], None
    for _ in range(5):
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
        t1 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            raw = r.read()
        times.append((time.perf_counter() - t1) * 1000)
    t2 = time.perf_counter()
    body = json.loads(raw)
    parse_ms.append((time.perf_counter() - t2) * 1000)
    return statistics.median(times), body


q = urllib.parse.urlencode
ms_models, page = timed(API + "/registered-models/search?" + q({"max_results": 1000}))
assert len(page["registered_models"]) == min(models, 1000), len(page["registered_models"])
ms_versions, vpage = timed(API + "/model-versions/search?" + q({"max_results": 10000}))
assert len(vpage["model_versions"]) == models * versions, len(vpage["model_versions"])
ms_filtered, fpage = timed(API + "/registered-models/search?" + q(
    {"filter": "name LIKE 'model-0%' AND tags.team = 't3'", "max_results": 1000,
     "order_by": "last_updated_timestamp DESC"}))
print(f"{created:.0f} {ms_models:.1f} {ms_versions:.1f} {ms_filtered:.1f} {len(vpage['model_versions'])} "
      f"{parse_ms[0]:.1f} {parse_ms[1]:.1f}")
