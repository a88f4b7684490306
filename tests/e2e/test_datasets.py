"""The dataset catalog end to end: versions, profiles cross-checked against pandas, pinned
schemas, quality checks, search, diff, preview, download, lineage, and bad input."""
import gzip
import hashlib
import io
import json
import os
import sqlite3
import zlib

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

CHURN = os.path.join(ROOT, "tests", "data", "churn.csv")
B = "/api/v1/projects/cat/datasets"


def push(server, name, data, query="", token=None):
    from conftest import ADMIN_TOKEN
    return server.request("POST", f"{B}/{name}/versions{query}", token=token or ADMIN_TOKEN, raw=data)


def state(server):
    """What a failed upload must leave untouched: rows and blobs."""
    db = sqlite3.connect(os.path.join(server.data_dir, "kade.db"))
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ["datasets", "dataset_versions"]}
    db.close()
    blobs = sum(len(f) for _, _, f in os.walk(os.path.join(server.data_dir, "artifacts", "blobs")))
    tmp = os.listdir(os.path.join(server.data_dir, "artifacts", "tmp"))
    return counts, blobs, tmp


@pytest.fixture
def cat(server):
    assert server.admin("POST", "/api/v1/projects", {"name": "cat"}).status == 201
    return server


def test_push_versions_and_dedupe(cat):
    data = open(CHURN, "rb").read()
    r = push(cat, "churn", data, "?filename=churn.csv&target=churned")
    assert r.status == 201, r.raw
    v = r.json
    assert v["ref"] == "churn@1" and v["created"] is True
    assert v["rows"] == 600 and v["columns"] == 8
    assert v["sha256"] == hashlib.sha256(data).hexdigest()
    types = {c["name"]: c["type"] for c in v["schema"]}
    assert types == {"customer_id": "string", "signup_date": "timestamp", "plan": "categorical",
                     "tenure_months": "int64", "monthly_charges": "float64", "support_calls": "int64",
                     "region": "categorical", "churned": "bool"}
    # The same bytes again: the existing version, not a new one.
    again = push(cat, "churn", data)
    assert again.status == 200 and again.json["version"] == 1 and again.json["created"] is False
    # Different bytes (gzip-compressed, one row fewer): version 2.
    smaller = b"\n".join(data.splitlines()[:-1]) + b"\n"
    r2 = push(cat, "churn", gzip.compress(smaller), "?filename=churn.csv.gz")
    assert r2.status == 201 and r2.json["version"] == 2 and r2.json["compression"] == "gzip"
    assert r2.json["rows"] == 599
    # Addressable by number, latest, and hash.
    assert cat.admin("GET", f"{B}/churn/versions/latest").json["version"] == 2
    assert cat.admin("GET", f"{B}/churn/versions/sha256:{v['sha256']}").json["version"] == 1
    assert cat.admin("GET", f"{B}/churn/versions/{v['sha256']}").json["version"] == 1
    assert cat.admin("GET", f"{B}/churn/versions/9").status == 404
    assert cat.admin("GET", f"{B}/churn/versions/abc").status == 400
    d = cat.admin("GET", f"{B}/churn").json
    assert [x["version"] for x in d["versions"]] == [2, 1]
    assert d["roles"]["target"] == "churned"
    # Download gives back the exact original bytes.
    assert cat.admin("GET", f"{B}/churn/versions/1/download").raw == data


