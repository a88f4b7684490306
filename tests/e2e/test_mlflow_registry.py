"""The MLflow Model Registry REST API (registered-models/, model-versions/) on Kade's registry,
with the payloads MLflow 2.10's client sends and the answers it expects."""
import os

import numpy as np
import pandas as pd
import xgboost

from conftest import ADMIN_TOKEN
from test_serving import CHURN, register, train  # noqa: F401
from test_training import ml  # noqa: F401 (fixture: project "ml" with the churn dataset)

M = "/projects/ml/api/2.0/mlflow"
ROOT_API = "/api/2.0/mlflow"


def ok(r):
    assert r.status == 200, r.raw
    return r.json


def err(r, status, code):
    assert r.status == status, r.raw
    assert r.json["error_code"] == code, r.raw
    return r.json["message"]


def test_registered_model_crud_tags_search_and_paging(ml):
    m = ok(ml.admin("POST", f"{M}/registered-models/create",
                    {"name": "churn", "description": "who leaves", "tags": [{"key": "team", "value": "risk"}]}))
    rm = m["registered_model"]
    assert rm["name"] == "churn" and rm["description"] == "who leaves" and rm["user_id"] == "admin"
    assert rm["tags"] == [{"key": "team", "value": "risk"}] and rm["latest_versions"] == [] and rm["aliases"] == []
    msg = err(ml.admin("POST", f"{M}/registered-models/create", {"name": "churn"}), 400, "RESOURCE_ALREADY_EXISTS")
    assert msg == "Registered Model (name=churn) already exists."
    # The same object on the native API, and PROJECT/NAME on the root URI.
    assert ml.admin("GET", "/api/v1/projects/ml/models/churn").json["description"] == "who leaves"
    assert ok(ml.admin("GET", f"{ROOT_API}/registered-models/get?name=ml/churn"))["registered_model"]["name"] == "ml/churn"
    msg = err(ml.admin("GET", f"{M}/registered-models/get?name=nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert msg == "Registered Model with name=nope not found"

    ok(ml.admin("PATCH", f"{M}/registered-models/update", {"name": "churn", "description": "v2"}))
    ok(ml.admin("POST", f"{M}/registered-models/set-tag", {"name": "churn", "key": "tier", "value": "gold"}))
    ok(ml.admin("DELETE", f"{M}/registered-models/delete-tag", {"name": "churn", "key": "team"}))
    rm = ok(ml.admin("GET", f"{M}/registered-models/get?name=churn"))["registered_model"]
    assert rm["description"] == "v2" and rm["tags"] == [{"key": "tier", "value": "gold"}]
    err(ml.admin("DELETE", f"{M}/registered-models/delete-tag", {"name": "churn", "key": "team"}),
        404, "RESOURCE_DOES_NOT_EXIST")

    for i in range(5):
        ok(ml.admin("POST", f"{M}/registered-models/create", {"name": f"other-{i}"}))
    # Filter grammar: LIKE with %, AND of clauses, tags.
    names = lambda j: [x["name"] for x in j.get("registered_models", [])]  # noqa: E731
    assert names(ok(ml.admin("GET", f"{M}/registered-models/search?filter=name+LIKE+%27other-%25%27"))) == \
        [f"other-{i}" for i in range(5)]
    assert names(ok(ml.admin("GET", f"{M}/registered-models/search?"
                                    "filter=name+LIKE+%27%25r%25%27+AND+tags.tier+%3D+%27gold%27"))) == ["churn"]
    # Paging in MLflow's way: max_results and an opaque next_page_token; order_by.
    seen, token = [], None
    while True:
        q = "max_results=2&order_by=name+DESC" + (f"&page_token={token}" if token else "")
        page = ok(ml.admin("GET", f"{M}/registered-models/search?{q}"))
        assert len(page["registered_models"]) <= 2
        seen += names(page)
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == sorted(["churn"] + [f"other-{i}" for i in range(5)], reverse=True)
    msg = err(ml.admin("GET", f"{M}/registered-models/search?max_results=5000"), 400, "INVALID_PARAMETER_VALUE")
    assert "at most 1000" in msg
    msg = err(ml.admin("GET", f"{M}/registered-models/search?filter=name+%3D%3D"), 400, "INVALID_PARAMETER_VALUE")
    assert "position" in msg

    # Rename and delete.
    ok(ml.admin("POST", f"{M}/registered-models/rename", {"name": "other-0", "new_name": "renamed"}))
    err(ml.admin("GET", f"{M}/registered-models/get?name=other-0"), 404, "RESOURCE_DOES_NOT_EXIST")
    err(ml.admin("POST", f"{M}/registered-models/rename", {"name": "other-1", "new_name": "renamed"}),
        400, "RESOURCE_ALREADY_EXISTS")
    ok(ml.admin("DELETE", f"{M}/registered-models/delete", {"name": "renamed"}))
    err(ml.admin("GET", f"{M}/registered-models/get?name=renamed"), 404, "RESOURCE_DOES_NOT_EXIST")
    # Both attempts are audited, the refused one with its error.
    audit = ml.admin("GET", "/api/v1/audit?action=model.rename").json["entries"]
    assert sorted(e["detail"].get("new_name", e["detail"].get("error")) for e in audit) == \
        ["Registered Model (name=renamed) already exists.", "renamed"]


def test_versions_from_runs_stages_aliases_and_gates(ml):
    run_id = train(ml, max_depth=3)
    weak = train(ml, max_depth=1, eta=0.01)
    ok(ml.admin("POST", f"{M}/registered-models/create", {"name": "churn"}))
    # The source as MLflow's client computes it from runs:/RUN/model, and the runs:/ URI itself.
    v1 = ok(ml.admin("POST", f"{M}/model-versions/create",
                     {"name": "churn", "source": f"mlflow-artifacts:/ml/runs/{run_id}/artifacts/model",
                      "run_id": run_id, "tags": [{"key": "k", "value": "v"}], "description": "first"}))["model_version"]
    assert v1["version"] == "1" and v1["status"] == "READY" and v1["current_stage"] == "None"
    assert v1["run_id"] == run_id and v1["tags"] == [{"key": "k", "value": "v"}] and v1["description"] == "first"
    v2 = ok(ml.admin("POST", f"{M}/model-versions/create",
                     {"name": "churn", "source": f"runs:/{weak}/model"}))["model_version"]
    assert v2["version"] == "2" and v2["run_id"] == weak
    # The native API shows the same versions.
    native = ml.admin("GET", "/api/v1/projects/ml/models/churn").json
    assert [v["version"] for v in native["versions"]] == [2, 1]

    ok(ml.admin("PATCH", f"{M}/model-versions/update", {"name": "churn", "version": "1", "description": "best"}))
    ok(ml.admin("POST", f"{M}/model-versions/set-tag", {"name": "churn", "version": "1", "key": "q", "value": "1"}))
    ok(ml.admin("DELETE", f"{M}/model-versions/delete-tag", {"name": "churn", "version": "1", "key": "k"}))
    got = ok(ml.admin("GET", f"{M}/model-versions/get?name=churn&version=1"))["model_version"]
    assert got["description"] == "best" and got["tags"] == [{"key": "q", "value": "1"}]
    msg = err(ml.admin("GET", f"{M}/model-versions/get?name=churn&version=9"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert msg == "Model Version (name=churn, version=9) not found"
    msg = err(ml.admin("GET", f"{M}/model-versions/get?name=churn&version=abc"), 400, "INVALID_PARAMETER_VALUE")
    assert msg == "Invalid value abc for parameter 'version' supplied"

    # Search versions: name, version_number, run_id; newest first by default.
    found = ok(ml.admin("GET", f"{M}/model-versions/search?filter=name%3D%27churn%27"))["model_versions"]
    assert [v["version"] for v in found] == ["2", "1"]
    found = ok(ml.admin("GET", f"{M}/model-versions/search?filter=run_id+%3D+%27{run_id}%27"))["model_versions"]
    assert [v["version"] for v in found] == ["1"]
    found = ok(ml.admin("GET", f"{M}/model-versions/search?filter=name%3D%27churn%27+AND+version_number+%3E+1"))
    assert [v["version"] for v in found["model_versions"]] == ["2"]

    # Aliases, and stages mapped onto them: Production is the gated alias "champion".
    ok(ml.admin("POST", f"{M}/registered-models/alias", {"name": "churn", "alias": "candidate", "version": "2"}))
    by_alias = ok(ml.admin("GET", f"{M}/registered-models/alias?name=churn&alias=candidate"))["model_version"]
    assert by_alias["version"] == "2" and by_alias["aliases"] == ["candidate"]
    st = ok(ml.admin("POST", f"{M}/model-versions/transition-stage",
                     {"name": "churn", "version": "1", "stage": "production", "archive_existing_versions": False}))
    assert st["model_version"]["current_stage"] == "Production" and "champion" in st["model_version"]["aliases"]
    assert ml.admin("GET", "/api/v1/projects/ml/models/churn").json["aliases"]["champion"] == 1
    ok(ml.admin("POST", f"{M}/model-versions/transition-stage", {"name": "churn", "version": "2", "stage": "Staging"}))
    latest = ok(ml.admin("POST", f"{M}/registered-models/get-latest-versions", {"name": "churn"}))["model_versions"]
    assert [(v["version"], v["current_stage"]) for v in latest] == [("2", "Staging"), ("1", "Production")]
    only = ok(ml.admin("POST", f"{M}/registered-models/get-latest-versions",
                       {"name": "churn", "stages": ["Production"]}))["model_versions"]
    assert [v["version"] for v in only] == ["1"]
    msg = err(ml.admin("POST", f"{M}/registered-models/get-latest-versions", {"name": "churn", "stages": ["Prod"]}),
              400, "INVALID_PARAMETER_VALUE")
    assert "Invalid Model Version stage: Prod" in msg

    # Gates guard alias moves made through MLflow: the weak version cannot become Production.
    auc = [ml.admin("GET", f"/api/v1/projects/ml/models/churn/versions/{n}").json["metrics"]["auc"] for n in (1, 2)]
    assert auc[0] > auc[1]
    r = ml.admin("PATCH", "/api/v1/projects/ml/models/churn",
                 {"gates": {"metrics": [{"metric": "auc", "min": (auc[0] + auc[1]) / 2}]}})
    assert r.status == 200, r.raw
    msg = err(ml.admin("POST", f"{M}/model-versions/transition-stage",
                       {"name": "churn", "version": "2", "stage": "Production"}), 400, "INVALID_STATE")
    assert "auc" in msg
    msg = err(ml.admin("POST", f"{M}/registered-models/alias", {"name": "churn", "alias": "champion", "version": "2"}),
              400, "INVALID_STATE")
    assert ml.admin("GET", "/api/v1/projects/ml/models/churn").json["aliases"]["champion"] == 1

    # models:/ URIs resolve to files a client can download.
    uri = ok(ml.admin("GET", f"{M}/model-versions/get-download-uri?name=churn&version=1"))["artifact_uri"]
    assert uri == f"mlflow-artifacts:/ml/runs/{run_id}/artifacts/model"
    listed = ok(ml.admin("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={uri[len('mlflow-artifacts:/'):]}"))
    assert {"kade_model.json", "model.json"} <= {f["path"] for f in listed["files"]}
    v3 = ok(ml.admin("POST", f"{M}/model-versions/create", {"name": "churn", "source": "models:/churn@champion"}))
    assert v3["model_version"]["version"] == "3" and v3["model_version"]["run_id"] == run_id

    # An endpoint serves the champion; deletes that would take it down are refused.
    r = ml.admin("POST", "/api/v1/projects/ml/endpoints", {"name": "churn-api", "model": "churn"})
    assert r.status == 201, r.raw
    err(ml.admin("DELETE", f"{M}/model-versions/delete", {"name": "churn", "version": "1"}), 400, "INVALID_STATE")
    err(ml.admin("DELETE", f"{M}/registered-models/delete", {"name": "churn"}), 400, "INVALID_STATE")
    ok(ml.admin("DELETE", f"{M}/model-versions/delete", {"name": "churn", "version": "3"}))
    err(ml.admin("GET", f"{M}/model-versions/get?name=churn&version=3"), 404, "RESOURCE_DOES_NOT_EXIST")
    v4 = ok(ml.admin("POST", f"{M}/model-versions/create", {"name": "churn", "source": f"runs:/{run_id}/model"}))
    assert v4["model_version"]["version"] == "4"  # numbers are not reused
    # A renamed model keeps serving.
    ok(ml.admin("POST", f"{M}/registered-models/rename", {"name": "churn", "new_name": "churn-v2"}))
    _, rows = __import__("test_serving").records(3)
    r = ml.admin("POST", "/api/v1/projects/ml/endpoints/churn-api/predict", {"instances": rows})
    assert r.status == 200 and r.json["version"] == 1, r.raw


MLMODEL = """artifact_path: model
flavors:
  python_function:
    data: model.xgb
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.2
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.core.Booster
    model_format: xgb
    xgb_version: {xgb}
mlflow_version: 2.10.2
model_uuid: 0f5c2e1d9a8b4c7d8e6f5a4b3c2d1e0f
run_id: {run}
signature:
  inputs: '[{{"type": "double", "name": "tenure_months", "required": true}}, {{"type": "double",
    "name": "monthly_charges", "required": true}}, {{"type": "long", "name": "support_calls",
    "required": true}}]'
  outputs: null
  params: null
utc_time_created: '2026-12-07 10:00:00.000000'
"""


def test_an_mlflow_logged_xgboost_model_registers_and_serves(ml, tmpdir_path):
    # A run logged through MLflow's REST API, with the model files MLflow's xgboost flavor writes.
    eid = ok(ml.admin("POST", f"{M}/experiments/create", {"name": "mlflow-xgb"}))["experiment_id"]
    run = ok(ml.admin("POST", f"{M}/runs/create", {"experiment_id": eid, "start_time": 1}))["run"]["info"]
    run_id = run["run_id"]
    ok(ml.admin("POST", f"{M}/runs/log-metric", {"run_id": run_id, "key": "auc", "value": 0.81, "timestamp": 1}))
    df = pd.read_csv(CHURN)
    cols = ["tenure_months", "monthly_charges", "support_calls"]
    X = df[cols].astype(float)
    dm = xgboost.DMatrix(X, label=df["churned"])
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3}, dm, 12)
    path = os.path.join(tmpdir_path, "model.xgb")
    booster.save_model(path)  # the flavor's default format
    base = f"/api/2.0/mlflow-artifacts/artifacts/ml/runs/{run_id}/artifacts/model"
    with open(path, "rb") as f:
        assert ml.request("PUT", f"{base}/model.xgb", token=ADMIN_TOKEN, raw=f.read()).status == 200
    text = MLMODEL.format(xgb=xgboost.__version__, run=run_id)
    assert ml.request("PUT", f"{base}/MLmodel", token=ADMIN_TOKEN, raw=text.encode()).status == 200

    # mlflow.register_model(f"runs:/{run_id}/model", "mlflow-churn"): create, then the version.
    ok(ml.admin("POST", f"{M}/registered-models/create", {"name": "mlflow-churn"}))
    v = ok(ml.admin("POST", f"{M}/model-versions/create",
                    {"name": "mlflow-churn", "source": f"{run['artifact_uri']}/model", "run_id": run_id}))
    mv = v["model_version"]
    assert mv["version"] == "1" and mv["source"] == f"{run['artifact_uri']}/model" and mv["run_id"] == run_id
    native = ml.admin("GET", "/api/v1/projects/ml/models/mlflow-churn/versions/1").json
    assert native["source"] == "mlflow" and native["metrics"] == {"auc": 0.81}
    uri = ok(ml.admin("GET", f"{M}/model-versions/get-download-uri?name=mlflow-churn&version=1"))["artifact_uri"]
    assert uri == f"{run['artifact_uri']}/model"

    # Served by an endpoint, with the predictions XGBoost itself gives.
    r = ml.admin("POST", "/api/v1/projects/ml/endpoints",
                 {"name": "mlflow-api", "model": "mlflow-churn", "targets": [{"version": 1}]})
    assert r.status == 201, r.raw
    rows = X.head(50).to_dict(orient="records")
    out = ml.admin("POST", "/api/v1/projects/ml/endpoints/mlflow-api/predict", {"instances": rows})
    assert out.status == 200, out.raw
    want = booster.predict(xgboost.DMatrix(X.head(50)))
    np.testing.assert_allclose([p[1] for p in out.json["probabilities"]], want, rtol=1e-6, atol=1e-7)


def test_bad_sources_and_fields_are_mlflow_errors_and_change_nothing(ml, tmpdir_path):
    ok(ml.admin("POST", f"{M}/registered-models/create", {"name": "m"}))
    eid = ok(ml.admin("POST", f"{M}/experiments/create", {"name": "bad"}))["experiment_id"]
    run_id = ok(ml.admin("POST", f"{M}/runs/create", {"experiment_id": eid}))["run"]["info"]["run_id"]
    base = f"/api/2.0/mlflow-artifacts/artifacts/ml/runs/{run_id}/artifacts"
    cases = [
        ({"name": "m"}, "Missing value for required parameter 'source'."),
        ({"source": "runs:/x/model"}, "Missing value for required parameter 'name'."),
        ({"name": ["m"], "source": "runs:/x/model"}, "Invalid value [\"m\"] for parameter 'name' supplied"),
        ({"name": "m", "source": "s3://bucket/model"}, "not in Kade's artifact store"),
        ({"name": "m", "source": "mlflow-artifacts:/other/runs/x/artifacts/model"}, "outside project 'ml'"),
        ({"name": "m", "source": f"runs:/{run_id}/../../secrets"}, "names no model directory"),
        ({"name": "m", "source": f"runs:/{run_id}/nothing"}, "no MLmodel file"),
    ]
    # A malformed MLmodel names its line; a sklearn model is refused by flavor.
    assert ml.request("PUT", f"{base}/broken/MLmodel", token=ADMIN_TOKEN,
                      raw=b"flavors:\n  xgboost:\n    data: 'open\nrun_id: x\n").status == 200
    cases.append(({"name": "m", "source": f"runs:/{run_id}/broken"}, "MLmodel line 4, column 1"))
    assert ml.request("PUT", f"{base}/sk/MLmodel", token=ADMIN_TOKEN,
                      raw=b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n").status == 200
    cases.append(({"name": "m", "source": f"runs:/{run_id}/sk"}, "flavors sklearn"))
    for body, want in cases:
        r = ml.admin("POST", f"{M}/model-versions/create", body)
        assert r.status == 400 and r.json["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.raw)
        assert want in r.json["message"], (body, r.json["message"])
    assert ml.admin("GET", "/api/v1/projects/ml/models/m").json["versions"] == []
    err(ml.admin("POST", f"{M}/model-versions/transition-stage", {"name": "m", "version": "1", "stage": "Live"}),
        400, "INVALID_PARAMETER_VALUE")
    # Roles: a viewer reads but cannot register; an outsider sees nothing.
    viewer = ml.make_user("vera")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vera", "role": "viewer"})
    assert ml.request("GET", f"{M}/registered-models/get?name=m", token=viewer).status == 200
    r = ml.request("POST", f"{M}/registered-models/create", token=viewer, body={"name": "x"})
    assert r.status == 403 and r.json["error_code"] == "PERMISSION_DENIED"
    outsider = ml.make_user("otto")
    r = ml.request("GET", f"{M}/registered-models/get?name=m", token=outsider)
    assert r.status == 404 and r.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = ml.request("GET", f"{ROOT_API}/registered-models/search", token=outsider)
    assert r.status == 200 and r.json.get("registered_models", []) == []


def test_root_uri_plain_names_default_project_and_experiment_zero(server):
    alice = server.make_user("alice")
    A = lambda method, path, body=None: server.request(method, path, token=alice, body=body)  # noqa: E731
    # mlflow.start_run() with no experiment: runs/create on experiment "0" makes the personal
    # project and its Default experiment on first use.
    r = A("POST", f"{ROOT_API}/runs/create", {"experiment_id": "0", "start_time": 1})
    assert r.status == 200, r.raw
    default_id = r.json["run"]["info"]["experiment_id"]
    got = ok(A("GET", f"{ROOT_API}/experiments/get?experiment_id=0"))["experiment"]
    assert got["name"] == "Default" and got["experiment_id"] == default_id
    assert server.admin("GET", "/api/v1/projects/alice-home").status == 200
    assert server.admin("GET", "/api/v1/users/alice").json["default_project"] == ""
    # set_experiment("churn"): get-by-name, then create, with a plain name.
    err(A("GET", f"{ROOT_API}/experiments/get-by-name?experiment_name=churn"), 404, "RESOURCE_DOES_NOT_EXIST")
    eid = ok(A("POST", f"{ROOT_API}/experiments/create", {"name": "churn"}))["experiment_id"]
    got = ok(A("GET", f"{ROOT_API}/experiments/get-by-name?experiment_name=churn"))["experiment"]
    assert got["experiment_id"] == eid and got["name"] == "churn" and got["tags"] == []
    # PROJECT/NAME and the per-project URI keep working and name the same experiment.
    assert ok(A("GET", f"{ROOT_API}/experiments/get-by-name?experiment_name=alice-home/churn"))[
        "experiment"]["experiment_id"] == eid
    assert ok(A("GET", f"/projects/alice-home/api/2.0/mlflow/experiments/get-by-name?experiment_name=churn"))[
        "experiment"]["experiment_id"] == eid
    # Search with the grammar: LIKE, AND, tags, order_by, paging; Default is listed.
    ok(A("POST", f"{ROOT_API}/experiments/set-experiment-tag", {"experiment_id": eid, "key": "team", "value": "risk"}))
    ok(A("POST", f"{ROOT_API}/experiments/create", {"name": "churn-b"}))
    names = [e["name"] for e in ok(A("POST", f"{ROOT_API}/experiments/search",
                                       {"order_by": ["name ASC"]}))["experiments"]]
    assert names == ["Default", "churn", "churn-b"]
    found = ok(A("POST", f"{ROOT_API}/experiments/search",
                 {"filter": "name LIKE 'churn%' AND tags.team = 'risk'"}))["experiments"]
    assert [e["name"] for e in found] == ["churn"]
    page = ok(A("POST", f"{ROOT_API}/experiments/search", {"max_results": 2, "order_by": ["name ASC"]}))
    assert len(page["experiments"]) == 2 and page["next_page_token"]
    rest = ok(A("POST", f"{ROOT_API}/experiments/search",
                {"max_results": 2, "order_by": ["name ASC"], "page_token": page["next_page_token"]}))
    assert [e["name"] for e in rest["experiments"]] == ["churn-b"] and "next_page_token" not in rest
    msg = err(A("POST", f"{ROOT_API}/experiments/search", {"max_results": 100000}), 400, "INVALID_PARAMETER_VALUE")
    assert "at most 50000" in msg
    msg = err(A("POST", f"{ROOT_API}/experiments/delete", {"experiment_id": "0"}), 400, "INVALID_PARAMETER_VALUE")
    assert "default experiment" in msg
    # Runs searched through experiment 0.
    runs = ok(A("POST", f"{ROOT_API}/runs/search", {"experiment_ids": ["0"]}))["runs"]
    assert len(runs) == 1 and runs[0]["info"]["experiment_id"] == default_id
    # The registry takes plain names on the root URI too.
    rm = ok(A("POST", f"{ROOT_API}/registered-models/create", {"name": "scorer"}))["registered_model"]
    assert rm["name"] == "scorer"
    assert server.admin("GET", "/api/v1/projects/alice-home/models/scorer").status == 200
    # An admin points alice at a team project; plain names follow it.
    assert server.admin("POST", "/api/v1/projects", {"name": "team"}).status == 201
    err(A("POST", f"{ROOT_API}/experiments/create", {"name": "x", "tags": "bad"}), 400, "INVALID_PARAMETER_VALUE")
    r = A("PATCH", "/api/v1/users/alice", {"default_project": "team"})
    assert r.status == 400 and "does not exist" in r.json["error"]["message"]  # no role in it
    server.admin("POST", "/api/v1/projects/team/members", {"user": "alice", "role": "editor"})
    r = A("PATCH", "/api/v1/users/alice", {"default_project": "team"})
    assert r.status == 200 and r.json["default_project"] == "team", r.raw
    assert A("PATCH", "/api/v1/users/alice", {"admin": True}).status == 403
    tid = ok(A("POST", f"{ROOT_API}/experiments/create", {"name": "shared"}))["experiment_id"]
    got = ok(server.admin("GET", f"/projects/team/api/2.0/mlflow/experiments/get?experiment_id={tid}"))
    assert got["experiment"]["name"] == "shared"
    listed = [e["name"] for e in ok(A("POST", f"{ROOT_API}/experiments/search", {"order_by": ["name ASC"]}))["experiments"]]
    assert "shared" in listed and "alice-home/churn" in listed and "Default" in listed
    # Every new project has its Default experiment.
    d = ok(server.admin("GET", "/projects/team/api/2.0/mlflow/experiments/get?experiment_id=0"))["experiment"]
    assert d["name"] == "Default"
