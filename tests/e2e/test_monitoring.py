"""Monitoring end to end: a seeded stream through a real endpoint whose one feature is shifted
on purpose is flagged for that feature only, with figures equal to SciPy's within the sketch's
bound and counts equal to a recomputation from the prediction log; data quality violations
from refused requests; service health; monitor configuration with bad input and roles; KPIs;
the fleet."""
import time

import numpy as np
import pytest
from scipy.stats import ks_2samp

from test_serving import P, records, register, train
from test_training import ml  # noqa: F401 (a fixture)

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]


def column(df, name):
    return np.array([float(v) for v in df[name] if v not in ("", "NA")])


def serve(ml, name):
    v = register(ml, train(ml))
    r = ml.admin("POST", f"{P}/endpoints", {"name": name, "model": "churn", "targets": [{"version": v}]})
    assert r.status == 201, r.raw
    return v


def send(ml, endpoint, rows, batch=25):
    for i in range(0, len(rows), batch):
        r = ml.admin("POST", f"{P}/endpoints/{endpoint}/predict", {"instances": rows[i:i + batch]})
        assert r.status == 200, r.raw


def until(fn, timeout=20):
    deadline = time.time() + timeout
    while True:
        out = fn()
        if out or time.time() > deadline:
            return out
        time.sleep(0.3)


def test_a_shifted_feature_is_flagged_and_the_window_equals_the_log(ml):
    v = serve(ml, "watch")
    df, rows = records()
    rng = np.random.default_rng(7)
    pick = rng.choice(len(rows), 400, replace=False)
    current = [dict(rows[i]) for i in pick]
    for rec in current:  # the shift: every monthly charge 25 higher
        if rec["monthly_charges"] is not None:
            rec["monthly_charges"] += 25
    send(ml, "watch", current)

    def report():
        r = ml.admin("GET", f"{P}/endpoints/watch/monitoring/drift?window=1h")
        assert r.status == 200, r.raw
        return r.json if r.json["rows"] == 400 else None
    d = until(report)
    assert d, "the window never held the 400 rows"
    assert d["version"] == v and d["reference"].startswith("churn@1")
    by = {f["name"]: f for f in d["features"]}
    assert set(by) == {"plan", "region", *NUMERIC}
    # 600 reference rows: tests at p < 0.05 (KS numeric, chi-square categorical).
    assert by["monthly_charges"]["method"] == "ks" and by["monthly_charges"]["drifted"]
    assert by["plan"]["method"] == "chisquare"
    assert [f for f in by if by[f]["drifted"]] == ["monthly_charges"]
    assert d["drift"]["features_checked"] == 5 and d["drift"]["features_drifted"] == 1
    assert d["drift"]["dataset_drift"] is False
    # The KS statistic from the sketches equals SciPy's on the raw values within the sketches'
    # rank error (each side's KLL is exact below 1,024 values; documented bound 0.03).
    for name in NUMERIC:
        ref = column(df, name)
        cur = np.array([r[name] for r in current if r[name] is not None])
        expect = ks_2samp(ref, cur)
        assert by[name]["stats"]["ks_statistic"] == pytest.approx(expect.statistic, abs=0.03), name
    h = by["monthly_charges"]["histogram"]
    assert len(h["reference"]) == len(h["current"]) == len(h["edges"]) + 1
    assert sum(h["current"][-2:]) > sum(h["reference"][-2:])  # moved to the top bins
    # Prediction drift: the score and the class against the holdout's predictions.
    assert {o["name"] for o in d["outputs"]} == {"score", "class"}

    # The window's counts equal a recomputation from the prediction log.
    log = ml.admin("GET", f"{P}/endpoints/watch/predictions?limit=1000").json["predictions"]
    logged = [row for e in log for row in (e["features"]["instances"] if isinstance(e["features"], dict) else e["features"])]
    assert len(logged) == 400
    q = ml.admin("GET", f"{P}/endpoints/watch/monitoring/quality?window=1h").json
    assert q["rows"] == 400 and q["requests"] == 16
    for f in q["features"]:
        nulls = sum(1 for row in logged if row[f["name"]] is None)
        assert f["nulls"] == nulls and f["count"] == 400 - nulls, f
    mc = next(f for f in q["features"] if f["name"] == "monthly_charges")
    shifted = [row["monthly_charges"] for row in logged if row["monthly_charges"] is not None]
    assert mc["max"] == pytest.approx(max(shifted), rel=1e-6)
    above = sum(1 for x in shifted if x > mc["reference_max"])
    assert mc["out_of_range"] == above > 0
    assert any(x["feature_name"] == "monthly_charges" and x["constraint_check_type"] == "out_of_range"
               for x in q["violations"])

    # A window that holds nothing, and bad windows and versions.
    assert ml.admin("GET", f"{P}/endpoints/watch/monitoring/drift?window=1h&version=99").json["rows"] == 0
    for bad in ("0h", "soon", "100d"):
        r = ml.admin("GET", f"{P}/endpoints/watch/monitoring/drift?window={bad}")
        assert r.status == 400 and "window" in r.error["message"], bad
    r = ml.admin("GET", f"{P}/endpoints/watch/monitoring/drift?version=x")
    assert r.status == 400 and "version" in r.error["message"]
    assert ml.admin("GET", f"{P}/endpoints/nope/monitoring/drift").status == 404


