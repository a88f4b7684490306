#!/usr/bin/env bash
# Training benchmark (issue #5). (1) A ROWS x 50 synthetic binary task (fixed seed), 100
# trees of depth 6, hist, 2 threads: the time from submitting a Kade job on an already
# registered dataset version until its model is stored, next to XGBoost's C API called
# directly on the same CSV (bench/xgb_direct.cc: its own read of the file, then training).
# (2) A search of 8 trials on SEARCH_ROWS rows, 2 at a time: wall time against the sum of
# the trials' own times (both cores busy: wall well under the sum).
# Usage: make bench-training   (ROWS=1000000 SEARCH_ROWS=100000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
SEARCH_ROWS="${SEARCH_ROWS:-100000}"
KADE=build/release/kade
work=$(mktemp -d)
cleanup() { kill "$kade_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "generating ${ROWS} x 50 binary task and a ${SEARCH_ROWS}-row one (seed 20261122)..."
/usr/bin/python3 bench/gen_binary_csv.py "$ROWS" 50 "$work/train.csv"
/usr/bin/python3 bench/gen_binary_csv.py "$SEARCH_ROWS" 50 "$work/search.csv"
g++ -O2 -std=c++17 bench/xgb_direct.cc -lxgboost -o "$work/xgb_direct"

TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG=off \
  KADE_LOG_LEVEL=warn KADE_JOB_THREADS=2 "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
export KADE_URL="http://127.0.0.1:$(cat "$work/port")" KADE_TOKEN="$TOKEN" KADE_PROJECT=bench
"$KADE" projects create bench >/dev/null
"$KADE" data push "$work/train.csv" --dataset task >/dev/null
"$KADE" data push "$work/search.csv" --dataset small >/dev/null

# Direct C API (in the same run, before Kade's job, on the idle machine).
read -r _ d_load _ d_train _ < <("$work/xgb_direct" "$work/train.csv" "$work/direct.json" 2)
d_total=$(awk -v a="$d_load" -v b="$d_train" 'BEGIN{printf "%.2f", a+b}')

# Kade: submit, then poll until the job ended; the job's own log gives its phases.
# Polls once a second (a tighter loop of curl and python would take CPU from the job); the
# job's own timestamps give the time from submission to the stored model.
job_wait() {
  local id=$1
  while :; do
    st=$(curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/api/v1/projects/bench/jobs/$id" |
      grep -o '"status":"[a-z]*"' | cut -d'"' -f4)
    [ "$st" = queued ] || [ "$st" = running ] || break
    sleep 1
  done
  echo "$st"
}
job_seconds() {
  curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/api/v1/projects/bench/jobs/$1" |
    /usr/bin/python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print("%.2f" % (t(j["finished_at"]) - t(j["created_at"])))'
}
spec='{"dataset":"task","target":"y","num_rounds":100,"early_stopping_rounds":0,"holdout":0.05,"params":{"max_depth":6,"eta":0.3}}'
id=$(curl -sf -H "Authorization: Bearer $TOKEN" -X POST -d "$spec" "$KADE_URL/api/v1/projects/bench/jobs/train" |
  /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
status=$(job_wait "$id")
k_total=$(job_seconds "$id")
phases=$(curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/api/v1/projects/bench/jobs/$id/logs" |
  /usr/bin/python3 -c '
import json, sys, datetime
lines = json.load(sys.stdin)["lines"]
t = lambda l: datetime.datetime.fromisoformat(l["time"].replace("Z", "+00:00")).timestamp()
get = lambda word: next(t(l) for l in lines if word in l["line"])
print("%.2f %.2f" % (get("loaded") - get("started"), get("trained") - get("held out")))')
read -r k_load k_train <<<"$phases"

# Search: 8 trials (grid 4 x 2) on the small task, 2 at a time.
sspec='{"dataset":"small","target":"y","num_rounds":100,"early_stopping_rounds":0,"params":{"eta":0.3},"search":{"strategy":"grid","space":"max_depth=3,4,5,6;min_child_weight=1,5","parallel":2}}'
sid=$(curl -sf -H "Authorization: Bearer $TOKEN" -X POST -d "$sspec" "$KADE_URL/api/v1/projects/bench/jobs/train" |
  /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
s_status=$(job_wait "$sid")
s_wall=$(job_seconds "$sid")
# Sum of the trials' own wall times, as the job measured them.
s_sum=$(curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/api/v1/projects/bench/jobs/$sid" |
  /usr/bin/python3 -c 'import json,sys;print("%.2f" % json.load(sys.stdin)["result"]["trial_seconds"])')

mkdir -p bench/results
report="bench/results/training-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Training — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, XGBoost $(/usr/bin/python3 -c 'import xgboost;print(xgboost.__version__)')"
  echo "task: ${ROWS} rows x 50 features, binary; 100 trees, depth 6, hist, 2 threads"
  echo
  printf "%-58s %10s %10s %10s\n" "" "load s" "train s" "total s"
  printf "%-58s %10s %10s %10s\n" "XGBoost C API directly (own CSV read, dense matrix)" "$d_load" "$d_train" "$d_total"
  printf "%-58s %10s %10s %10s\n" "kade job: submit -> model stored ($status)" "$k_load" "$k_train" "$k_total"
  echo "kade / direct: $(awk -v a="$k_total" -v b="$d_total" 'BEGIN{printf "%.2f", a/b}') (target <= 1.10)"
  echo
  echo "search: 8 trials x 100 trees on ${SEARCH_ROWS} rows, 2 at a time ($s_status):"
  echo "  wall ${s_wall} s, sum of trial times ${s_sum} s, ratio $(awk -v a="$s_sum" -v b="$s_wall" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') (2 cores busy: ~2)"
} | tee "$report"
