#!/usr/bin/env bash
# Experiment-tracking benchmark (issue #4) on loopback: single log-metric calls with 8
# keep-alive clients, log-batch with 1,000 metrics per call, and runs/search returning 1,000
# of 10,000 runs (10 params and 10 metrics each). MLflow cannot be installed here (no PyPI),
# so its figures are the ones quoted in the issue for an MLflow 2.10 server (SQLite, 4
# gunicorn workers) on this kind of machine.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-8}"
RUNS="${RUNS:-10000}"
KADE="${KADE:-build/release/kade}"
work=$(mktemp -d)
cleanup() { kill "$kade_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG="$work/access.log" \
  KADE_LOG_LEVEL=warn "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$work/port")"
API="/projects/bench/api/2.0/mlflow"
auth=(-H "Authorization: Bearer $TOKEN")
curl -sf "${auth[@]}" -X POST -d '{"name":"bench"}' "$URL/api/v1/projects" >/dev/null
new_exp() { curl -sf "${auth[@]}" -X POST -d "{\"name\":\"$1\"}" "$URL$API/experiments/create" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["experiment_id"])'; }
new_run() { curl -sf "${auth[@]}" -X POST -d "{\"experiment_id\":\"$1\"}" "$URL$API/runs/create" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["run"]["info"]["run_id"])'; }
e1=$(new_exp single); r1=$(new_run "$e1"); r2=$(new_run "$e1")

single=$(RUN_ID=$r1 API_PATH=$API/runs/log-metric TOKEN=$TOKEN wrk -t2 -c8 -d"${DURATION}s" --latency -s bench/log_metric.lua "$URL")
s_rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$single")
s_p99=$(awk '$1=="99%" {print $2}' <<<"$single")
batch=$(RUN_ID=$r2 API_PATH=$API/runs/log-batch TOKEN=$TOKEN wrk -t2 -c8 -d"${DURATION}s" -s bench/log_batch.lua "$URL")
b_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$batch")
b_pts=$(awk -v r="$b_rps" 'BEGIN{printf "%.0f", r*1000}')
e2=$(new_exp search)
read -r created search_ms parse_ms < <(/usr/bin/python3 bench/tracking_setup.py "$URL$API" "$TOKEN" "$e2" "$RUNS")
verify=$(curl -sf "${auth[@]}" "$URL/api/v1/audit/verify" | /usr/bin/python3 -c 'import json,sys;d=json.load(sys.stdin);print("ok" if d["ok"] else "BROKEN", d["entries"])')

mkdir -p bench/results
report="bench/results/tracking-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Experiment tracking — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, wrk ${DURATION}s, SQLite synchronous=FULL, audit on"
  echo
  printf "%-52s %14s %24s\n" "" "kade" "MLflow 2.10 (issue)"
  printf "%-52s %14s %24s\n" "log-metric, 8 keep-alive clients (calls/s)" "$s_rps" "~40"
  printf "%-52s %14s\n" "  p99 latency" "$s_p99"
  printf "%-52s %14s %24s\n" "log-batch, 1,000 metrics per call (points/s)" "$b_pts" "~7,000"
  printf "%-52s %14s %24s\n" "runs/search, 1,000 of ${RUNS} runs (ms, median of 5)" "$search_ms" "1,700"
  printf "%-52s %14s\n" "  + Python json.loads of the answer (client side)" "$parse_ms"
  echo
  echo "setup: ${RUNS} runs with 10 params + 10 metrics created in ${created} s; audit chain after the run: ${verify}"
  echo "targets (issue #4): log-metric >= 10,000/s, log-batch >= 500,000 points/s, search < 50 ms"
} | tee "$report"