def test_refused_requests_become_quality_violations_and_health_counts_them(ml):
    serve(ml, "dq")
    _, rows = records(40)
    send(ml, "dq", rows[:30], batch=10)
    bad = [
        {"instances": [{**rows[0], "tenure_months": "many"}]},         # type error
        {"instances": [{**rows[1], "plan": "platinum"}]},              # unseen category
        {"instances": [{**rows[2], "coupon": "X1"}]},                  # extra column
        {"instances": [{k: v for k, v in rows[3].items() if k != "region"}]},  # missing column
    ]
    for body in bad:
        r = ml.admin("POST", f"{P}/endpoints/dq/predict", body)
        assert r.status == 400, r.raw

    def quality():
        q = ml.admin("GET", f"{P}/endpoints/dq/monitoring/quality?window=1h").json
        return q if q["refused"] == 4 else None
    q = until(quality)
    assert q, "the refused requests were not counted"
    found = {(v["feature_name"], v["constraint_check_type"]) for v in q["violations"]}
    assert {("tenure_months", "type_error"), ("plan", "unseen_category"),
            ("coupon", "extra_column"), ("region", "missing_column")} <= found
    assert all(v["description"] for v in q["violations"])
    assert len(q["refusal_examples"]) == 4

    def health():
        h = ml.admin("GET", f"{P}/endpoints/dq/monitoring/health?window=1h").json
        return h if h["total"]["requests"] == 7 else None
    h = until(health)
    assert h, "health never counted the 7 requests"
    assert h["total"]["errors"] == 4 and h["total"]["refused"] == 4
    assert h["total"]["availability"] == 1  # refusals are the client's, not the server's
    assert h["step"] == "1m" and h["versions"][0]["points"]
    assert h["total"]["p99_ms"] > 0


