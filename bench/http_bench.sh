#!/usr/bin/env bash
# HTTP benchmark on loopback with wrk: Kade's /healthz and an authenticated GET of a small
# project resource, at 1 and 64 connections, next to the same two routes on the peer stack
# (Flask + gunicorn, what MLflow's tracking server runs on) measured in the same run.
# Usage: make bench   (DURATION=10 by default; results also land in bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
KADE=build/release/kade
command -v wrk >/dev/null || { echo "wrk missing: run make setup"; exit 1; }
for p in python3-flask gunicorn; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || \
    { echo "bench: installing $p"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done

work=$(mktemp -d)
cleanup() { kill "$kade_pid" "$peer_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
TOKEN="kade_bench_token_0123456789abcdefghijklmnopqrstu"

KADE_DATA_DIR="$work/data" KADE_ADDR=127.0.0.1:0 KADE_ADMIN_TOKEN="$TOKEN" \
  KADE_ACCESS_LOG="$work/access.log" KADE_LOG_LEVEL=warn \
  "$KADE" server --demo --port-file "$work/port" >/dev/null 2>&1 &
kade_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
KPORT=$(cat "$work/port")

PEER_DB="$work/peer.db" /usr/bin/python3 bench/peer_flask.py "$TOKEN"
PPORT=$((KPORT + 1))
(cd bench && PEER_DB="$work/peer.db" /usr/bin/python3 -m gunicorn -w "$(nproc)" -b "127.0.0.1:$PPORT" \
  --log-level warning peer_flask:app) &
peer_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PPORT/healthz" >/dev/null && break; sleep 0.1; done

run() {  # url conns [header] -> "rps p99_ms"
  local url=$1 conns=$2 hdr=${3:-}
  local threads=$(( conns < 2 ? 1 : 2 ))
  local out
  if [ -n "$hdr" ]; then
    out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -H "$hdr" "$url")
  else
    out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency "$url")
  fi
  local rps p99 errs
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  echo "$rps $p99 ${errs:-0}"
}

AUTH="Authorization: Bearer $TOKEN"
mkdir -p bench/results
report="bench/results/http-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Kade HTTP benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, wrk ${DURATION}s per row"
  echo "Kade $($KADE --version | awk '{print $2}') (release build, access log to file) vs Flask $(/usr/bin/python3 -c 'import flask;print(flask.__version__)' 2>/dev/null || echo ?) + gunicorn ($(nproc) workers)"
  echo
  printf "%-34s %5s | %12s %9s | %12s %9s | %7s\n" "route" "conns" "kade req/s" "p99 ms" "peer req/s" "p99 ms" "speedup"
  for route in healthz project; do
    for c in 1 64; do
      if [ $route = healthz ]; then
        k=($(run "http://127.0.0.1:$KPORT/healthz" $c)); p=($(run "http://127.0.0.1:$PPORT/healthz" $c))
        label="GET /healthz"
      else
        k=($(run "http://127.0.0.1:$KPORT/api/v1/projects/demo" $c "$AUTH"))
        p=($(run "http://127.0.0.1:$PPORT/api/v1/projects/demo" $c "$AUTH"))
        label="GET /api/v1/projects/demo (token)"
      fi
      [ "${k[2]}" = 0 ] || echo "WARNING: kade answered ${k[2]} non-2xx responses"
      printf "%-34s %5s | %12s %9s | %12s %9s | %6sx\n" "$label" "$c" "${k[0]}" "${k[1]}" "${p[0]}" "${p[1]}" \
        "$(awk -v a="${k[0]}" -v b="${p[0]}" 'BEGIN{printf "%.1f", (b>0)?a/b:0}')"
    done
  done
  echo
  echo "Targets (issue #2): /healthz >= 30000 req/s, authenticated GET >= 15000 req/s, p99 < 5 ms at 64 connections."
} | tee "$report"
echo "saved to $report"
