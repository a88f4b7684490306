"""Creates N runs with 10 params and 10 metrics each (8 threads), then times runs/search
returning 1,000 of them (median of 5). Prints: seconds_to_create search_ms_median client_parse_ms_median."""
import json
import statistics
import sys
import threading
import time
import urllib.request

base, token, eid, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def call(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def worker(start, step):
    for i in range(start, n, step):
        rid = call("/runs/create", {"experiment_id": eid, "run_name": f"run{i}"})["run"]["info"]["run_id"]
        call("/runs/log-batch", {"run_id": rid,
                                 "params": [{"key": f"p{k}", "value": str((i + k) % 7)} for k in range(10)],
                                 "metrics": [{"key": f"m{k}", "value": (i * 31 + k) % 1000 / 1000, "timestamp": 1}
                                             for k in range(10)]})


t0 = time.time()
threads = [threading.Thread(target=worker, args=(t, 8)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
created = time.time() - t0
# Round trip (request sent to last byte received) and, separately, Python's json.loads of
# the ~1.2 MB answer, which is the client's cost, not the server's.
times, parse = [], []
body = json.dumps({"experiment_ids": [eid], "max_results": 1000, "filter": "metrics.m3 > 0.1",
                   "order_by": ["metrics.m1 DESC"]}).encode()
for _ in range(5):
    req = urllib.request.Request(base + "/runs/search", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    t1 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
    t2 = time.perf_counter()
    r = json.loads(raw)
    t3 = time.perf_counter()
    times.append((t2 - t1) * 1000)
    parse.append((t3 - t2) * 1000)
    assert len(r["runs"]) == 1000, len(r["runs"])
print(f"{created:.1f} {statistics.median(times):.0f} {statistics.median(parse):.0f}")
