#!/usr/bin/env bash
# Serving benchmark (issue #6), Kade and its peers measured in the same run on the same model
# (100 trees of depth 6, 50 numeric features, trained here by python3-xgboost):
#  1. the native tree engine against XGBoost's in-place predict through the C API, one row
#     and 100,000-row batches on one thread (Google Benchmark: build/release/kade_bench_tree);
#  2. an endpoint over loopback with wrk, 32 connections, one row per request: Kade's
#     predict route (token check, signature validation, prediction log on) against FastAPI +
#     uvicorn + python-xgboost (bench/peer_fastapi.py, one worker per core). Kade is measured
#     twice: as shipped (every request in the prediction log) and on a second endpoint of
#     the same model with log_sample 0, which shows what the log costs.
#     wrk runs one thread (WRK_THREADS=1): on a two-core machine a second client thread
#     only competes with the server for the cores and adds its own waits to every figure.
# Usage: make bench-serving   (DURATION=10 and WRK_THREADS=1 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
WRK_THREADS="${WRK_THREADS:-1}"
KADE="${KADE:-build/release/kade}"
work=$(mktemp -d)
cleanup() { kill "$kade_pid" "$peer_pid" 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
kade_pid=; peer_pid=

echo "== tree engine (Google Benchmark, one thread)"
build/release/kade_bench_tree --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=console 2>/dev/null | tee "$work/engine.txt" | grep -E "median|Benchmark"
med() { awk -v n="$1" '$1==n"_median" {print $2, $3}' "$work/engine.txt"; }
to_ns() { awk '{v=$1; u=$2; if (u=="us") v*=1000; else if (u=="ms") v*=1e6; else if (u=="s") v*=1e9; printf "%.0f", v}'; }
k1=$(med BM_Kade_SingleRow | to_ns); x1=$(med BM_Xgboost_SingleRow | to_ns)
kb=$(med BM_Kade_Batch100k | to_ns); xb=$(med BM_Xgboost_Batch100k | to_ns)

echo "== endpoint over loopback (wrk -t${WRK_THREADS} -c32, one row per request, ${DURATION}s)"
/usr/bin/python3 bench/gen_serving_model.py "$work"
TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG=off \
  KADE_LOG_LEVEL=warn "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
KPORT=$(cat "$work/port")
export KADE_URL="http://127.0.0.1:$KPORT" KADE_TOKEN="$TOKEN" KADE_PROJECT=bench
"$KADE" projects create bench >/dev/null
"$KADE" models import "$work/model.json" --name bench --signature "$work/signature.json" >/dev/null
"$KADE" endpoints create bench --model bench --traffic 1 >/dev/null
"$KADE" endpoints create bench-nolog --model bench --traffic 1 --log-sample 0 >/dev/null

PPORT=$((KPORT + 1))
(cd bench && MODEL="$work/model.json" /usr/bin/python3 -m uvicorn --workers "$(nproc)" \
  --port "$PPORT" --log-level warning peer_fastapi:app) >/dev/null 2>&1 &
peer_pid=$!
for _ in $(seq 200); do
  curl -sf -X POST -H 'Content-Type: application/json' --data @"$work/request.json" \
    "http://127.0.0.1:$PPORT/predict" >/dev/null && break; sleep 0.1
done
# Both answer the same request with the same probability.
kp=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data @"$work/request.json" \
  "$KADE_URL/api/v1/projects/bench/endpoints/bench/predict" | /usr/bin/python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["probabilities"][0][1])')
pp=$(curl -sf -X POST -H 'Content-Type: application/json' --data @"$work/request.json" \
  "http://127.0.0.1:$PPORT/predict" | /usr/bin/python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["probabilities"][0][1])')
echo "same request: kade p=$kp, peer p=$pp"

