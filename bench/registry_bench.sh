#!/usr/bin/env bash
# Model-registry search benchmark (issue 14): 1,000 registered models x 10 versions made
# through MLflow's REST API (each version an MLflow-logged XGBoost model, validated and
# stored), then registered-models/search returning all 1,000 models with their latest
# versions and aliases, model-versions/search returning all 10,000 versions, and a filtered
# search. MLflow cannot be installed here (no PyPI), so the peer column is the target.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${MODELS:-1000}"
VERSIONS="${VERSIONS:-10}"
KADE="${KADE:-build/release/kade}"
work=$(mktemp -d)
cleanup() { kill "$kade_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"
KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" KADE_ACCESS_LOG=off \
  KADE_LOG_LEVEL=warn "$KADE" server --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$work/port")"
curl -sf -H "Authorization: Bearer $TOKEN" -X POST -d '{"name":"bench"}' "$URL/api/v1/projects" >/dev/null
read -r created models_ms versions_ms filtered_ms n models_parse versions_parse < <(/usr/bin/python3 bench/registry_setup.py "$URL" "$TOKEN" "$MODELS" "$VERSIONS")

mkdir -p bench/results
report="bench/results/registry-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Model registry search — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, ${MODELS} models x ${VERSIONS} versions, SQLite"
  echo
  printf "%-62s %10s %10s\n" "" "kade" "target"
  printf "%-62s %10s %10s\n" "registered-models/search, all ${MODELS} models (ms, median of 5)" "$models_ms" "< 50"
  printf "%-62s %10s\n" "  + Python json.loads of the answer (client side)" "$models_parse"
  printf "%-62s %10s\n" "model-versions/search, all ${n} versions (ms)" "$versions_ms"
  printf "%-62s %10s\n" "  + Python json.loads of the answer (client side)" "$versions_parse"
  printf "%-62s %10s\n" "registered-models/search, LIKE + tag filter, ordered (ms)" "$filtered_ms"
  echo
  echo "setup: ${MODELS} models and $((MODELS * VERSIONS)) versions registered through MLflow's API in ${created} s (8 clients)"
} | tee "$report"
