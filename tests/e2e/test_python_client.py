"""The stdlib Python client (clients/python) against a real server, run as a user would:
a training script in a git working tree, executed by Debian's /usr/bin/python3."""
import os
import subprocess
import sys
import textwrap

from conftest import ADMIN_TOKEN, ROOT

CLIENT = os.path.join(ROOT, "clients", "python")
P = "/projects/demo/api/2.0/mlflow"


def run_script(server, tmpdir, code, env=None):
    script = os.path.join(tmpdir, "train.py")
    with open(script, "w") as f:
        f.write(textwrap.dedent(code))
    e = dict(os.environ, PYTHONPATH=CLIENT, KADE_URL=server.url, KADE_TOKEN=ADMIN_TOKEN, KADE_PROJECT="demo")
    e.update(env or {})
    return subprocess.run(["/usr/bin/python3", script], cwd=tmpdir, env=e, capture_output=True, text=True, timeout=120)


def make_repo(path):
    os.makedirs(path)
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    with open(os.path.join(path, "README"), "w") as f:
        f.write("v1\n")
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=path, check=True)


def find_run(server, name):
    eid = server.admin("GET", f"{P}/experiments/get-by-name?experiment_name=client-test").json["experiment"]["experiment_id"]
    runs = server.admin("POST", f"{P}/runs/search", {"experiment_ids": [eid],
                                                      "filter": f"attributes.run_name = '{name}'"}).json["runs"]
    assert len(runs) == 1
    return runs[0]


def test_training_script_logs_everything(make_server, tmpdir_path):
    s = make_server(extra_args=["--demo"]).start()
    repo = os.path.join(tmpdir_path, "repo")
    make_repo(repo)
    with open(os.path.join(repo, "README"), "w") as f:
        f.write("v2, not committed\n")  # a dirty tree: the diff is stored
    with open(os.path.join(repo, "model.json"), "w") as f:
        f.write('{"trees": []}')
    out = run_script(s, repo, """
        import kade
        kade.init(experiment="client-test")
        with kade.start_run(run_name="baseline", tags={"team": "risk"}) as run:
            kade.log_params({"max_depth": 6, "eta": 0.1})
            for step in range(2500):            # more than one batch
                kade.log_metric("train/loss", 1.0 / (step + 1), step=step)
            kade.log_metrics({"auc": 0.91, "odd": float("nan")})
            kade.set_tag("stage", "dev")
            kade.log_input("churn@1", role="train")
            kade.log_artifact("model.json")
        print(run.run_id)
    """)
    assert out.returncode == 0, out.stderr
    r = find_run(s, "baseline")
    info, data = r["info"], r["data"]
    assert info["status"] == "FINISHED" and "end_time" in info
    assert {p["key"]: p["value"] for p in data["params"]} == {"max_depth": "6", "eta": "0.1"}
    metrics = {m["key"]: m for m in data["metrics"]}
    assert metrics["auc"]["value"] == 0.91 and metrics["odd"]["value"] == "NaN"
    assert metrics["train/loss"]["step"] == 2499
    hist = s.admin("GET", f"{P}/metrics/get-history?run_id={info['run_id']}&metric_key=train/loss").json["metrics"]
    assert len(hist) == 2500
    tags = {t["key"]: t["value"] for t in data["tags"]}
    assert tags["team"] == "risk" and tags["stage"] == "dev"
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["mlflow.source.git.branch"] == "main"
    assert tags["kade.git.dirty"] == "true" and tags["mlflow.source.name"] == "train.py"
    inputs = r["inputs"]["dataset_inputs"]
    assert inputs[0]["dataset"]["name"] == "churn" and inputs[0]["tags"][0]["value"] == "train"
    lineage = s.admin("GET", "/api/v1/projects/demo/datasets/churn/versions/1/lineage").json
    assert info["run_id"] in [u["ref"] for u in lineage["used_by"]]
    arts = {a["name"] for a in s.admin("GET", f"/api/v1/projects/demo/artifacts?prefix=runs/{info['run_id']}/").json["artifacts"]}
    assert arts == {f"runs/{info['run_id']}/artifacts/model.json", f"runs/{info['run_id']}/artifacts/code.diff"}
    # The same files through MLflow's artifact proxy, at the run's artifact_uri.
    assert info["artifact_uri"] == f"mlflow-artifacts:/demo/runs/{info['run_id']}/artifacts"
    listed = s.admin("GET", f"/api/2.0/mlflow-artifacts/artifacts?path=demo/runs/{info['run_id']}/artifacts").json
    assert {f["path"] for f in listed["files"]} == {"model.json", "code.diff"}
    diff = s.admin("GET", f"/api/2.0/mlflow-artifacts/artifacts/demo/runs/{info['run_id']}/artifacts/code.diff").raw.decode()
    assert "v2, not committed" in diff


def test_errors_are_exceptions_with_the_server_message(make_server, tmpdir_path):
    s = make_server(extra_args=["--demo"]).start()
    out = run_script(s, tmpdir_path, """
        import kade
        kade.init(experiment="client-test")
        with kade.start_run(run_name="bad", capture_git=False):
            kade.log_param("lr", 0.1)
            try:
                kade.log_param("lr", 0.2)
            except kade.KadeError as e:
                print("ERR", e.status, e.code, e)
            try:
                kade.log_metric("../escape", 1)
                kade.active_run().flush()
            except kade.KadeError as e:
                print("ERR", e.status, e.code, e)
    """)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("ERR")]
    assert lines[0].startswith("ERR 400 INVALID_PARAMETER_VALUE") and "cannot be changed" in lines[0]
    assert "'..'" in lines[1]
    bad_token = run_script(s, tmpdir_path, """
        import kade
        kade.init(experiment="x")
        kade.start_run()
    """, env={"KADE_TOKEN": "kade_wrong"})
    assert bad_token.returncode != 0 and "invalid API token" in bad_token.stderr


def test_run_ends_when_the_script_exits_without_end_run(make_server, tmpdir_path):
    s = make_server(extra_args=["--demo"]).start()
    out = run_script(s, tmpdir_path, """
        import kade
        kade.init(experiment="client-test")
        kade.start_run(run_name="forgotten", capture_git=False)
        kade.log_metric("m", 3.0)
    """)
    assert out.returncode == 0, out.stderr
    r = find_run(s, "forgotten")
    assert r["info"]["status"] == "FINISHED"
    assert [m["value"] for m in r["data"]["metrics"]] == [3.0]


def test_pip_installs_the_client_for_debian_python(tmpdir_path):
    import shutil
    target = os.path.join(tmpdir_path, "site")
    source = os.path.join(tmpdir_path, "client-src")  # pip builds in the source tree: use a copy
    shutil.copytree(CLIENT, source)
    out = subprocess.run(["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
                          "--no-index", "--target", target, source], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    imp = subprocess.run(["/usr/bin/python3", "-c", "import kade; print(kade.__version__, kade.start_run.__name__)"],
                         env=dict(os.environ, PYTHONPATH=target), capture_output=True, text=True)
    assert imp.stdout.split() == ["0.1.0", "start_run"], imp.stderr
