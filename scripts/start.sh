#!/usr/bin/env bash
# Quick start: installs what is missing, builds Kade and its web UI, and starts the server
# on the embedded default (SQLite + local artifact store under ./kade-data) with demo
# content. The first start prints the admin token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd ui && npm run build --silent)   # before the binary, which embeds ui/dist
cmake --preset release >/dev/null
cmake --build build/release --target kade
export KADE_DATA_DIR="${KADE_DATA_DIR:-./kade-data}"
export KADE_ADDR="${KADE_ADDR:-127.0.0.1:8080}"
export KADE_ACCESS_LOG="${KADE_ACCESS_LOG:-$KADE_DATA_DIR/access.log}"
mkdir -p "$KADE_DATA_DIR"
exec ./build/release/kade server --demo "$@"
