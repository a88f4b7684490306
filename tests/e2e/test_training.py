"""Training jobs end to end: a job trains XGBoost on a dataset version and records a run;
its model, reloaded by Python's xgboost, gives the same predictions, and scikit-learn gives
the same metrics. Also: bit-identical models for the same spec, guards before any work,
cancellation, and a job taken up again after its server was killed."""
import csv
import io
import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score, roc_auc_score

from conftest import ADMIN_TOKEN, ROOT

P = "/api/v1/projects/ml"
CHURN = os.path.join(ROOT, "tests", "data", "churn.csv")


@pytest.fixture
def ml(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
    with open(CHURN, "rb") as f:
        r = server.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=f.read(),
                           headers={"Content-Type": "text/csv"})
    assert r.status == 201, r.raw
    return server


def submit(server, spec):
    return server.admin("POST", f"{P}/jobs/train", spec)


def wait(server, job_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = server.admin("GET", f"{P}/jobs/{job_id}").json
        if j["status"] not in ("queued", "running"):
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end")


def artifact(server, run_id, name):
    r = server.admin("GET", f"{P}/artifacts/runs/{run_id}/artifacts/{name}")
    assert r.status == 200, (name, r.raw)
    return r.raw


def encode(df, signature):
    """The model's input matrix, encoded as its manifest says (categories by code)."""
    cols = []
    for f in signature["features"]:
        s = df[f["name"]]
        if f["type"] == "categorical":
            codes = {c: i for i, c in enumerate(f["categories"])}
            cols.append(s.map(lambda v: codes.get(v, np.nan) if isinstance(v, str) else np.nan).astype(float))
        else:
            cols.append(pd.to_numeric(s, errors="coerce").astype(float))
    return np.column_stack(cols).astype(np.float32)


def test_training_job_records_a_run_that_python_xgboost_and_sklearn_confirm(ml):
    spec = {"dataset": "churn", "target": "churned", "params": {"max_depth": 3, "eta": 0.2},
            "num_rounds": 40, "seed": 11}
    r = submit(ml, spec)
    assert r.status == 201, r.raw
    job = wait(ml, r.json["id"])
    assert job["status"] == "succeeded", job
    run_id = job["run_id"]
    run = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/runs/get?run_id={run_id}").json["run"]
    assert run["info"]["status"] == "FINISHED"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert params["max_depth"] == "3" and params["target"] == "churned" and params["task"] == "binary"
    assert tags["kade.job"] == job["id"] and tags["xgboost.version"] == xgboost.__version__
    assert run["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "churn"
    hist = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/metrics/get-history?run_id={run_id}"
                           "&metric_key=valid/logloss").json["metrics"]
    assert len(hist) >= 10 and [h["step"] for h in hist] == sorted(h["step"] for h in hist)

    manifest = json.loads(artifact(ml, run_id, "model/kade_model.json"))
    model = artifact(ml, run_id, "model/model.json")
    preds = list(csv.DictReader(io.StringIO(artifact(ml, run_id, "eval/predictions.csv").decode())))
    assert len(preds) == 120  # 20% of 600 rows, stratified
    assert manifest["signature"]["classes"] == ["false", "true"]
    assert manifest["lineage"]["run_id"] == run_id
    evaluation = json.loads(artifact(ml, run_id, "eval/evaluation.json"))
    assert {f["feature"] for f in evaluation["importance"]} <= {f["name"] for f in manifest["signature"]["features"]}
    assert evaluation["confusion_matrix"][0][0] + evaluation["confusion_matrix"][1][1] == \
        round(metrics["accuracy"] * 120)

    # Python's xgboost, loading the same JSON model, predicts the same on the same rows.
    df = pd.read_csv(CHURN, keep_default_na=False, na_values=["", "NA"], dtype=str)
    rows = [int(p["line"]) - 2 for p in preds]  # line 1 is the header
    x = encode(df.iloc[rows], manifest["signature"])
    types = ["c" if f["type"] == "categorical" else "q" for f in manifest["signature"]["features"]]
    names = [f["name"] for f in manifest["signature"]["features"]]
    booster = xgboost.Booster()
    booster.load_model(bytearray(model))
    dm = xgboost.DMatrix(x, feature_names=names, feature_types=types, enable_categorical=True,
                         missing=np.nan)
    ours = np.array([float(p["prediction"]) for p in preds])
    theirs = booster.predict(dm)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)

    # scikit-learn computes the same metrics from the labels and predictions.
    y = np.array([float(p["label"]) for p in preds])
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, ours), abs=1e-9)
    assert metrics["logloss"] == pytest.approx(log_loss(y, ours), rel=1e-6)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, ours >= 0.5), abs=1e-12)

    # The same spec on the same version and seed: a bit-identical model (same artifact hash).
    again = wait(ml, submit(ml, spec).json["id"])
    assert again["status"] == "succeeded"
    assert again["result"]["model_sha256"] == job["result"]["model_sha256"]