def test_profile_matches_pandas(cat):
    assert push(cat, "churn", open(CHURN, "rb").read(), "?target=churned").status == 201
    p = cat.admin("GET", f"{B}/churn/versions/1/profile").json
    df = pd.read_csv(CHURN, keep_default_na=True)
    cols = {c["name"]: c for c in p["columns"]}
    assert p["rows"] == len(df)
    for name in ["tenure_months", "monthly_charges", "support_calls"]:
        s = df[name]
        c = cols[name]
        assert c["count"] == len(s) and c["nulls"] == int(s.isna().sum())
        assert c["min"] == pytest.approx(s.min()) and c["max"] == pytest.approx(s.max())
        assert c["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert c["std"] == pytest.approx(s.std(ddof=1), rel=1e-9)
        for q in [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]:
            assert c["quantiles"][f"p{q * 100:g}"] == pytest.approx(np.quantile(s, q), rel=1e-12), (name, q)
        assert c["distinct"] == s.nunique()
        counts, edges = np.histogram(s, bins=20, range=(s.min(), s.max()))
        assert c["histogram"]["counts"] == counts.tolist()
        assert c["histogram"]["edges"] == pytest.approx(edges.tolist())
    # Categorical: top values and null count ("" is a null token, like pandas' default).
    region = df["region"]
    assert cols["region"]["nulls"] == int(region.isna().sum())
    top = {t["value"]: t["count"] for t in cols["region"]["top"]}
    assert top == region.value_counts().to_dict()
    plan_top = cols["plan"]["top"][0]
    assert plan_top["value"] == df["plan"].value_counts().idxmax()
    # Pearson correlations between numeric columns and with the (bool) target.
    corr = df[["tenure_months", "monthly_charges", "support_calls"]].corr()
    names = p["correlations"]["columns"]
    m = p["correlations"]["matrix"]
    for a in corr.columns:
        for b in corr.columns:
            assert m[names.index(a)][names.index(b)] == pytest.approx(corr.loc[a, b], abs=1e-9)
    target = df["churned"].astype(float)
    for name in ["tenure_months", "support_calls"]:
        assert p["target_correlations"][name] == pytest.approx(df[name].corr(target), abs=1e-9)
    assert cols["churned"]["true_count"] == int(df["churned"].sum())
    assert cols["signup_date"]["min"].startswith("2024-01-01")


def test_pinned_schema_rejects_violations_and_stores_nothing(cat):
    schema = {"id": "int64", "age": "int64", "plan": "categorical"}
    r = cat.admin("POST", B, {"name": "people", "schema": schema})
    assert r.status == 201, r.raw
    assert push(cat, "people", b"id,age,plan\n1,41,pro\n2,35,free\n").status == 201
    before = state(cat)
    r = push(cat, "people", b"id,age,plan\n1,41,pro\n2,thirty,free\n")
    assert r.status == 400
    assert r.error["message"] == "line 3: column 'age' is pinned as int64 but has the value 'thirty'"
    r = push(cat, "people", b"id,plan\n1,pro\n")
    assert r.status == 400 and "column 'age' of the pinned schema is missing" in r.error["message"]
    assert state(cat) == before
    bad = cat.admin("PATCH", f"{B}/people", {"schema": {"age": "integer"}})
    assert bad.status == 400 and "unknown type 'integer'" in bad.error["message"]


BAD_INPUTS = [
    ("unterminated quote", b'a,b\n1,"open\n2,3\n', "quote opened at line 2, column 3 is never closed"),
    ("ragged row", b"a,b\n1,2\n3\n", "line 3 has 1 fields but the header has 2"),
    ("invalid UTF-8", b"a,b\n1,caf\xe9\n", "line 2, column 6: invalid UTF-8 byte 0xe9"),
    ("binary", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00", "looks binary"),
    ("duplicate header", b"a,b,a\n1,2,3\n", "duplicate column 'a' (columns 1 and 3)"),
    ("empty header name", b"a,,c\n1,2,3\n", "header column 2 has an empty name"),
    ("empty file", b"", "empty (0 bytes)"),
    ("bad jsonl", b'{"a": 1}\n{"a": 2,}\n', "line 2, column"),
    ("corrupt gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip data is"),
]


@pytest.mark.parametrize("label,data,expect", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_4xx_and_stores_nothing(cat, label, data, expect):
    assert push(cat, "good", b"a,b\n1,2\n").status == 201
    before = state(cat)
    for name in ["good", "fresh"]:  # an existing dataset and a new one
        r = push(cat, name, data)
        assert r.status == 400, (label, r.raw)
        assert expect in r.error["message"], (label, r.error["message"])
    assert state(cat) == before
    assert cat.admin("GET", f"{B}/fresh").status == 404


def test_over_limit_and_gzip_bomb(make_server):
    s = make_server(extra_env={"KADE_MAX_UPLOAD": "200000", "KADE_MAX_DECOMPRESSED": "1000000"}).start()
    s.admin("POST", "/api/v1/projects", {"name": "cat"})
    before = state(s)
    big = b"a,b\n" + b"1,2\n" * 100000
    r = push(s, "big", big)
    assert r.status == 413 and "exceeds the limit of 200000 bytes" in r.error["message"]
    bomb = gzip.compress(b"a\n" + b"0" * (50 << 20))
    assert len(bomb) < 200000
    r = push(s, "bomb", bomb)
    assert r.status == 413, r.raw
    assert "compression bomb" in r.error["message"]
    assert state(s) == before


def test_viewer_cannot_push(cat):
    t = cat.make_user("vic")
    cat.admin("POST", "/api/v1/projects/cat/members", {"user": "vic", "role": "viewer"})
    r = push(cat, "x", b"a\n1\n", token=t)
    assert r.status == 403
    assert cat.request("GET", B, token=t).status == 200


def test_quality_checks_flag_and_guard_usage(cat):
    checks = [
        {"check": "not_null", "column": "region"},
        {"check": "unique", "column": "customer_id"},
        {"check": "range", "column": "tenure_months", "min": 0, "max": 120},
        {"check": "allowed_values", "column": "plan", "values": ["free", "basic", "pro", "enterprise"]},
        {"check": "regex", "column": "customer_id", "pattern": "C[0-9]{5}"},
        {"check": "row_count", "min": 100},
        {"check": "max_null_fraction", "column": "region", "value": 0.2, "severity": "warning"},
        {"check": "schema_compatible"},
    ]
    r = cat.admin("POST", B, {"name": "churn", "checks": checks, "target": "churned"})
    assert r.status == 201, r.raw
    v = push(cat, "churn", open(CHURN, "rb").read()).json
    assert v["quality_status"] == "failed"  # region has empty values: not_null is blocking
    results = {(c["check"], c.get("column")): c for c in v["quality"]["checks"]}
    nn = results[("not_null", "region")]
    assert nn["passed"] is False and nn["first_failing_line"] > 1 and nn["failing_rows"] > 0
    assert all(c["passed"] for k, c in results.items() if k != ("not_null", "region"))
    # Using a failed version is refused unless forced, and forcing is audited.
    r = cat.admin("POST", f"{B}/churn/versions/1/usages", {"kind": "training-run", "ref": "run-1"})
    assert r.status == 409 and "failed a blocking quality check" in r.error["message"]
    r = cat.admin("POST", f"{B}/churn/versions/1/usages", {"kind": "training-run", "ref": "run-1", "force": True})
    assert r.status == 201
    audit = cat.admin("GET", "/api/v1/audit?action=dataset.version.use_forced").json["entries"]
    assert len(audit) == 1 and audit[0]["detail"]["forced_past_failed_quality"] is True
    lineage = cat.admin("GET", f"{B}/churn/versions/1/lineage").json
    assert lineage["source"]["kind"] == "upload" and lineage["source"]["by"] == "admin"
    assert lineage["used_by"][0]["ref"] == "run-1" and lineage["used_by"][0]["forced"] is True
    # CLI check exits 1 on a failed version.
    out = cat.cli("data", "-p", "cat", "check", "churn@1")
    assert out.returncode == 1 and "FAIL" in out.stdout
    # A dropped column breaks schema compatibility.
    df = pd.read_csv(CHURN, dtype=str, keep_default_na=False).drop(columns=["support_calls"])
    v2 = push(cat, "churn", df.to_csv(index=False).encode()).json
    sc = next(c for c in v2["quality"]["checks"] if c["check"] == "schema_compatible")
    assert sc["passed"] is False and "support_calls" in sc["message"]


def test_invalid_checks_are_rejected(cat):
    for checks, expect in [
        ([{"check": "sparkles", "column": "a"}], "unknown check 'sparkles'"),
        ([{"check": "not_null"}], "needs a column"),
        ([{"check": "regex", "column": "a", "pattern": "(unclosed"}], "invalid regular expression"),
        ([{"check": "range", "column": "a"}], "needs 'min' or 'max'"),
        ({"check": "not_null"}, "must be a JSON array"),
    ]:
        r = cat.admin("POST", B, {"name": "q", "checks": checks})
        assert r.status == 400 and expect in r.error["message"], (checks, r.raw)


def test_search_preview_diff(cat):
    cat.admin("POST", B, {"name": "churn", "description": "Subscriber churn", "tags": ["retention"]})
    push(cat, "churn", open(CHURN, "rb").read())
    push(cat, "sales", b"order_id,amount\n1,9.5\n2,3.0\n")
    names = lambda q: [d["name"] for d in cat.admin("GET", f"{B}?q={q}").json["datasets"]]
    assert names("retention") == ["churn"]
    assert names("tenure") == ["churn"]  # column name
    assert names("amou") == ["sales"]  # prefix
    assert names("subscr") == ["churn"]
    assert names('%22%29%28') == []  # hostile FTS syntax is escaped, not an error
    pv = cat.admin("GET", f"{B}/churn/versions/1/preview?offset=2&limit=3&columns=customer_id,plan").json
    assert pv["columns"] == ["customer_id", "plan"]
    assert [r[0] for r in pv["rows"]] == ["C00002", "C00003", "C00004"]
    assert cat.admin("GET", f"{B}/churn/versions/1/preview?columns=nope").status == 400
    assert cat.admin("GET", f"{B}/churn/versions/1/preview?limit=5000").status == 400
    # Version 2: one column dropped, one added, charges shifted up.
    df = pd.read_csv(CHURN, dtype=str, keep_default_na=False)
    df = df.drop(columns=["region"])
    df["monthly_charges"] = (df["monthly_charges"].astype(float) + 40).round(2).astype(str)
    df["referral"] = "no"
    push(cat, "churn", df.to_csv(index=False).encode())
    d = cat.admin("GET", f"{B}/churn/diff?from=1&to=2").json
    assert [c["name"] for c in d["schema"]["removed"]] == ["region"]
    assert [c["name"] for c in d["schema"]["added"]] == ["referral"]
    cols = {c["name"]: c for c in d["columns"]}
    assert cols["monthly_charges"]["shifted"] is True
    assert cols["tenure_months"]["shifted"] is False
    assert cols["tenure_months"]["ks_statistic"] == pytest.approx(0, abs=1e-9)
    # Drift statistics from the stored profiles agree with SciPy on the raw columns (the
    # sketches are exact at this size), and the decision follows Evidently's defaults.
    import numpy as np
    from scipy import special, stats
    v1 = pd.read_csv(CHURN)
    for name, cur in (("monthly_charges", v1["monthly_charges"] + 40), ("tenure_months", v1["tenure_months"])):
        ref = v1[name].dropna().to_numpy()
        cur = cur.dropna().to_numpy()
        dr = cols[name]["drift"]
        ks = stats.ks_2samp(ref, cur)
        assert dr["ks_statistic"] == pytest.approx(ks.statistic, abs=1e-9), name
        n, m = len(ref), len(cur)
        assert dr["ks_p_value"] == pytest.approx(special.kolmogorov(np.sqrt(n * m / (n + m)) * ks.statistic), abs=1e-9)
        assert dr["wasserstein_normed"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-6)
        assert dr["method"] == "ks" and dr["threshold"] == 0.05
    assert cols["monthly_charges"]["drift"]["drifted"] and not cols["tenure_months"]["drift"]["drifted"]
    plan = cols["plan"]["drift"]
    assert plan["method"] == "chisquare" and plan["chisquare_p_value"] == pytest.approx(1.0) and not plan["drifted"]
    assert d["drift"]["columns_checked"] >= 4 and d["drift"]["columns_drifted"] == 1
    assert d["drift"]["dataset_drift"] is False


def test_cli_push_show_profile_download(cat, tmpdir_path):
    schema = os.path.join(tmpdir_path, "schema.json")
    json.dump({"customer_id": "string", "signup_date": "timestamp", "plan": "categorical",
               "tenure_months": "int64", "monthly_charges": "float64", "support_calls": "int64",
               "region": "categorical", "churned": "bool"}, open(schema, "w"))
    out = cat.cli("data", "-p", "cat", "push", CHURN, "--dataset", "churn", "--target", "churned", "--schema", schema)
    assert out.returncode == 0, out.stderr
    assert "Created churn@1: 600 rows, 8 columns" in out.stdout
    out = cat.cli("data", "-p", "cat", "push", CHURN, "--dataset", "churn")
    assert "Unchanged: identical to churn@1" in out.stdout
    assert "churn" in cat.cli("data", "-p", "cat", "ls").stdout
    show = cat.cli("data", "-p", "cat", "show", "churn@1").stdout
    assert "monthly_charges" in show and "float64" in show
    prof = cat.cli("data", "-p", "cat", "profile", "churn").stdout
    assert "tenure_months" in prof and "int64" in prof
    dest = os.path.join(tmpdir_path, "back.csv")
    assert cat.cli("data", "-p", "cat", "download", "churn@1", "-o", dest).returncode == 0
    assert open(dest, "rb").read() == open(CHURN, "rb").read()
    bad = os.path.join(tmpdir_path, "bad.csv")
    open(bad, "wb").write(b"a,b\n1\n")
    out = cat.cli("data", "-p", "cat", "push", bad, "--dataset", "other")
    assert out.returncode == 1 and "line 2 has 1 fields" in out.stderr
    out = cat.cli("data", "push", CHURN, "--dataset", "x", env={"KADE_PROJECT": ""})
    assert out.returncode == 1 and "--project" in out.stderr


def test_jsonl_and_tsv(cat):
    rows = [{"id": i, "score": i / 10, "tag": "a" if i % 2 else "b", "extra": None} for i in range(50)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    r = push(cat, "events", data, "?filename=events.jsonl")
    assert r.status == 201 and r.json["format"] == "jsonl" and r.json["rows"] == 50
    r = push(cat, "tab", b"x\ty\n1\t2\n3\t4\n", "?filename=t.tsv")
    assert r.status == 201 and r.json["format"] == "tsv" and r.json["columns"] == 2