def test_monitor_configuration_checks_its_input_and_roles(ml):
    serve(ml, "cfg")
    m = ml.admin("GET", f"{P}/endpoints/cfg/monitoring/monitor")
    assert m.status == 200 and m.json["default"] is True
    assert m.json["config"]["windows"] == ["1h", "24h", "7d", "30d"]
    url = f"{P}/endpoints/cfg/monitoring/monitor"
    cases = [
        ({"features": ["plan", "nope"]}, "features[1]"),
        ({"rules": {"plan": {"threshold": "high"}}}, "rules.plan.threshold"),
        ({"rules": {"plan": {"method": "magic"}}}, "rules.plan.method"),
        ({"rules": {"ghost": {"method": "psi"}}}, "rules.ghost"),
        ({"rules": {"plan": {"method": "ks"}}}, "rules.plan.method"),  # numbers-only method
        ({"windows": ["1h", "forever"]}, "windows[1]"),
        ({"reference": "dataset"}, "dataset"),
        ({"reference": "dataset", "dataset": "missing"}, "missing"),
        ({"drift_share": 2}, "drift_share"),
        ({"colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = ml.admin("PUT", url, body)
        assert r.status in (400, 404) and field in r.error["message"], (body, r.raw)
    assert ml.admin("GET", url).json["default"] is True  # nothing was stored

    viewer = ml.make_user("vic")
    editor = ml.make_user("eddie")
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "vic", "role": "viewer"})
    ml.admin("POST", "/api/v1/projects/ml/members", {"user": "eddie", "role": "editor"})
    good = {"features": ["plan", "monthly_charges"], "rules": {"monthly_charges": {"method": "psi", "threshold": 0.2}}}
    assert ml.request("GET", url, token=viewer).status == 200
    assert ml.request("PUT", url, token=viewer, body=good).status == 403
    r = ml.request("PUT", url, token=editor, body=good)
    assert r.status == 200, r.raw
    assert r.json["default"] is False and r.json["updated_by"] == "eddie"
    audit = ml.admin("GET", "/api/v1/audit?limit=20").json
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "endpoint.monitor.update" for e in entries)

    # The chosen method and watched features are what drift reports.
    _, rows = records(60)
    send(ml, "cfg", rows)
    d = until(lambda: (lambda j: j if j["rows"] == 60 else None)(
        ml.admin("GET", f"{P}/endpoints/cfg/monitoring/drift?window=1h").json))
    assert {f["name"] for f in d["features"]} == {"plan", "monthly_charges"}
    mc = next(f for f in d["features"] if f["name"] == "monthly_charges")
    assert mc["method"] == "psi" and mc["threshold"] == 0.2 and mc["p_value"] is None


def test_kpis_are_posted_checked_and_summed(ml):
    serve(ml, "value")
    url = f"{P}/endpoints/value/monitoring/kpis"
    now_ms = int(time.time() * 1000)
    r = ml.admin("POST", url, {"points": [{"name": "revenue", "value": 120, "time": now_ms - 60000},
                                          {"name": "revenue", "value": -10},
                                          {"name": "saved", "value": 3.5}]})
    assert r.status == 200 and r.json["accepted"] == 3, r.raw
    for body, field in [({"name": "revenue", "value": "lots"}, "value"),
                        ({"name": "revenue", "value": 1, "time": "yesterday"}, "time"),
                        ({"name": "revenue", "value": 1, "time": now_ms + 3 * 86400000}, "time"),
                        ({"points": [{"name": "a", "value": 1}, {"value": 2}]}, "points[1].name"),
                        ({"name": "", "value": 1}, "name")]:
        r = ml.admin("POST", url, body)
        assert r.status == 400 and field in r.error["message"], (body, r.raw)
    k = ml.admin("GET", url + "?window=1h").json
    by = {s["name"]: s for s in k["kpis"]}
    assert by["revenue"]["sum"] == 110 and by["revenue"]["count"] == 2
    assert by["saved"]["sum"] == 3.5


def test_the_fleet_lists_what_needs_attention_first(ml):
    serve(ml, "calm")
    r = ml.admin("POST", f"{P}/endpoints", {"name": "wild", "model": "churn", "targets": [{"version": 1}]})
    assert r.status == 201, r.raw
    _, rows = records()
    send(ml, "calm", rows[:200])
    shifted = [{**x, "monthly_charges": 500.0, "tenure_months": 0.0, "support_calls": 9.0} for x in rows[:200]]
    send(ml, "wild", shifted)

    def fleet():
        f = ml.admin("GET", "/api/v1/monitoring/fleet").json["endpoints"]
        # Request counts reach health with the next flush (every 5 s).
        return f if len(f) == 2 and f[0]["drift"] == "red" and f[1]["health"] != "grey" else None
    f = until(fleet)
    assert f, ml.admin("GET", "/api/v1/monitoring/fleet").raw
    assert f[0]["endpoint"] == "wild" and f[0]["status"] == "red"
    assert "monthly_charges" in f[0]["reason"]
    assert f[1]["endpoint"] == "calm" and f[1]["health"] == "green"
    outsider = ml.make_user("olga")
    assert ml.request("GET", "/api/v1/monitoring/fleet", token=outsider).json["endpoints"] == []
    assert ml.request("GET", "/api/v1/monitoring/fleet").status == 401