def test_regression_job_matches_sklearn(ml):
    r = submit(ml, {"dataset": "churn", "target": "monthly_charges", "exclude": ["churned"],
                    "num_rounds": 30, "params": {"max_depth": 3}})
    assert r.status == 201, r.raw
    job = wait(ml, r.json["id"])
    assert job["status"] == "succeeded", job
    run_id = job["run_id"]
    preds = list(csv.DictReader(io.StringIO(artifact(ml, run_id, "eval/predictions.csv").decode())))
    y = np.array([float(p["label"]) for p in preds])
    yhat = np.array([float(p["prediction"]) for p in preds])
    m = job["result"]["metrics"]
    assert m["rmse"] == pytest.approx(mean_squared_error(y, yhat) ** 0.5, rel=1e-5)
    assert m["r2"] == pytest.approx(r2_score(y, yhat), abs=1e-5)


@pytest.mark.parametrize("spec,expect", [
    ({"dataset": "churn", "target": "nope"}, "target column 'nope' is not in the dataset"),
    ({"dataset": "nope", "target": "churned"}, "nope"),
    ({"dataset": "churn", "target": "churned", "include": ["ghost"]}, "include: column 'ghost'"),
    ({"dataset": "churn", "target": "churned", "params": {"max_depth": "deep"}}, "max_depth"),
    ({"dataset": "churn", "target": "churned", "params": {"depth": 3}}, "unknown parameter 'depth'"),
    ({"dataset": "churn", "target": "churned", "colour": 1}, "unknown field 'colour'"),
    ({"dataset": "churn", "target": "churned", "num_rounds": "many"}, "'num_rounds' must be an integer"),
    ({"dataset": "churn", "target": "plan", "task": "regression"}, "regression needs a numeric target"),
    ({"dataset": "churn", "target": "region"}, "missing values"),
    ({"dataset": "churn", "target": "churned", "algorithm": "svm"}, "algorithm 'svm' is not supported"),
])
def test_bad_specs_are_refused_before_any_work(ml, spec, expect):
    before = ml.admin("GET", f"{P}/jobs").json["jobs"]
    r = submit(ml, spec)
    assert 400 <= r.status < 500 and expect in r.json["error"]["message"], r.raw
    assert ml.admin("GET", f"{P}/jobs").json["jobs"] == before


def test_constant_target_is_refused(ml):
    data = b"x,y\n1,a\n2,a\n3,a\n"
    assert ml.request("POST", f"{P}/datasets/flat/versions", token=ADMIN_TOKEN, raw=data).status == 201
    r = submit(ml, {"dataset": "flat", "target": "y"})
    assert r.status == 400 and "single value" in r.json["error"]["message"]


def test_cancel_a_running_job(ml):
    r = submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 10000,
                    "early_stopping_rounds": 0, "params": {"max_depth": 8, "eta": 0.01}})
    jid = r.json["id"]
    deadline = time.time() + 30
    while ml.admin("GET", f"{P}/jobs/{jid}").json["status"] == "queued" and time.time() < deadline:
        time.sleep(0.05)
    c = ml.admin("POST", f"{P}/jobs/{jid}/cancel")
    assert c.status == 200, c.raw
    job = wait(ml, jid)
    assert job["status"] == "cancelled", job["error"]
    logs = ml.admin("GET", f"{P}/jobs/{jid}/logs").json
    assert logs["ended"] and any("cancel" in l["line"] for l in logs["lines"])
    assert ml.admin("POST", f"{P}/jobs/{jid}/cancel").status == 409  # already over
    audit = ml.admin("GET", "/api/v1/audit?action=job.cancel").json["entries"]
    assert any(jid in e["target"] for e in audit)


