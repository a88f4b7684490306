"""Batch inference end to end: a job scores a dataset version with a model alias into a new
dataset version (input columns + predictions) whose values equal the endpoint's answers and
whose lineage names the job and the model; bad specs are refused with nothing queued; a
missing feature column fails the job with its name; cron schedules fire on their own, show
their next run and history, and refuse bad expressions and time zones."""
import csv
import io
import time

import pytest

from conftest import ADMIN_TOKEN
from test_training import CHURN
from test_serving import FEATURES, P, ml, records, register, train  # noqa: F401
from test_training import wait


def setup_model(server):
    register(server, train(server))
    assert server.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": 1}).status == 200


def test_a_batch_job_writes_scored_rows_equal_to_the_endpoints_answers(ml):
    setup_model(ml)
    r = ml.admin("POST", f"{P}/batch/jobs", {"model": "churn", "version": "champion",
                                             "dataset": "churn", "dataset_version": 1})
    assert r.status == 201, r.raw
    job = wait(ml, r.json["id"])
    assert job["status"] == "succeeded", job
    res = job["result"]
    assert res["rows"] == 600 and res["output"] == "churn-scored" and res["output_version"] == 1
    assert res["model_version"] == 1 and res["columns_added"] == ["prediction", "probability"]
    out = ml.admin("GET", f"{P}/datasets/churn-scored/versions/1/download").raw.decode()
    rows = list(csv.DictReader(io.StringIO(out)))
    df, recs = records()
    assert len(rows) == len(recs) == 600
    assert list(rows[0].keys()) == list(df.columns) + ["prediction", "probability"]
    # Input columns unchanged; predictions equal to what the endpoint answers.
    assert [r["customer_id"] for r in rows] == list(df["customer_id"])
    ml.admin("POST", f"{P}/endpoints", {"name": "e", "model": "churn"})
    answer = ml.admin("POST", f"{P}/endpoints/e/predict", {"instances": recs}).json
    for row, pred, prob in zip(rows, answer["predictions"], answer["probabilities"]):
        assert row["prediction"] == pred
        assert float(row["probability"]) == pytest.approx(prob[1], rel=1e-6, abs=1e-7)
    # Lineage: the output version was produced by the job with the model version.
    v = ml.admin("GET", f"{P}/datasets/churn-scored/versions/1").json
    assert v["source"]["kind"] == "batch" and v["source"]["job"] == job["id"]
    assert v["source"]["model"] == "churn" and v["source"]["model_version"] == 1
    assert v["source"]["input"] == "churn@1"
    logs = ml.admin("GET", f"{P}/jobs/{job['id']}/logs").json["lines"]
    assert any("scored 600 rows" in l["line"] for l in logs)
    listed = ml.admin("GET", f"{P}/batch/jobs").json["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_bad_batch_specs_are_refused_and_a_missing_column_fails_the_job(ml):
    setup_model(ml)
    before = ml.admin("GET", f"{P}/jobs").json["jobs"]
    for body, status, needle in [
        ({"model": "nope", "dataset": "churn"}, 404, "model 'nope'"),
        ({"model": "churn", "version": 7, "dataset": "churn"}, 404, "no version 7"),
        ({"model": "churn", "dataset": "nope"}, 404, "nope"),
        ({"model": "churn", "dataset": "churn", "output": "churn"}, 400, "another dataset"),
        ({"model": "churn", "dataset": "churn", "colour": 1}, 400, "colour"),
        ({"model": "churn"}, 400, "dataset"),
        ({"model": "churn", "dataset": "churn", "threads": 0}, 400, "threads"),
        ({"model": "churn", "dataset": "churn", "output": "../x"}, 400, "dataset"),
        ({"model": ["churn"], "dataset": "churn"}, 400, "model"),
    ]:
        r = ml.admin("POST", f"{P}/batch/jobs", body)
        assert r.status == status and needle in r.json["error"]["message"], (body, r.raw)
    assert ml.admin("GET", f"{P}/jobs").json["jobs"] == before
    # A dataset without a column the model needs: the job fails once (no retry), naming it.
    body = b"plan,tenure_months,monthly_charges,support_calls\nbasic,3,20.5,1\n"
    assert ml.request("POST", f"{P}/datasets/partial/versions", token=ADMIN_TOKEN, raw=body,
                      headers={"Content-Type": "text/csv"}).status == 201
    r = ml.admin("POST", f"{P}/batch/jobs", {"model": "churn", "dataset": "partial"})
    job = wait(ml, r.json["id"])
    assert job["status"] == "failed" and "no column 'region'" in job["error"] and job["attempts"] == 1
    assert ml.admin("GET", f"{P}/datasets/partial-scored").status == 404
    # A viewer may not submit; no token is 401.
    viewer = ml.make_user("vi")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vi", "role": "viewer"})
    assert ml.request("POST", f"{P}/batch/jobs", token=viewer, body={"model": "churn", "dataset": "churn"}).status == 403
    assert ml.request("GET", f"{P}/batch/jobs").status == 401


def test_schedules_fire_on_cron_and_keep_their_history(ml):
    setup_model(ml)
    for body, needle in [
        ({"name": "s", "cron": "* * *", "timezone": "UTC", "spec": {"model": "churn", "dataset": "churn"}}, "expected 5 fields"),
        ({"name": "s", "cron": "61 * * * *", "timezone": "UTC", "spec": {"model": "churn", "dataset": "churn"}}, "minute"),
        ({"name": "s", "cron": "* * * * *", "timezone": "Mars/Base", "spec": {"model": "churn", "dataset": "churn"}}, "time zone"),
        ({"name": "s", "cron": "* * * * *", "spec": {"model": "churn", "dataset": "churn"}}, "timezone"),
        ({"name": "s", "cron": "* * * * *", "timezone": "UTC", "spec": {"model": "x", "dataset": "churn"}}, "model 'x'"),
        ({"name": "s", "cron": "0 0 30 2 *", "timezone": "UTC", "spec": {"model": "churn", "dataset": "churn"}}, "never matches"),
    ]:
        r = ml.admin("POST", f"{P}/batch/schedules", body)
        assert 400 <= r.status < 500 and needle in r.json["error"]["message"], (body, r.raw)
    assert ml.admin("GET", f"{P}/batch/schedules").json["schedules"] == []
    r = ml.admin("POST", f"{P}/batch/schedules", {"name": "nightly", "cron": "0 2 * * *",
                                                  "timezone": "Europe/Berlin",
                                                  "spec": {"model": "churn", "dataset": "churn"}})
    assert r.status == 201, r.raw
    assert r.json["next_run_at"].endswith(("01:00:00.000Z", "00:00:00.000Z"))  # 02:00 Berlin
    # Every minute: the scheduler fires it by itself within a minute.
    r = ml.admin("POST", f"{P}/batch/schedules", {"name": "minutely", "cron": "* * * * *",
                                                  "timezone": "UTC",
                                                  "spec": {"model": "churn", "dataset": "churn",
                                                           "output": "churn-minutely"}})
    assert r.status == 201, r.raw
    deadline = time.time() + 75
    history = []
    while time.time() < deadline and not history:
        time.sleep(1)
        history = ml.admin("GET", f"{P}/batch/schedules/minutely").json["history"]
    assert history, "the schedule did not fire within 75 s"
    job = wait(ml, history[0]["id"])
    assert job["status"] == "succeeded" and job["spec"]["schedule"] == "minutely"
    v = ml.admin("GET", f"{P}/datasets/churn-minutely/versions/1").json
    assert v["source"]["schedule"] == "minutely"
    s = ml.admin("GET", f"{P}/batch/schedules/minutely").json
    assert s["last_job"] == history[0]["id"] and s["next_run_at"]
    # Disable, run out of turn, delete.
    r = ml.admin("PATCH", f"{P}/batch/schedules/minutely", {"enabled": False})
    assert r.status == 200 and r.json["enabled"] is False and r.json["next_run_at"] is None
    r = ml.admin("POST", f"{P}/batch/schedules/nightly/run")
    assert r.status == 201 and wait(ml, r.json["id"])["status"] == "succeeded"
    assert ml.admin("PATCH", f"{P}/batch/schedules/nightly", {"cron": "bad"}).status == 400
    assert ml.admin("DELETE", f"{P}/batch/schedules/nightly").status == 200
    assert ml.admin("GET", f"{P}/batch/schedules/nightly").status == 404
    audit = ml.admin("GET", "/api/v1/audit?action=batch.schedule.create").json["entries"]
    assert len([e for e in audit if e["outcome"] == "ok"]) == 2


def test_cli_batch_run_schedule_ls(ml):
    setup_model(ml)
    env = {"KADE_PROJECT": "ml"}
    out = ml.cli("batch", "run", "--model", "churn@champion", "--dataset", "churn@1", "--wait", env=env)
    assert out.returncode == 0 and "Scored 600 rows" in out.stdout and "churn-scored@1" in out.stdout, out.stderr
    out = ml.cli("batch", "schedule", "weekly", "--cron", "0 6 * * mon", "--tz", "UTC",
                 "--model", "churn", "--dataset", "churn", env=env)
    assert out.returncode == 0 and "next run" in out.stdout, out.stderr
    out = ml.cli("batch", "ls", env=env)
    assert "weekly" in out.stdout and "0 6 * * mon" in out.stdout and "succeeded" in out.stdout, out.stdout
    job = ml.admin("GET", f"{P}/batch/jobs").json["jobs"][0]["id"]
    out = ml.cli("batch", "logs", job, env=env)
    assert "scored 600 rows" in out.stdout
    out = ml.cli("batch", "schedule", "bad", "--cron", "* *", "--tz", "UTC", "--model", "churn",
                 "--dataset", "churn", env=env)
    assert out.returncode == 1 and "expected 5 fields" in out.stderr


def test_scoring_a_version_that_failed_a_blocking_check_needs_force_and_is_audited(ml):
    setup_model(ml)
    r = ml.admin("POST", f"{P}/datasets", {"name": "dirty", "checks": [{"check": "not_null", "column": "region"}]})
    assert r.status == 201, r.raw
    with open(CHURN, "rb") as f:
        v = ml.request("POST", f"{P}/datasets/dirty/versions", token=ADMIN_TOKEN, raw=f.read()).json
    assert v["quality_status"] == "failed"
    before = ml.admin("GET", f"{P}/jobs").json["jobs"]
    r = ml.admin("POST", f"{P}/batch/jobs", {"model": "churn", "dataset": "dirty"})
    assert r.status == 409 and "failed a blocking quality check" in r.json["error"]["message"], r.raw
    assert ml.admin("GET", f"{P}/jobs").json["jobs"] == before
    r = ml.admin("POST", f"{P}/batch/jobs", {"model": "churn", "dataset": "dirty", "force": True})
    assert r.status == 201, r.raw
    assert wait(ml, r.json["id"])["status"] == "succeeded"
    forced = ml.admin("GET", "/api/v1/audit?action=dataset.version.use_forced").json["entries"]
    assert len(forced) == 1


def test_a_schedule_stops_submitting_when_its_owner_loses_the_editor_role(ml):
    setup_model(ml)
    ed = ml.make_user("ella")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "ella", "role": "editor"})
    r = ml.request("POST", f"{P}/batch/schedules", token=ed,
                   body={"name": "ellas", "cron": "* * * * *", "timezone": "UTC",
                         "spec": {"model": "churn", "dataset": "churn", "output": "ellas-out"}})
    assert r.status == 201, r.raw
    first = r.json["next_run_at"]
    # Ella becomes a viewer before the schedule first fires: it fires, but submits nothing.
    assert ml.admin("POST", "/api/v1/projects/ml/members", {"user": "ella", "role": "viewer"}).status in (200, 201)
    deadline = time.time() + 75
    while ml.admin("GET", f"{P}/batch/schedules/ellas").json["next_run_at"] == first:
        assert time.time() < deadline, "the schedule never fired"
        time.sleep(1)
    time.sleep(1)
    s = ml.admin("GET", f"{P}/batch/schedules/ellas").json
    assert s["history"] == [] and s["last_job"] == ""
    assert ml.admin("GET", f"{P}/batch/jobs").json["jobs"] == []
