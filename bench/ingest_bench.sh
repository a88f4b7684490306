#!/usr/bin/env bash
# Dataset ingest benchmark (issue #3): a ROWS x COLS numeric CSV (fixed seed), ingested and
# profiled by Kade, next to pandas.read_csv + DataFrame.describe() on the same file in the
# same run. Kade is measured two ways: `kade data push` through a running server (the
# product path: upload, hash, blob store, parse, profile, quality, metadata) and
# `kade data inspect` (parse + profile in one process). Peak memory is VmHWM / ru_maxrss.
# Usage: make bench-ingest   (ROWS=1000000 COLS=50 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
COLS="${COLS:-50}"
KADE=build/release/kade
work=$(mktemp -d)
cleanup() { kill "$kade_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

csv="$work/numeric.csv"
echo "generating ${ROWS} x ${COLS} CSV (seed 20261122)..."
/usr/bin/python3 bench/gen_numeric_csv.py "$ROWS" "$COLS" "$csv"
size=$(stat -c %s "$csv")
mb=$(awk -v s="$size" 'BEGIN{printf "%.0f", s/1e6}')

# pandas: read_csv + describe (+ corr, reported separately)
pandas_out=$(/usr/bin/python3 bench/pandas_profile.py "$csv")
p_read=$(awk '{print $2}' <<<"$pandas_out"); p_desc=$(awk '{print $4}' <<<"$pandas_out")
p_corr=$(awk '{print $6}' <<<"$pandas_out"); p_mem=$(awk '{print $10}' <<<"$pandas_out")
p_total=$(awk -v a="$p_read" -v b="$p_desc" 'BEGIN{printf "%.2f", a+b}')

# kade data inspect (in process)
/usr/bin/time -f "%e %M" -o "$work/inspect.time" "$KADE" data inspect "$csv" >/dev/null
k_inspect=$(awk '{print $1}' "$work/inspect.time"); k_inspect_mem=$(awk '{printf "%.0f", $2/1024}' "$work/inspect.time")

# kade data push through a fresh server
TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG=off \
  KADE_LOG_LEVEL=warn "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
export KADE_URL="http://127.0.0.1:$(cat "$work/port")" KADE_TOKEN="$TOKEN"
"$KADE" projects create bench >/dev/null
rss_before=$(awk '/VmRSS/ {print $2}' /proc/$kade_pid/status)
start=$(date +%s.%N)
"$KADE" data -p bench push "$csv" --dataset numeric >/dev/null
end=$(date +%s.%N)
k_push=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')
k_push_mem=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$kade_pid/status)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b>0)?a/b:0}'; }
mkdir -p bench/results
report="bench/results/ingest-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Dataset ingest + profile — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
  echo "input: ${ROWS} rows x ${COLS} float columns, ${mb} MB CSV"
  echo "pandas $(/usr/bin/python3 -c 'import pandas;print(pandas.__version__)')"
  echo
  printf "%-46s %9s %9s %12s\n" "" "seconds" "MB/s" "peak MiB"
  printf "%-46s %9s %9s %12s\n" "pandas read_csv + describe" "$p_total" "$(awk -v m="$mb" -v t="$p_total" 'BEGIN{printf "%.0f", m/t}')" "$p_mem"
  printf "%-46s %9s\n" "  (pandas corr, not in the total)" "$p_corr"
  printf "%-46s %9s %9s %12s\n" "kade data push (server: store+parse+profile)" "$k_push" "$(awk -v m="$mb" -v t="$k_push" 'BEGIN{printf "%.0f", m/t}')" "$k_push_mem"
  printf "%-46s %9s %9s %12s\n" "kade data inspect (parse+profile)" "$k_inspect" "$(awk -v m="$mb" -v t="$k_inspect" 'BEGIN{printf "%.0f", m/t}')" "$k_inspect_mem"
  echo
  echo "speed-up vs pandas: push $(ratio "$p_total" "$k_push")x, inspect $(ratio "$p_total" "$k_inspect")x (target 5x)"
  echo "peak memory / CSV size: push $(awk -v m="$k_push_mem" -v s="$mb" 'BEGIN{printf "%.2f", m*1.048576/s}'), pandas $(awk -v m="$p_mem" -v s="$mb" 'BEGIN{printf "%.2f", m*1.048576/s}') (target <= 2)"
  echo "Kade also computes what describe() does not: exact-then-sketched distinct counts, 20-bin"
  echo "histograms, mergeable sketches and all pairwise Pearson correlations."
} | tee "$report"