def test_a_job_whose_server_was_killed_is_taken_up_again(make_server):
    s = make_server(extra_env={"KADE_JOB_LEASE": "3"}).start()
    assert s.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
    with open(CHURN, "rb") as f:
        assert s.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=f.read()).status == 201
    jid = submit(s, {"dataset": "churn", "target": "churned", "num_rounds": 4000,
                     "early_stopping_rounds": 0, "params": {"max_depth": 8, "eta": 0.01}}).json["id"]
    # Killed once the first attempt is training (its run exists).
    deadline = time.time() + 60
    while time.time() < deadline and not any(
            l["line"].startswith("round") for l in s.admin("GET", f"{P}/jobs/{jid}/logs").json["lines"]):
        time.sleep(0.05)
    s.stop(signal.SIGKILL)
    s2 = make_server().start()  # same data directory
    s2.extra_env = {}
    job = wait(s2, jid, timeout=180)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    # It finished once: one finished run for the job; the interrupted attempt's run is FAILED.
    exp_id = s2.admin("GET", "/projects/ml/api/2.0/mlflow/experiments/get-by-name"
                             "?experiment_name=training").json["experiment"]["experiment_id"]
    runs = s2.admin("POST", "/projects/ml/api/2.0/mlflow/runs/search", {
        "experiment_ids": [exp_id], "filter": f"tags.kade.job = '{jid}'"}).json["runs"]
    statuses = sorted(r["info"]["status"] for r in runs)
    assert statuses == ["FAILED", "FINISHED"], statuses
    assert any("interrupted attempt" in l["line"] for l in s2.admin("GET", f"{P}/jobs/{jid}/logs").json["lines"])


def test_grid_search_runs_child_trials_and_records_the_best(ml):
    r = submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 30,
                    "search": {"strategy": "grid", "space": "max_depth=2,4;eta=0.1,0.3", "parallel": 2}})
    assert r.status == 201, r.raw
    job = wait(ml, r.json["id"])
    assert job["status"] == "succeeded", job["error"]
    res = job["result"]
    assert res["trials"] == 4 and res["metric"] == "auc"
    parent = res["run_id"]
    found = ml.admin("POST", "/projects/ml/api/2.0/mlflow/runs/search", {
        "experiment_ids": [ml.admin("GET", "/projects/ml/api/2.0/mlflow/experiments/get-by-name"
                                           "?experiment_name=training").json["experiment"]["experiment_id"]],
        "filter": f"tags.mlflow.parentRunId = '{parent}'"}).json["runs"]
    assert len(found) == 4
    aucs = {c["info"]["run_id"]: {m["key"]: m["value"] for m in c["data"]["metrics"]}["auc"] for c in found}
    combos = {tuple(sorted((p["key"], p["value"]) for p in c["data"]["params"] if p["key"] in ("max_depth", "eta")))
              for c in found}
    assert len(combos) == 4
    best = max(aucs, key=aucs.get)
    assert res["best_run_id"] == best and res["best_value"] == pytest.approx(aucs[best])
    prun = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/runs/get?run_id={parent}").json["run"]
    ptags = {t["key"]: t["value"] for t in prun["data"]["tags"]}
    pmetrics = {m["key"]: m["value"] for m in prun["data"]["metrics"]}
    assert ptags["kade.best_run"] == best and pmetrics["best/auc"] == pytest.approx(aucs[best])
    table = json.loads(artifact(ml, parent, "search/results.json"))
    assert len(table["trials"]) == 4 and table["best_run_id"] == best