def test_kade_monitor_cli(ml, tmpdir_path):
    import json
    import os
    serve(ml, "cli")
    _, rows = records(100)
    send(ml, "cli", [{**x, "support_calls": 7.0} for x in rows])

    def cli(*args):
        return ml.cli("monitor", *args, env={"KADE_PROJECT": "ml"})
    out = until(lambda: (lambda o: o if "DRIFT" in o.stdout else None)(cli("drift", "cli", "-w", "1h")))
    assert out and "support_calls" in out.stdout and "dataset drift" in out.stdout
    assert "multivariate drift: " in out.stdout
    out = cli("trend", "cli", "-w", "1h", "--step", "5m")
    assert out.returncode == 0 and "RECON ERR" in out.stdout and "one point per 5m" in out.stdout, out.stderr
    assert cli("trend", "cli", "--step", "soon").returncode != 0
    out = cli("status")
    assert out.returncode == 0 and "ml/cli" in out.stdout and "VALUE/24H" in out.stdout, out.stderr
    assert cli("quality", "cli").returncode == 0
    out = cli("health", "cli")
    assert out.returncode == 0 and "availability" in out.stdout, out.stderr
    assert cli("kpi", "cli", "--name", "revenue", "--value", "12.5").returncode == 0
    cfg = os.path.join(tmpdir_path, "monitor.json")
    with open(cfg, "w") as f:
        json.dump({"features": ["plan"]}, f)
    out = cli("config", "cli", "--set", cfg)
    assert out.returncode == 0 and '"plan"' in out.stdout, out.stderr
    with open(cfg, "w") as f:
        json.dump({"features": ["nope"]}, f)
    out = cli("config", "cli", "--set", cfg)
    assert out.returncode != 0 and "features[0]" in out.stderr
    out = cli("drift", "cli", "-w", "forever")
    assert out.returncode != 0 and "window" in out.stderr


def test_a_batch_schedule_is_monitored_against_the_training_data(ml):
    import csv
    import io
    from conftest import ADMIN_TOKEN
    from test_training import wait
    v = register(ml, train(ml))
    assert ml.admin("PUT", f"{P}/models/churn/aliases/champion", {"version": v}).status == 200
    # A second snapshot whose monthly charges rose by 60%.
    df, _ = records()
    buf = io.StringIO()
    df = df.copy()
    df["monthly_charges"] = [f"{float(x) * 1.6:.2f}" if x not in ("", "NA") else x for x in df["monthly_charges"]]
    df.to_csv(buf, index=False)
    r = ml.request("POST", f"{P}/datasets/churn/versions", token=ADMIN_TOKEN, raw=buf.getvalue().encode(),
                   headers={"Content-Type": "text/csv"})
    assert r.status == 201, r.raw
    r = ml.admin("POST", f"{P}/batch/schedules", {"name": "nightly", "cron": "0 2 * * *", "timezone": "UTC",
                                                  "spec": {"model": "churn", "dataset": "churn"}})
    assert r.status == 201, r.raw
    r = ml.admin("POST", f"{P}/batch/schedules/nightly/run")
    assert r.status == 201 and wait(ml, r.json["id"])["status"] == "succeeded"
    m = ml.admin("GET", f"{P}/batch/schedules/nightly/monitoring")
    assert m.status == 200, m.raw
    (run,) = m.json["runs"]
    assert run["input"] == "churn@2" and run["reference"] == "churn@1" and run["rows"] == 600
    assert run["drift"]["drifted"] == ["monthly_charges"], run
    fleet = ml.admin("GET", "/api/v1/monitoring/fleet").json["endpoints"]
    (b,) = [f for f in fleet if f["kind"] == "batch"]
    assert b["endpoint"] == "nightly" and b["drift"] == "amber" and "monthly_charges" in b["reason"]
    assert ml.admin("GET", f"{P}/batch/schedules/nope/monitoring").status == 404