run() {  # url token -> "rps p99_ms errors"
  local out
  out=$(REQUEST_FILE="$work/request.json" TOKEN="$2" wrk -t"$WRK_THREADS" -c32 -d"${DURATION}s" --latency \
    -s bench/predict.lua "$1")
  local rps p99 errs
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  echo "$rps $p99 ${errs:-0}"
}
read -r krps kp99 kerr < <(run "$KADE_URL/api/v1/projects/bench/endpoints/bench/predict" "$TOKEN")
read -r nrps np99 nerr < <(run "$KADE_URL/api/v1/projects/bench/endpoints/bench-nolog/predict" "$TOKEN")
read -r prps pp99 perr < <(run "http://127.0.0.1:$PPORT/predict" "")
logged=$(curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/metrics" | awk '/^kade_prediction_log_written_total/ {print $2}')
dropped=$(curl -sf -H "Authorization: Bearer $TOKEN" "$KADE_URL/metrics" | awk '/^kade_prediction_log_dropped_total/ {print $2}')
# Monitoring's cost: the same server restarted on the same data with the live summaries off,
# then on again, so that both figures come from the same stretch of the machine's time.
restart() {  # KADE_MONITORING value
  kill "$kade_pid"; wait "$kade_pid" 2>/dev/null || true; rm -f "$work/port"
  KADE_MONITORING="$1" KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:"$KPORT" KADE_ADMIN_TOKEN="$TOKEN" \
    KADE_ACCESS_LOG=off KADE_LOG_LEVEL=warn "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
  kade_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  for _ in $(seq 100); do
    curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data @"$work/request.json" \
      "$KADE_URL/api/v1/projects/bench/endpoints/bench/predict" >/dev/null && break; sleep 0.1
  done
}
restart false
read -r offrps offp99 offerr < <(run "$KADE_URL/api/v1/projects/bench/endpoints/bench/predict" "$TOKEN")
restart true
read -r onrps onp99 onerr < <(run "$KADE_URL/api/v1/projects/bench/endpoints/bench/predict" "$TOKEN")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b>0)?a/b:0}'; }
mkdir -p bench/results
report="bench/results/serving-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Serving — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, xgboost $(/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)')"
  echo "model: 100 trees, depth 6, 50 numeric features, binary:logistic"
  echo
  printf "%-44s %14s %14s %8s\n" "tree engine (one thread, median of 3)" "kade" "xgboost C API" "speedup"
  printf "%-44s %12s ns %12s ns %7sx\n" "single row" "$k1" "$x1" "$(ratio "$x1" "$k1")"
  printf "%-44s %12s ms %12s ms %7sx\n" "100,000-row batch" "$((kb / 1000000))" "$((xb / 1000000))" "$(ratio "$xb" "$kb")"
  echo
  printf "%-44s %10s %8s %7s\n" "endpoint, wrk -t${WRK_THREADS} -c32, one row per request" "req/s" "p99 ms" "non-2xx"
  printf "%-44s %10s %8s %7s\n" "kade (token, validation, prediction log)" "$krps" "$kp99" "$kerr"
  printf "%-44s %10s %8s %7s\n" "kade, same with log_sample 0" "$nrps" "$np99" "$nerr"
  printf "%-44s %10s %8s %7s\n" "fastapi + uvicorn + python-xgboost" "$prps" "$pp99" "$perr"
  echo "speed-up: $(ratio "$krps" "$prps")x (target 15x), kade p99 ${kp99} ms (target <= 2 ms; ${np99} ms without the log)"
  echo "prediction log: ${logged} written, ${dropped} dropped"
  echo
  printf "%-44s %10s %8s %7s\n" "kade, monitoring summaries off (restarted)" "$offrps" "$offp99" "$offerr"
  printf "%-44s %10s %8s %7s\n" "kade, monitoring summaries on (restarted)" "$onrps" "$onp99" "$onerr"
  echo "monitoring: throughput $(awk -v a="$onrps" -v b="$offrps" 'BEGIN{printf "%+.1f", (b>0)?100*(a-b)/b:0}')%, p99 $(awk -v a="$onp99" -v b="$offp99" 'BEGIN{printf "%+.1f", (b>0)?100*(a-b)/b:0}')% with the summaries on (target: within 10%)"
} | tee "$report"