def test_random_search_and_bad_search_specs(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 20, "search": {
        "strategy": "random", "space": {"max_depth": {"min": 2, "max": 6}, "eta": {"min": 0.01, "max": 0.3, "log": True}},
        "trials": 3, "metric": "logloss"}}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["trials"] == 3 and job["result"]["metric"] == "logloss"
    for search, expect in [({"strategy": "grid", "space": "eta=0.01..0.3"}, "a grid needs lists"),
                           ({"strategy": "annealing", "space": "eta=0.1"}, "grid, random or halving"),
                           ({"space": "depth=1,2"}, "unknown parameter 'depth'"),
                           ({"space": "max_depth=5..2", "strategy": "random"}, "MIN < MAX"),
                           ({"space": "eta=0.1", "trials": 0}, "'trials' must be")]:
        r = submit(ml, {"dataset": "churn", "target": "churned", "search": search})
        assert r.status == 400 and expect in r.json["error"]["message"], (search, r.raw)


def test_reproduce_a_run_and_a_search_trial(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 25, "seed": 3}).json["id"])
    assert job["status"] == "succeeded"
    # With the CLI: kade runs reproduce RUN --wait gives a new job with the same model.
    out = ml.cli("runs", "-p", "ml", "reproduce", job["run_id"], "--wait")
    assert out.returncode == 0, out.stderr
    again = ml.admin("GET", f"{P}/jobs").json["jobs"][0]
    assert again["id"] != job["id"] and again["status"] == "succeeded"
    assert again["result"]["model_sha256"] == job["result"]["model_sha256"]
    # A search trial reproduces as one training with that trial's parameters.
    search = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 15,
                                  "search": {"space": "max_depth=2,3"}}).json["id"])
    best = search["result"]["best_run_id"]
    r = ml.admin("POST", f"{P}/jobs/reproduce", {"run_id": best})
    assert r.status == 201, r.raw
    rep = wait(ml, r.json["id"])
    assert rep["spec"]["search"] is None and rep["spec"]["params"]["max_depth"] == search["result"]["best_params"]["max_depth"]
    assert rep["result"]["model_sha256"] == search["result"]["model_sha256"]
    assert ml.admin("POST", f"{P}/jobs/reproduce", {"run_id": "nope"}).status == 404


def test_linear_model_standardises_one_hot_encodes_and_matches_python(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "algorithm": "linear",
                               "num_rounds": 50, "early_stopping_rounds": 0,
                               "params": {"lambda": 1}}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    run_id = job["run_id"]
    manifest = json.loads(artifact(ml, run_id, "model/kade_model.json"))
    pre = manifest["preprocessing"]
    assert "plan" in pre["one_hot"] and "tenure_months" in pre["standardize"]
    preds = list(csv.DictReader(io.StringIO(artifact(ml, run_id, "eval/predictions.csv").decode())))
    df = pd.read_csv(CHURN, keep_default_na=False, na_values=["", "NA"], dtype=str)
    rows = df.iloc[[int(p["line"]) - 2 for p in preds]]
    # The model's inputs, rebuilt from the manifest alone.
    cols = []
    for f in manifest["signature"]["features"]:
        if f["type"] == "categorical":
            for c in pre["one_hot"][f["name"]]:
                cols.append((rows[f["name"]] == c).astype(float).to_numpy())
        else:
            st = pre["standardize"][f["name"]]
            v = pd.to_numeric(rows[f["name"]], errors="coerce").astype(float)
            cols.append(((v - st["mean"]) / st["std"]).fillna(0.0).to_numpy())
    x = np.column_stack(cols).astype(np.float32)
    booster = xgboost.Booster()
    booster.load_model(bytearray(artifact(ml, run_id, "model/model.json")))
    theirs = booster.predict(xgboost.DMatrix(x, feature_names=pre["inputs"]))
    ours = np.array([float(p["prediction"]) for p in preds])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    y = np.array([float(p["label"]) for p in preds])
    assert job["result"]["metrics"]["auc"] == pytest.approx(roc_auc_score(y, ours), abs=1e-9)
    assert job["result"]["metrics"]["auc"] > 0.6


