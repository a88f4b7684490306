#!/usr/bin/env bash
# Monitoring benchmark (issue 15), Kade and its peer in the same run on the same values:
#  drift of FEATURES numeric features, ROWS reference rows against ROWS current rows —
#  Kade from its per-minute summaries (build/release/kade_bench_drift: the log writer's cost
#  per value and per row, the stored form, then the window's query: read, merge, drift)
#  against SciPy's ks_2samp per feature plus numpy PSI on the raw values (bench/drift_peer.py).
#  The KS statistics of both are compared: Kade's come from the sketches (documented bound).
# Usage: make bench-monitoring   (FEATURES=50 ROWS=1000000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES="${FEATURES:-50}"
ROWS="${ROWS:-1000000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== peer: scipy ks_2samp + numpy PSI, $FEATURES features x $ROWS rows per side"
/usr/bin/python3 bench/drift_peer.py "$work" "$FEATURES" "$ROWS" > "$work/peer.txt"
echo "== kade: summaries, then drift from them"
build/release/kade_bench_drift "$work/ref.f32" "$work/cur.f32" "$FEATURES" "$ROWS" > "$work/kade.txt"
get() { awk -v k="$1" '$1==k {print $2}' "$2"; }
maxdiff=$(paste <(grep '^kade_ks' "$work/kade.txt" | tr ' ' '\n' | tail -n +2) \
                <(grep '^peer_ks' "$work/peer.txt" | tr ' ' '\n' | tail -n +2) |
          awk 'BEGIN{m=0} {d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END{printf "%.4f", m}')
psidiff=$(paste <(grep '^kade_psi' "$work/kade.txt" | tr ' ' '\n' | tail -n +2) \
                <(grep '^peer_psi' "$work/peer.txt" | tr ' ' '\n' | tail -n +2) |
          awk 'BEGIN{m=0} {d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END{printf "%.4f", m}')
peer=$(get peer_s "$work/peer.txt"); query=$(get kade_query_s "$work/kade.txt")
mkdir -p bench/results
report="bench/results/monitoring-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "Monitoring — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, scipy $(/usr/bin/python3 -c 'import scipy; print(scipy.__version__)')"
  echo "drift of $FEATURES numeric features, $ROWS reference rows against $ROWS current rows (half the features shifted)"
  printf "%-58s %10s\n" "kade: read 1,440 minute buckets from bytes" "$(get kade_decode_s "$work/kade.txt") s"
  printf "%-58s %10s\n" "kade: merge them into the window" "$(get kade_merge_s "$work/kade.txt") s"
  printf "%-58s %10s\n" "kade: KS, Wasserstein, PSI, JS per feature from sketches" "$(get kade_drift_s "$work/kade.txt") s"
  printf "%-58s %10s\n" "kade: the whole query (target <= 1 s)" "$query s"
  printf "%-58s %10s\n" "scipy ks_2samp + numpy PSI on the raw values" "$peer s"
  echo "speed-up: $(awk -v a="$peer" -v b="$query" 'BEGIN{printf "%.0f", a/b}')x; max |KS kade - KS scipy| = $maxdiff, max |PSI kade - PSI numpy| = $psidiff"
  echo "log writer: $(get kade_write_ns_per_value "$work/kade.txt") ns per value, $(get kade_write_ns_per_row "$work/kade.txt") ns per row of $FEATURES features; $(get kade_bucket_bytes_avg "$work/kade.txt") bytes per stored minute bucket"
  echo "features drifted (Wasserstein >= 0.1): $(get kade_drifted "$work/kade.txt") of $FEATURES"
  echo "multivariate (PCA 65 %, $(get kade_pca_components "$work/kade.txt") components; scikit-learn $(get peer_pca_components "$work/peer.txt")): kade $(get kade_pca_ns_per_row "$work/kade.txt") ns per logged row ($(get kade_pca_s "$work/kade.txt") s for $ROWS rows, one at a time), scikit-learn $(get peer_pca_s "$work/peer.txt") s for the same rows in one batch; mean error kade $(get kade_pca_error "$work/kade.txt"), scikit-learn $(get peer_pca_error "$work/peer.txt")"
} | tee "$report"
