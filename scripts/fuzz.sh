#!/usr/bin/env bash
# Runs each libFuzzer target (built by the asan preset) for SECONDS seconds (default 60) on a
# fresh copy of its seed corpus from tests/data/fuzz/, two at a time. A crash, leak, sanitizer
# report or timeout fails the run; the reproducer is kept in build/asan/fuzz-findings/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv jsonl json_body run_filter cron predict mlmodel window_summary)
out=build/asan/fuzz-findings
mkdir -p "$out"
run_one() {
  local t=$1 seconds=$2 out=$3
  local corpus seed=tests/data/fuzz/$t
  [ -d "$seed" ] || seed=tests/data/fuzz/predict
  corpus=$(mktemp -d)
  cp -r "$seed"/. "$corpus"/
  if build/asan/${t}_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$out/${t}-" "$corpus" > "$out/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') inputs, no finding"
    rm -rf "$corpus"
  else
    echo "fuzz $t: FAILED (see $out/$t.log)"; tail -40 "$out/$t.log"; rm -rf "$corpus"; return 1
  fi
}
export -f run_one
printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c "run_one {} $seconds $out"