def test_multiclass_job_matches_python_xgboost_and_sklearn(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "plan", "num_rounds": 30,
                               "params": {"max_depth": 3}}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    run_id = job["run_id"]
    manifest = json.loads(artifact(ml, run_id, "model/kade_model.json"))
    classes = manifest["signature"]["classes"]
    assert manifest["signature"]["task"] == "multiclass" and sorted(classes) == classes and len(classes) >= 3
    preds = list(csv.DictReader(io.StringIO(artifact(ml, run_id, "eval/predictions.csv").decode())))
    prob = np.array([[float(v) for v in p["prediction"].split(";")] for p in preds])
    y = np.array([int(float(p["label"])) for p in preds])
    df = pd.read_csv(CHURN, keep_default_na=False, na_values=["", "NA"], dtype=str)
    x = encode(df.iloc[[int(p["line"]) - 2 for p in preds]], manifest["signature"])
    types = ["c" if f["type"] == "categorical" else "q" for f in manifest["signature"]["features"]]
    booster = xgboost.Booster()
    booster.load_model(bytearray(artifact(ml, run_id, "model/model.json")))
    theirs = booster.predict(xgboost.DMatrix(x, feature_names=[f["name"] for f in manifest["signature"]["features"]],
                                             feature_types=types, enable_categorical=True))
    np.testing.assert_allclose(prob, theirs, rtol=1e-6, atol=1e-7)
    m = job["result"]["metrics"]
    assert m["accuracy"] == pytest.approx(accuracy_score(y, prob.argmax(axis=1)), abs=1e-12)
    assert m["logloss"] == pytest.approx(log_loss(y, prob, labels=list(range(len(classes)))), rel=1e-5)


def test_k_fold_cross_validation_on_the_training_rows(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 20,
                               "folds": 3}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    run_id = job["run_id"]
    run = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/runs/get?run_id={run_id}").json["run"]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    cv = json.loads(artifact(ml, run_id, "eval/evaluation.json"))["cross_validation"]
    assert len(cv["auc"]["folds"]) == 3
    assert metrics["cv/auc"] == pytest.approx(np.mean(cv["auc"]["folds"]))
    assert metrics["cv/auc_std"] == pytest.approx(np.std(cv["auc"]["folds"], ddof=1))
    assert 0.6 < metrics["cv/auc"] < 1
    logs = ml.admin("GET", f"{P}/jobs/{job['id']}/logs").json["lines"]
    assert any("3-fold cross-validation" in l["line"] for l in logs)
    r = submit(ml, {"dataset": "churn", "target": "churned", "folds": 1})
    assert r.status == 400 and "'folds'" in r.json["error"]["message"]


