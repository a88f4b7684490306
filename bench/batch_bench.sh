#!/usr/bin/env bash
# Batch inference benchmark (issue #6): ROWS x 50 numeric CSV (the ingest benchmark's file,
# fixed seed) scored by a 100-tree depth-6 model. Kade: a batch job through a running server
# from submission to the scored version being stored (read the stored version, parse, score,
# write the output version with its hash, profile and quality report), the dataset already
# registered. Peer: pandas.read_csv + python-xgboost inplace_predict + DataFrame.to_csv
# (bench/peer_batch.py). Same run, same machine.
# Usage: make bench-batch   (ROWS=1000000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
KADE=build/release/kade
work=$(mktemp -d)
cleanup() { kill "$kade_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
kade_pid=

echo "generating ${ROWS} x 50 CSV (seed 20261122) and the model..."
/usr/bin/python3 bench/gen_numeric_csv.py "$ROWS" 50 "$work/in.csv"
/usr/bin/python3 bench/gen_batch_model.py "$work/in.csv" "$work/model.json"
mb=$(awk -v s="$(stat -c %s "$work/in.csv")" 'BEGIN{printf "%.0f", s/1e6}')

peer=$(/usr/bin/python3 bench/peer_batch.py "$work/model.json" "$work/in.csv" "$work/peer.csv")
p_total=$(awk '{print $8}' <<<"$peer")
rm -f "$work/peer.csv"

TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG=off \
  KADE_LOG_LEVEL=warn KADE_JOB_THREADS=2 "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
export KADE_URL="http://127.0.0.1:$(cat "$work/port")" KADE_TOKEN="$TOKEN" KADE_PROJECT=bench
"$KADE" projects create bench >/dev/null
"$KADE" data push "$work/in.csv" --dataset numbers >/dev/null
"$KADE" models import "$work/model.json" --name scorer --dataset numbers@1 >/dev/null
"$KADE" models alias set scorer champion 1 >/dev/null
start=$(date +%s.%N)
"$KADE" batch run --model scorer --dataset numbers@1 --wait >"$work/kade.txt"
end=$(date +%s.%N)
k_total=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')
k_mem=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$kade_pid/status)
job=$("$KADE" --json batch ls | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
"$KADE" batch logs "$job" | tail -3

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b>0)?a/b:0}'; }
mkdir -p bench/results
report="bench/results/batch-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Batch inference — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
  echo "input: ${ROWS} rows x 50 float columns, ${mb} MB CSV; model: 100 trees, depth 6"
  echo
  printf "%-58s %9s\n" "" "seconds"
  printf "%-58s %9s   (%s)\n" "pandas read_csv + xgboost inplace_predict + to_csv" "$p_total" "$peer"
  printf "%-58s %9s   (server peak %s MiB)\n" "kade batch job (submit -> scored version stored)" "$k_total" "$k_mem"
  echo "speed-up: $(ratio "$p_total" "$k_total")x (target 5x)"
} | tee "$report"