def _pca_error(ref_df, current):
    """NannyML's data reconstruction, recomputed with scikit-learn: categories frequency-encoded
    (a missing one as the most frequent's share), numeric gaps the reference mean, standardised,
    PCA keeping 65 % of the variance; the per-row Euclidean reconstruction error."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    n = len(ref_df)
    share, mean = {}, {}
    for f in ["plan", "region"]:
        counts = {}
        for v in ref_df[f]:
            if v not in ("", "NA"):
                counts[v] = counts.get(v, 0) + 1
        share[f] = {k: c / n for k, c in counts.items()}
    for f in NUMERIC:
        mean[f] = column(ref_df, f).mean()

    def encode(rows):
        out = []
        for r in rows:
            x = []
            for f in ["plan", "tenure_months", "monthly_charges", "support_calls", "region"]:
                v = r[f]
                if f in share:
                    x.append(share[f].get(v, 0) if v is not None else max(share[f].values()))
                else:
                    x.append(mean[f] if v is None else v)
            out.append(x)
        return np.array(out, dtype=np.float64)

    ref_rows = [{f: (None if v in ("", "NA") else (v if f in share else float(v)))
                 for f, v in row.items()} for row in ref_df.to_dict("records")]
    scaler = StandardScaler().fit(encode(ref_rows))
    z_ref = scaler.transform(encode(ref_rows))
    pca = PCA(n_components=0.65, svd_solver="full").fit(z_ref)

    def errors(z):
        return np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    return errors(z_ref), errors(scaler.transform(encode(current))), pca.n_components_


def test_multivariate_drift_equals_scikit_learn_and_flags_broken_structure(ml):
    serve(ml, "mv")
    df, rows = records()
    ref_df = df[["plan", "tenure_months", "monthly_charges", "support_calls", "region"]]
    same = [dict(r) for r in rows[:300]]
    send(ml, "mv", same)

    def report(n):
        def get():
            r = ml.admin("GET", f"{P}/endpoints/mv/monitoring/drift?window=1h")
            assert r.status == 200, r.raw
            return r.json if r.json["rows"] == n else None
        return get
    d = until(report(300))
    assert d, "the window never held the 300 rows"
    mv = d["multivariate"]
    ref_err, cur_err, kept = _pca_error(ref_df, same)
    assert mv["available"] and mv["method"] == "pca_reconstruction"
    assert mv["components"] == kept and mv["features"] == 5 and mv["rows"] == 300
    # Inputs travel as float32: equal to scikit-learn to 1e-5 relative.
    assert mv["error"] == pytest.approx(cur_err.mean(), rel=1e-5)
    assert mv["reference_error"] == pytest.approx(ref_err.mean(), rel=1e-5)
    # The band: ten chunks of a tenth of the (whole, 600-row) reference sample, mean ± 3 std.
    assert mv["chunk_rows"] == 60 and mv["chunks"] == 10
    means = ref_err[:600].reshape(10, 60).mean(axis=1)
    assert mv["upper"] == pytest.approx(means.mean() + 3 * means.std(), rel=1e-5)
    assert mv["lower"] == pytest.approx(means.mean() - 3 * means.std(), rel=1e-5)
    assert mv["drifted"] is False  # the reference's own rows

    # Structure broken on purpose: charges follow tenure backwards and calls jump.
    broken = []
    for i, r in enumerate(rows[300:600]):
        b = dict(r)
        if b["tenure_months"] is not None:
            b["monthly_charges"] = 150 - b["tenure_months"] * 2
            b["support_calls"] = (b["tenure_months"] % 7) * 3
        broken.append(b)
    send(ml, "mv", broken)
    d = until(report(600))
    assert d
    mv = d["multivariate"]
    _, cur_err, _ = _pca_error(ref_df, same + broken)
    assert mv["error"] == pytest.approx(cur_err.mean(), rel=1e-5)
    assert mv["drifted"] is True and mv["error"] > mv["upper"]
    # Alertable and on /metrics.
    r = ml.admin("POST", f"{P}/alerts/rules", {"name": "mv-structure", "endpoint": "mv",
                                               "metric": "multivariate_drift", "comparator": ">=",
                                               "threshold": 1, "window": "1h"})
    assert r.status == 201, r.raw
    assert ml.admin("DELETE", f"{P}/alerts/rules/mv-structure").status in (200, 204)


def test_value_per_outcome_and_trends_from_ground_truth(ml):
    serve(ml, "val")
    df, rows = records(90)
    truth = df["churned"].tolist()
    outcomes = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for i, row in enumerate(rows):
        r = ml.admin("POST", f"{P}/endpoints/val/predict", {"instances": [row]},
                     headers={"X-Request-Id": f"val-{i:03d}"})
        assert r.status == 200, r.raw
        if i % 3 != 2:
            pos = r.json["probabilities"][0][1] >= 0.5
            truth_pos = str(truth[i]) == r.json["classes"][1]
            outcomes[("tp" if truth_pos else "fp") if pos else ("fn" if truth_pos else "tn")] += 1
    items = [{"request_id": f"val-{i:03d}", "label": str(truth[i])} for i in range(90) if i % 3 != 2]
    assert ml.admin("POST", f"{P}/endpoints/val/feedback", {"items": items}).status == 200

    mon = f"{P}/endpoints/val/monitoring/monitor"
    for value, field in [({"tp": "x"}, "value.tp"), ({"bonus": 1}, "value.bonus"),
                         ({"tp": 1, "correct": 2}, "value"), ({}, "value"),
                         ({"name": "", "tp": 1}, "value.name"), ("cash", "value"),
                         ({"correct": 1}, "binary classifier")]:
        r = ml.admin("PUT", mon, {"value": value})
        assert r.status == 400 and field in r.error["message"], (value, r.raw)
    value = {"name": "margin", "tp": 120, "fp": -10, "tn": 0, "fn": -50}
    r = ml.admin("PUT", mon, {"value": value})
    assert r.status == 200 and r.json["config"]["value"] == value, r.raw

    k = ml.admin("GET", f"{P}/endpoints/val/monitoring/kpis?window=1h").json["kpis"]
    (margin,) = [s for s in k if s["name"] == "margin"]
    assert margin["source"] == "ground_truth" and margin["outcomes"] == outcomes
    expect = 120 * outcomes["tp"] - 10 * outcomes["fp"] - 50 * outcomes["fn"]
    assert margin["sum"] == pytest.approx(expect) and margin["count"] == 60

    def trend():
        t = ml.admin("GET", f"{P}/endpoints/val/monitoring/trend?window=1h&step=5m")
        assert t.status == 200, t.raw
        return t.json if sum(p["rows"] for p in t.json["points"]) == 90 else None
    t = until(trend)
    assert t and t["step"] == "5m" and t["value_name"] == "margin"
    assert 12 <= len(t["points"]) <= 13
    assert sum(p["labelled"] for p in t["points"]) == 60
    assert sum(p["predictions"] for p in t["points"]) == 90
    assert sum(p["value"] or 0 for p in t["points"]) == pytest.approx(expect)
    busy = [p for p in t["points"] if p["rows"]]
    assert all(p["features_checked"] == 5 and p["estimated_auc"] is not None for p in busy)
    assert all(p["reconstruction_error"] is not None for p in busy)
    for bad, field in [("step=soon", "step"), ("window=30d&step=1m", "step"), ("window=x", "window")]:
        r = ml.admin("GET", f"{P}/endpoints/val/monitoring/trend?{bad}")
        assert r.status == 400 and field in r.error["message"], (bad, r.raw)
    # Viewers read trends; the value model is an editor's change (checked with the monitor).
    r = ml.admin("PUT", mon, {"value": None})
    assert r.status == 200 and "value" not in r.json["config"]