def test_separate_validation_and_test_versions(ml):
    lines = open(CHURN).read().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    for part in (rows[:250], rows[250:]):  # versions 2 and 3 of the dataset
        r = ml.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN,
                       raw=(header + "".join(part)).encode())
        assert r.status == 201, r.raw
    job = wait(ml, submit(ml, {"dataset": "churn", "version": "1", "target": "churned", "num_rounds": 30,
                               "validation_version": "2", "test_version": "3"}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    run_id = job["run_id"]
    evaluation = json.loads(artifact(ml, run_id, "eval/evaluation.json"))
    assert evaluation["evaluated_on"] == "test" and evaluation["train_rows"] == 600
    preds = list(csv.DictReader(io.StringIO(artifact(ml, run_id, "eval/predictions.csv").decode())))
    assert len(preds) == len(rows) - 250
    manifest = json.loads(artifact(ml, run_id, "model/kade_model.json"))
    test_df = pd.read_csv(io.StringIO(header + "".join(rows[250:])), keep_default_na=False,
                          na_values=["", "NA"], dtype=str)
    x = encode(test_df.iloc[[int(p["line"]) - 2 for p in preds]], manifest["signature"])
    types = ["c" if f["type"] == "categorical" else "q" for f in manifest["signature"]["features"]]
    booster = xgboost.Booster()
    booster.load_model(bytearray(artifact(ml, run_id, "model/model.json")))
    theirs = booster.predict(xgboost.DMatrix(x, feature_names=[f["name"] for f in manifest["signature"]["features"]],
                                             feature_types=types, enable_categorical=True))
    ours = np.array([float(p["prediction"]) for p in preds])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    y = np.array([float(p["label"]) for p in preds])
    assert job["result"]["metrics"]["auc"] == pytest.approx(roc_auc_score(y, ours), abs=1e-9)
    run = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/runs/get?run_id={run_id}").json["run"]
    roles = sorted(i["tags"][0]["value"] for i in run["inputs"]["dataset_inputs"])
    assert roles == ["test", "train", "validation"]
    r = submit(ml, {"dataset": "churn", "target": "churned", "validation_version": "9"})
    assert r.status == 404
    r = submit(ml, {"dataset": "churn", "target": "churned", "test_version": "2"})
    assert r.status == 400 and "needs a 'validation_version'" in r.json["error"]["message"]


def test_a_stopping_server_gives_its_running_job_back(make_server):
    s = make_server().start()
    assert s.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
    with open(CHURN, "rb") as f:
        assert s.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=f.read()).status == 201
    jid = submit(s, {"dataset": "churn", "target": "churned", "num_rounds": 10000,
                     "early_stopping_rounds": 0, "params": {"max_depth": 10, "eta": 0.01}}).json["id"]
    deadline = time.time() + 60
    while time.time() < deadline and not any(
            l["line"].startswith("round") for l in s.admin("GET", f"{P}/jobs/{jid}/logs").json["lines"]):
        time.sleep(0.05)
    t0 = time.time()
    assert s.stop(signal.SIGTERM) == 0
    assert time.time() - t0 < 15  # it does not wait for the training to end
    s2 = make_server().start()
    deadline = time.time() + 60
    while time.time() < deadline:
        j = s2.admin("GET", f"{P}/jobs/{jid}").json
        if j["status"] == "running" and j["attempts"] == 1 and any(
                "goes back to the queue" in l["line"] for l in s2.admin("GET", f"{P}/jobs/{jid}/logs").json["lines"]):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(j)
    assert s2.admin("POST", f"{P}/jobs/{jid}/cancel").status == 200
    assert wait(s2, jid)["status"] == "cancelled"


def test_a_version_that_failed_a_blocking_check_trains_only_when_forced(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "ml"}).status == 201
    r = server.admin("POST", f"{P}/datasets", {"name": "dirty", "target": "churned",
                                                "checks": [{"check": "not_null", "column": "region"}]})
    assert r.status == 201, r.raw
    with open(CHURN, "rb") as f:
        v = server.request("POST", f"{P}/datasets/dirty/versions", token=ADMIN_TOKEN, raw=f.read()).json
    assert v["quality_status"] == "failed"
    r = submit(server, {"dataset": "dirty", "num_rounds": 5})
    assert r.status == 409 and "failed a blocking quality check" in r.json["error"]["message"], r.raw
    assert server.admin("GET", f"{P}/jobs").json["jobs"] == []
    r = submit(server, {"dataset": "dirty", "num_rounds": 5, "force": True})
    assert r.status == 201, r.raw
    assert wait(server, r.json["id"])["status"] == "succeeded"
    forced = server.admin("GET", "/api/v1/audit?action=dataset.version.use_forced").json["entries"]
    assert len(forced) == 1 and forced[0]["detail"]["forced_past_failed_quality"] is True


def test_successive_halving_keeps_the_best_third_each_rung(ml):
    job = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 27, "early_stopping_rounds": 0,
                               "search": {"strategy": "halving", "trials": 9,
                                          "space": {"max_depth": {"min": 2, "max": 8}, "eta": {"min": 0.02, "max": 0.4}}}}).json["id"])
    assert job["status"] == "succeeded", job["error"]
    table = json.loads(artifact(ml, job["run_id"], "search/results.json"))
    rungs = sorted(t["rung"] for t in table["trials"])
    assert rungs == [0] * 6 + [1] * 2 + [2]  # 9 -> 3 -> 1
    finalist = next(t for t in table["trials"] if t["rung"] == 2)
    assert table["best_trial"] == finalist["trial"] and table["best_run_id"] == finalist["run_id"]
    # The finalist trained with the whole budget (27 rounds), the first rung with 3.
    run = ml.admin("GET", f"/projects/ml/api/2.0/mlflow/runs/get?run_id={finalist['run_id']}").json["run"]
    assert {p["key"]: p["value"] for p in run["data"]["params"]}["num_rounds"] == "27"
    logs = [l["line"] for l in ml.admin("GET", f"{P}/jobs/{job['id']}/logs").json["lines"]]
    assert sum("rung 0" in l and "3 rounds" in l for l in logs) == 9


