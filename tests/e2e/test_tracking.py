"""Experiment tracking through the MLflow REST API 2.0, as MLflow clients use it."""
import json
import math

import pytest

P = "/projects/track/api/2.0/mlflow"


@pytest.fixture
def trk(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "track"}).status == 201
    return server


def exp(server, name="exp1"):
    r = server.admin("POST", f"{P}/experiments/create", {"name": name})
    assert r.status == 200, r.raw
    return r.json["experiment_id"]


def run(server, eid, name="r", tags=None):
    r = server.admin("POST", f"{P}/runs/create", {"experiment_id": eid, "run_name": name,
                                                   "start_time": 1000, "tags": tags or []})
    assert r.status == 200, r.raw
    return r.json["run"]["info"]["run_id"]


def test_experiment_lifecycle_and_names(trk):
    eid = exp(trk, "churn-xgb")
    got = trk.admin("GET", f"{P}/experiments/get?experiment_id={eid}").json["experiment"]
    assert got["name"] == "churn-xgb" and got["lifecycle_stage"] == "active"
    # The plain path names experiments PROJECT/NAME.
    plain = trk.admin("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=track/churn-xgb")
    assert plain.status == 200 and plain.json["experiment"]["experiment_id"] == eid
    # A plain name on the root URI lives in the caller's default project (here admin-home).
    r = trk.admin("POST", "/api/2.0/mlflow/experiments/create", {"name": "no-project"})
    assert r.status == 200, r.raw
    assert trk.admin("GET", "/projects/admin-home/api/2.0/mlflow/experiments/get-by-name?"
                            "experiment_name=no-project").status == 200
    dup = trk.admin("POST", f"{P}/experiments/create", {"name": "churn-xgb"})
    assert dup.status == 400 and dup.json["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert trk.admin("POST", f"{P}/experiments/update", {"experiment_id": eid, "new_name": "churn2"}).status == 200
    assert trk.admin("POST", f"{P}/experiments/delete", {"experiment_id": eid}).status == 200
    # Every project has MLflow's Default experiment.
    listed = trk.admin("POST", f"{P}/experiments/search", {"view_type": "ALL"}).json["experiments"]
    assert sorted((e["name"], e["lifecycle_stage"]) for e in listed) == [("Default", "active"), ("churn2", "deleted")]
    assert [e["name"] for e in trk.admin("POST", f"{P}/experiments/search", {}).json["experiments"]] == ["Default"]
    assert trk.admin("POST", f"{P}/experiments/restore", {"experiment_id": eid}).status == 200
    found = trk.admin("POST", f"{P}/experiments/search", {"filter": "name = 'churn2'"}).json["experiments"]
    assert len(found) == 1


def test_runs_params_metrics_tags(trk):
    eid = exp(trk)
    rid = run(trk, eid, "baseline", [{"key": "team", "value": "risk"}])
    batch = {"run_id": rid,
             "metrics": [{"key": "auc", "value": 0.80 + s / 100, "timestamp": 1000 + s, "step": s} for s in range(5)],
             "params": [{"key": "max_depth", "value": "6"}, {"key": "eta", "value": "0.1"}],
             "tags": [{"key": "stage", "value": "dev"}]}
    assert trk.admin("POST", f"{P}/runs/log-batch", batch).status == 200
    assert trk.admin("POST", f"{P}/runs/log-metric", {"run_id": rid, "key": "train/loss", "value": 0.5,
                                                       "timestamp": 5, "step": 1}).status == 200
    r = trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]
    assert r["info"]["run_name"] == "baseline" and r["info"]["status"] == "RUNNING"
    metrics = {m["key"]: m for m in r["data"]["metrics"]}
    assert metrics["auc"]["value"] == pytest.approx(0.84) and metrics["auc"]["step"] == 4
    assert {p["key"]: p["value"] for p in r["data"]["params"]} == {"max_depth": "6", "eta": "0.1"}
    assert {t["key"]: t["value"] for t in r["data"]["tags"]}["team"] == "risk"
    hist = trk.admin("GET", f"{P}/metrics/get-history?run_id={rid}&metric_key=auc").json["metrics"]
    assert [m["step"] for m in hist] == [0, 1, 2, 3, 4]
    # Params are immutable: the same value again is fine, a different one is a 400.
    assert trk.admin("POST", f"{P}/runs/log-parameter", {"run_id": rid, "key": "eta", "value": "0.1"}).status == 200
    r = trk.admin("POST", f"{P}/runs/log-parameter", {"run_id": rid, "key": "eta", "value": "0.3"})
    assert r.status == 400 and r.json["error_code"] == "INVALID_PARAMETER_VALUE" and "cannot be changed" in r.json["message"]
    assert trk.admin("POST", f"{P}/runs/delete-tag", {"run_id": rid, "key": "stage"}).status == 200
    assert trk.admin("POST", f"{P}/runs/delete-tag", {"run_id": rid, "key": "stage"}).status == 404
    upd = trk.admin("POST", f"{P}/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 9999})
    assert upd.status == 200 and upd.json["run_info"]["status"] == "FINISHED" and upd.json["run_info"]["end_time"] == 9999


def test_nan_and_infinity_are_accepted_and_shown(trk):
    rid = run(trk, exp(trk))
    for v in ["NaN", "Infinity", "-Infinity"]:
        r = trk.admin("POST", f"{P}/runs/log-metric", {"run_id": rid, "key": f"m{len(v)}", "value": v, "timestamp": 1})
        assert r.status == 200, r.raw
    ms = {m["key"]: m["value"] for m in trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["data"]["metrics"]}
    assert sorted(ms.values()) == sorted(["NaN", "Infinity", "-Infinity"])


def test_search_filter_order_and_paging(trk):
    eid = exp(trk)
    for i in range(12):
        rid = run(trk, eid, f"run{i}")
        trk.admin("POST", f"{P}/runs/log-batch", {
            "run_id": rid,
            "metrics": [{"key": "auc", "value": 0.5 + i / 100, "timestamp": 1, "step": 0}],
            "params": [{"key": "max_depth", "value": str(4 + i % 3)}],
            "tags": [{"key": "team", "value": "risk" if i % 2 else "growth"}]})
        if i < 3:
            trk.admin("POST", f"{P}/runs/update", {"run_id": rid, "status": "FINISHED"})

    def search(flt, **kw):
        r = trk.admin("POST", f"{P}/runs/search", dict({"experiment_ids": [eid], "filter": flt}, **kw))
        assert r.status == 200, r.raw
        return r.json

    names = lambda j: [r["info"]["run_name"] for r in j.get("runs", [])]
    assert set(names(search("metrics.auc > 0.595"))) == {"run11", "run10"}
    assert set(names(search("metrics.auc >= 0.6 and metrics.auc < 0.61"))) == {"run10"}
    assert set(names(search("params.max_depth = '4' and tags.team = 'growth'"))) == {"run0", "run6"}
    assert set(names(search("attributes.status = 'FINISHED'"))) == {"run0", "run1", "run2"}
    assert set(names(search("tags.team LIKE 'gro%' and params.max_depth IN ('5', '6')"))) == {"run2", "run4", "run8", "run10"}
    assert set(names(search("attributes.run_name ILIKE 'RUN1%'"))) == {"run1", "run10", "run11"}
    assert set(names(search("tags.team LIKE 'GRO%'"))) == set()  # LIKE is case-sensitive
    ordered = names(search("", order_by=["metrics.auc DESC"], max_results=3))
    assert ordered == ["run11", "run10", "run9"]
    page1 = search("", order_by=["metrics.auc ASC"], max_results=5)
    page2 = search("", order_by=["metrics.auc ASC"], max_results=5, page_token=page1["next_page_token"])
    page3 = search("", order_by=["metrics.auc ASC"], max_results=5, page_token=page2["next_page_token"])
    assert names(page1) + names(page2) + names(page3) == [f"run{i}" for i in range(12)]
    assert "next_page_token" not in page3
    # Search pages are written by a separate fast path: each run reads exactly as runs/get
    # renders it, including NaN/Infinity metrics, an end time and text that needs escaping.
    rid = page3["runs"][0]["info"]["run_id"]
    assert trk.admin("POST", f"{P}/runs/log-batch", {"run_id": rid, "metrics": [
        {"key": "odd", "value": "NaN", "timestamp": 2}, {"key": "big", "value": "Infinity", "timestamp": 2},
        {"key": "whole", "value": 3, "timestamp": 2}],
        "tags": [{"key": "note", "value": "quote \" backslash \\ tab \t é"}]}).status == 200
    trk.admin("POST", f"{P}/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 5})
    for found in search("")["runs"]:
        got = trk.admin("GET", f"{P}/runs/get?run_id={found['info']['run_id']}").json["run"]
        assert found == got
        whole = [m for m in found["data"]["metrics"] if m["key"] == "whole"]
        assert not whole or isinstance(whole[0]["value"], float)


@pytest.mark.parametrize("flt,expect", [
    ("metrics.auc >> 0.9", "position 14"),
    ("metrics.auc > 'high'", "compared with numbers"),
    ("params.depth = 6", "quote them"),
    ("metrics.auc > 0.9 or metrics.auc < 0.1", "OR is not supported"),
    ("colour.x = 'a'", "position 1"),
    ("params.a = 'unterminated", "unterminated quoted string"),
    ("attributes.flavour = 'x'", "unknown attribute 'flavour'"),
])
def test_filter_syntax_errors_name_the_position(trk, flt, expect):
    eid = exp(trk)
    r = trk.admin("POST", f"{P}/runs/search", {"experiment_ids": [eid], "filter": flt})
    assert r.status == 400 and r.json["error_code"] == "INVALID_PARAMETER_VALUE"
    assert expect in r.json["message"], r.json["message"]


def test_bad_input_is_rejected_and_nothing_partially_applied(trk):
    eid = exp(trk)
    rid = run(trk, eid)
    r = trk.admin("GET", f"{P}/runs/get?run_id=doesnotexist")
    assert r.status == 404 and r.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for key, expect in [("../etc", "'..'"), ("/abs", "start with '/'"), ("k" * 251, "the limit is 250"),
                        ("bad\x00key", "invalid character")]:
        r = trk.admin("POST", f"{P}/runs/log-metric", {"run_id": rid, "key": key, "value": 1, "timestamp": 1})
        assert r.status == 400 and expect in r.json["message"], (key, r.raw)
    # 1,001 metrics: refused whole, nothing stored.
    big = {"run_id": rid, "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(1001)]}
    r = trk.admin("POST", f"{P}/runs/log-batch", big)
    assert r.status == 400 and "at most 1000 metrics" in r.json["message"]
    # A batch whose last param conflicts: none of its metrics or params land.
    trk.admin("POST", f"{P}/runs/log-parameter", {"run_id": rid, "key": "p", "value": "1"})
    mixed = {"run_id": rid, "metrics": [{"key": "x", "value": 1, "timestamp": 1}],
             "params": [{"key": "q", "value": "2"}, {"key": "p", "value": "changed"}]}
    assert trk.admin("POST", f"{P}/runs/log-batch", mixed).status == 400
    data = trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["data"]
    assert data.get("metrics", []) == [] and [p["key"] for p in data["params"]] == ["p"]
    assert trk.admin("GET", f"{P}/metrics/get-history?run_id={rid}&metric_key=x").json["metrics"] == []
    # Finished and deleted runs take no more data.
    trk.admin("POST", f"{P}/runs/update", {"run_id": rid, "status": "FINISHED"})
    r = trk.admin("POST", f"{P}/runs/log-metric", {"run_id": rid, "key": "late", "value": 1, "timestamp": 1})
    assert r.status == 400 and r.json["error_code"] == "INVALID_STATE" and "FINISHED" in r.json["message"]
    rid2 = run(trk, eid)
    trk.admin("POST", f"{P}/runs/delete", {"run_id": rid2})
    r = trk.admin("POST", f"{P}/runs/log-metric", {"run_id": rid2, "key": "late", "value": 1, "timestamp": 1})
    assert r.status == 400 and "deleted" in r.json["message"]
    r = trk.admin("POST", f"{P}/runs/update", {"run_id": rid2, "status": "DONE"})
    assert r.status == 400
    r = trk.admin("POST", f"{P}/runs/log-batch", raw=b'{"run_id": ', headers={"Content-Type": "application/json"})
    assert r.status == 400 and "malformed JSON" in r.json["message"]


def test_access_control_and_audit(trk):
    eid = exp(trk)
    rid = run(trk, eid)
    viewer = trk.make_user("vi")
    outsider = trk.make_user("ou")
    trk.admin("POST", "/api/v1/projects/track/members", {"user": "vi", "role": "viewer"})
    assert trk.request("GET", f"/api/2.0/mlflow/runs/get?run_id={rid}", token=viewer).status == 200
    r = trk.request("POST", "/api/2.0/mlflow/runs/log-metric", token=viewer,
                    body={"run_id": rid, "key": "a", "value": 1, "timestamp": 1})
    assert r.status == 403 and r.json["error_code"] == "PERMISSION_DENIED"
    r = trk.request("GET", f"/api/2.0/mlflow/runs/get?run_id={rid}", token=outsider)
    assert r.status == 404 and r.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = trk.request("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={eid}", token=outsider)
    assert r.status == 404
    r = trk.request("POST", f"/projects/track/api/2.0/mlflow/runs/search", token=outsider, body={"experiment_ids": [eid]})
    assert r.status == 404
    r = trk.request("GET", f"{P}/runs/get?run_id={rid}")
    assert r.status == 401 and r.json["error_code"] == "UNAUTHENTICATED"
    actions = [e["action"] for e in trk.admin("GET", "/api/v1/audit?project=track&limit=100").json["entries"]]
    assert "experiment.create" in actions and "run.create" in actions
    denied = trk.admin("GET", "/api/v1/audit?action=run.log&actor=vi").json["entries"]
    assert denied and denied[0]["outcome"] == "PERMISSION_DENIED"


def test_cli_experiments_and_runs(trk):
    assert trk.cli("experiments", "-p", "track", "create", "cli-exp").returncode == 0
    assert "cli-exp" in trk.cli("experiments", "-p", "track", "ls").stdout
    eid = trk.admin("GET", f"{P}/experiments/get-by-name?experiment_name=cli-exp").json["experiment"]["experiment_id"]
    ids = []
    for i, depth in enumerate(["4", "8"]):
        rid = run(trk, eid, f"r{i}")
        ids.append(rid)
        trk.admin("POST", f"{P}/runs/log-batch", {"run_id": rid, "params": [{"key": "max_depth", "value": depth},
                                                                          {"key": "seed", "value": "1"}],
                                                 "metrics": [{"key": "auc", "value": 0.8 + i / 10, "timestamp": 1}]})
    out = trk.cli("runs", "-p", "track", "ls", "-e", "cli-exp", "--order-by", "metrics.auc DESC")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "AUC" in lines[0] and "r1" in lines[1] and "r0" in lines[2]
    out = trk.cli("runs", "-p", "track", "search", "params.max_depth = '8'", "-e", "cli-exp")
    assert "r1" in out.stdout and "r0" not in out.stdout
    bad = trk.cli("runs", "-p", "track", "search", "metrics.auc >> 1", "-e", "cli-exp")
    assert bad.returncode == 1 and "position" in bad.stderr
    show = trk.cli("runs", "-p", "track", "show", ids[0]).stdout
    assert "max_depth" in show and "auc" in show
    cmp = trk.cli("runs", "-p", "track", "compare", ids[0], ids[1]).stdout
    assert "max_depth" in cmp and "seed" not in cmp.split("METRICS")[0]  # seed is equal: not listed
    assert "0.8" in cmp and "0.9" in cmp


def test_mlflow_artifact_proxy(trk):
    rid = run(trk, exp(trk))
    uri = trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["info"]["artifact_uri"]
    assert uri == f"mlflow-artifacts:/track/runs/{rid}/artifacts"
    base = "/api/2.0/mlflow-artifacts/artifacts"
    path = f"track/runs/{rid}/artifacts"
    assert trk.admin("PUT", f"{base}/{path}/model/model.json", raw=b'{"a": 1}').status == 200
    assert trk.admin("PUT", f"{base}/{path}/metrics.csv", raw=b"x,y\n1,2\n").status == 200
    # Also under the project-scoped tracking URI, as MLflow builds it from that URI.
    assert trk.admin("PUT", f"/projects/track{base}/{path}/notes.txt", raw=b"hi").status == 200
    top = trk.admin("GET", f"{base}?path={path}").json["files"]
    assert {(f["path"], f["is_dir"]) for f in top} == {("model", True), ("metrics.csv", False), ("notes.txt", False)}
    inner = trk.admin("GET", f"{base}?path={path}/model").json["files"]
    assert inner == [{"path": "model.json", "is_dir": False, "file_size": 8}]
    assert trk.admin("GET", f"{base}/{path}/model/model.json").raw == b'{"a": 1}'
    # Same roles and name rules as everywhere else.
    viewer = trk.make_user("vv")
    trk.admin("POST", "/api/v1/projects/track/members", {"user": "vv", "role": "viewer"})
    r = trk.request("PUT", f"{base}/{path}/x.txt", token=viewer, raw=b"x")
    assert r.status == 403 and r.json["error_code"] == "PERMISSION_DENIED"
    assert trk.request("GET", f"{base}/{path}/metrics.csv", token=viewer).status == 200
    r = trk.admin("PUT", f"{base}/{path}/%2e%2e/%2e%2e/escape.txt", raw=b"x")
    assert r.status == 400 and "'..'" in r.json["message"]
    r = trk.admin("GET", f"{base}/nope/runs/x")
    assert r.status == 404 and r.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_native_routes_list_get_and_compare(trk):
    eid = exp(trk, "native")
    ids = []
    for i, (depth, seed) in enumerate([("4", "1"), ("8", "1")]):
        rid = run(trk, eid, f"n{i}")
        ids.append(rid)
        trk.admin("POST", f"{P}/runs/log-batch", {"run_id": rid,
                                                 "params": [{"key": "max_depth", "value": depth}, {"key": "seed", "value": seed}],
                                                 "metrics": [{"key": "loss", "value": 1.0 / (s + 1 + i), "timestamp": s, "step": s}
                                                             for s in range(3)]})
    exps = trk.admin("GET", "/api/v1/projects/track/experiments").json["experiments"]
    assert sorted(e["name"] for e in exps) == ["Default", "native"]
    one = trk.admin("GET", f"/api/v1/projects/track/runs/{ids[0]}").json
    assert one["params"] == {"max_depth": "4", "seed": "1"} and one["metrics"]["loss"] == pytest.approx(1 / 3)
    cmp = trk.admin("GET", f"/api/v1/projects/track/runs-compare?run_ids={ids[0]},{ids[1]}&metric=loss").json
    assert cmp["params_differ"] == {"max_depth": ["4", "8"]} and cmp["params_same"] == {"seed": ["1", "1"]}
    assert cmp["metrics"]["loss"] == [pytest.approx(1 / 3), pytest.approx(1 / 4)]
    assert [len(s) for s in cmp["history"]["series"]] == [3, 3]
    assert cmp["history"]["series"][1][0] == {"step": 0, "value": 0.5}
    # Kade's error shape and the usual access rules.
    r = trk.admin("GET", "/api/v1/projects/track/runs-compare?run_ids=" + ids[0])
    assert r.status == 400 and "2 to 50" in r.error["message"]
    r = trk.admin("GET", f"/api/v1/projects/track/runs/nope")
    assert r.status == 404 and r.error["code"] == "NOT_FOUND"
    outsider = trk.make_user("out2")
    assert trk.request("GET", f"/api/v1/projects/track/runs/{ids[0]}", token=outsider).status == 404
    trk.admin("POST", "/api/v1/projects", {"name": "other"})
    assert trk.admin("GET", f"/api/v1/projects/other/runs/{ids[0]}").status == 404  # not in that project


def test_mlflow_client_calls_log_model_artifacts_list_inputs_and_user(trk):
    from conftest import ADMIN_TOKEN
    eid = exp(trk, "gaps")
    # user_id as the client sent it; the authenticated user is kept as the creator.
    r = trk.admin("POST", f"{P}/runs/create", {"experiment_id": eid, "user_id": "jovyan", "start_time": 5})
    rid = r.json["run"]["info"]["run_id"]
    assert r.json["run"]["info"]["user_id"] == "jovyan"
    native = trk.admin("GET", f"/api/v1/projects/track/runs/{rid}").json
    assert native["user"] == "jovyan" and native["created_by"] == "admin"
    # No tags the client did not log (besides MLflow's own mlflow.runName).
    tags = {t["key"] for t in trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["data"]["tags"]}
    assert tags == {"mlflow.runName"}
    exp_tags = trk.admin("GET", f"{P}/experiments/get?experiment_id={eid}").json["experiment"]["tags"]
    assert exp_tags == []
    # log-model: the model's record is appended to mlflow.log-model.history.
    model = {"artifact_path": "model", "flavors": {"xgboost": {"data": "model.xgb"}}, "run_id": rid}
    for _ in range(2):
        assert trk.admin("POST", f"{P}/runs/log-model", {"run_id": rid, "model_json": json.dumps(model)}).status == 200
    got = {t["key"]: t["value"] for t in trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["data"]["tags"]}
    assert [m["artifact_path"] for m in json.loads(got["mlflow.log-model.history"])] == ["model", "model"]
    r = trk.admin("POST", f"{P}/runs/log-model", {"run_id": rid, "model_json": "{\"flavors\": {}}"})
    assert r.status == 400 and "artifact_path" in r.json["message"]
    r = trk.admin("POST", f"{P}/runs/log-model", {"run_id": rid, "model_json": "{not json"})
    assert r.status == 400 and "line 1, column" in r.json["message"], r.raw
    # artifacts/list: "." and "" are the run's root; paths are relative to it.
    base = f"/api/2.0/mlflow-artifacts/artifacts/track/runs/{rid}/artifacts"
    for name in ("model/MLmodel", "model/model.xgb", "notes.txt"):
        assert trk.request("PUT", f"{base}/{name}", token=ADMIN_TOKEN, raw=b"x" * 3).status == 200
    for path in (".", "", "./"):
        listed = trk.admin("GET", f"{P}/artifacts/list?run_id={rid}&path={path}").json
        assert listed["root_uri"] == f"mlflow-artifacts:/track/runs/{rid}/artifacts"
        assert sorted((f["path"], f["is_dir"]) for f in listed["files"]) == [("model", True), ("notes.txt", False)]
    listed = trk.admin("GET", f"{P}/artifacts/list?run_id={rid}&path=model").json["files"]
    assert sorted((f["path"], f["file_size"]) for f in listed) == [("model/MLmodel", 3), ("model/model.xgb", 3)]
    r = trk.admin("GET", f"{P}/artifacts/list?run_id={rid}&path=../x")
    assert r.status == 400 and r.json["error_code"] == "INVALID_PARAMETER_VALUE"
    # log-inputs keeps the dataset as logged (source type, schema, profile) and every tag.
    ds = {"name": "churn", "digest": "abc123", "source_type": "local", "source": "{\"uri\": \"/data/churn.csv\"}",
          "schema": "{\"mlflow_colspec\": []}", "profile": "{\"num_rows\": 10}"}
    in_tags = [{"key": "mlflow.data.context", "value": "training"}, {"key": "owner", "value": "risk"}]
    assert trk.admin("POST", f"{P}/runs/log-inputs",
                     {"run_id": rid, "datasets": [{"dataset": ds, "tags": in_tags}]}).status == 200
    inp = trk.admin("GET", f"{P}/runs/get?run_id={rid}").json["run"]["inputs"]["dataset_inputs"][0]
    assert inp["dataset"] == ds and inp["tags"] == in_tags


def test_validation_uses_mlflow_wording(trk):
    eid = exp(trk, "valid")
    rid = run(trk, eid)
    cases = [
        ("runs/log-metric", {"run_id": rid, "key": "m", "value": 1}, "Missing value for required parameter 'timestamp'."),
        ("runs/log-metric", {"run_id": rid, "key": "m", "value": "abc", "timestamp": 1},
         "Invalid value \"abc\" for parameter 'value' supplied"),
        ("runs/log-metric", {"run_id": rid, "key": 123, "value": 1, "timestamp": 1},
         "Invalid value 123 for parameter 'key' supplied"),
        ("runs/log-batch", {"run_id": rid, "metrics": [{"key": "m", "value": 1}]},
         "Missing value for required parameter 'metrics[0].timestamp'."),
        ("runs/log-batch", {"run_id": rid, "metrics": [{"key": "m", "value": 1, "timestamp": "x"}]},
         "Invalid value \"x\" for parameter 'metrics[0].timestamp' supplied"),
        ("runs/log-inputs", {"run_id": rid}, "Missing value for required parameter 'datasets'."),
        ("runs/log-inputs", {"run_id": rid, "datasets": {"a": 1}}, "for parameter 'datasets' supplied"),
        ("runs/log-parameter", {"run_id": rid, "key": "p"}, "Missing value for required parameter 'value'."),
        ("runs/log-parameter", {"key": "p", "value": "1"}, "Missing value for required parameter 'run_id'."),
        ("experiments/create", {"name": 123.5}, "Invalid value 123.5 for parameter 'name' supplied"),
        ("runs/create", {"experiment_id": [1]}, "Invalid value [1] for parameter 'experiment_id' supplied"),
        ("runs/set-tag", {"run_id": rid, "key": ["k"], "value": "v"}, "Invalid value [\"k\"] for parameter 'key' supplied"),
        ("runs/log-batch", {"run_id": rid, "tags": "t"}, "Invalid value \"t\" for parameter 'tags' supplied"),
        ("runs/log-batch", {"run_id": rid, "params": [{"value": "1"}]}, "Missing value for required parameter 'params[0].key'."),
        ("runs/log-batch", {"run_id": rid, "params": [{"key": 5, "value": "1"}]}, "Invalid value 5 for parameter 'params[0].key' supplied"),
        ("experiments/create", {"name": "x", "tags": [7]}, "Invalid value 7 for parameter 'tags[0]' supplied"),
    ]
    for path, body, want in cases:
        r = trk.admin("POST", f"{P}/{path}", body)
        assert r.status == 400 and r.json["error_code"] == "INVALID_PARAMETER_VALUE", (path, body, r.raw)
        assert want in r.json["message"], (path, r.json["message"])
    # Numeric ids are accepted where MLflow's clients send strings.
    assert trk.admin("POST", f"{P}/runs/create", {"experiment_id": int(eid)}).status == 200
    r = trk.admin("GET", f"{P}/runs/get?run_id=nope")
    assert r.status == 404 and r.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_runs_search_breaks_ties_as_mlflow(trk):
    eid = exp(trk, "ties")
    ids = [run(trk, eid, f"t{i}") for i in range(6)]  # all start at 1000
    got = [r["info"]["run_id"] for r in trk.admin("POST", f"{P}/runs/search", {"experiment_ids": [eid]}).json["runs"]]
    assert got == sorted(ids)  # same start time: by run id