def test_job_routes_need_a_token_a_role_and_well_formed_input(ml):
    jid = wait(ml, submit(ml, {"dataset": "churn", "target": "churned", "num_rounds": 5}).json["id"])["id"]
    viewer = ml.make_user("vera")
    assert ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vera", "role": "viewer"}).status in (200, 201)
    outsider = ml.make_user("otto")
    # No token: 401. A viewer reads but may not train or cancel (403, audited). Another
    # user without a role in the project does not see it (404).
    assert ml.request("GET", f"{P}/jobs").status == 401
    assert ml.request("POST", f"{P}/jobs/train", body={"dataset": "churn"}).status == 401
    assert ml.request("GET", f"{P}/jobs/{jid}", token=viewer).status == 200
    assert ml.request("GET", f"{P}/jobs/{jid}/logs", token=viewer).status == 200
    r = ml.request("POST", f"{P}/jobs/train", token=viewer, body={"dataset": "churn", "target": "churned"})
    assert r.status == 403, r.raw
    assert ml.request("POST", f"{P}/jobs/{jid}/cancel", token=viewer).status == 403
    assert ml.request("POST", f"{P}/jobs/reproduce", token=viewer, body={"run_id": "x"}).status == 403
    assert ml.request("GET", f"{P}/jobs", token=outsider).status == 404
    refused = ml.admin("GET", "/api/v1/audit?action=job.submit").json["entries"]
    assert any(e["actor"] == "vera" and e["outcome"] == "PERMISSION_DENIED" for e in refused)
    before = ml.admin("GET", f"{P}/jobs").json["jobs"]
    # Malformed, wrong-typed, oversized and hostile requests: 4xx naming the problem, nothing queued.
    r = ml.admin("POST", f"{P}/jobs/train", raw=b'{"dataset": "churn",', headers={"Content-Type": "application/json"})
    assert r.status == 400 and "line 1" in r.json["error"]["message"], r.raw
    r = ml.admin("POST", f"{P}/jobs/train", raw=b'[1, 2]', headers={"Content-Type": "application/json"})
    assert r.status == 400, r.raw
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": ["churn"], "target": "churned"})
    assert r.status == 400 and "'dataset' must be a string" in r.json["error"]["message"]
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": "churn", "target": "churned", "experiment": "e" * 501})
    assert r.status == 400 and "'experiment' must be 1 to 500" in r.json["error"]["message"]
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": "churn", "target": "churned", "run_name": "r" * 501})
    assert r.status == 400 and "'run_name'" in r.json["error"]["message"]
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": "../../etc/passwd", "target": "churned"})
    assert r.status == 404
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": "churn", "target": "churned", "holdout": 0.99})
    assert r.status == 400 and "'holdout' must be between" in r.json["error"]["message"]
    r = ml.admin("POST", f"{P}/jobs/train", {"dataset": "churn", "target": "churned",
                                            "search": {"space": "max_depth=" + ",".join(str(i) for i in range(600))}})
    assert r.status == 400 and "more than 500" in r.json["error"]["message"]
    assert ml.admin("GET", f"{P}/jobs").json["jobs"] == before
    assert ml.admin("GET", f"{P}/jobs/nope").status == 404
    assert ml.admin("GET", f"{P}/jobs/{jid}/logs?after=-3").status == 400
    assert ml.admin("GET", f"{P}/jobs?limit=0").status == 400
    assert ml.admin("POST", f"{P}/jobs/reproduce", {"run": "x"}).status == 400
