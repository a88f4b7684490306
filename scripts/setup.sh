#!/usr/bin/env bash
# Installs every system and npm dependency Kade needs to build, run and test.
# Idempotent: packages already present are skipped, `npm ci` only runs when the lock
# file changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  clang-format clang-tidy clang libclang-rt-dev
  libabsl-dev libboost-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  libssl-dev openssl libsodium-dev libspdlog-dev libfmt-dev libcli11-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libeigen3-dev libre2-dev
  libxgboost-dev python3-xgboost python3-sklearn python3-fastapi python3-uvicorn libsimdjson-dev
  prometheus prometheus-alertmanager
  wrk chromium python3 python3-pytest python3-numpy python3-pandas python3-pip python3-setuptools python3-wheel nodejs
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm ships with Debian's nodejs as a separate package; NodeSource's nodejs bundles it.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

# Web UI dependencies. The stamp holds the hash of the lock file that was installed.
if [ -f ui/package-lock.json ]; then
  stamp=ui/node_modules/.kade-lock-hash
  want=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: npm ci (ui)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  else
    echo "setup: ui node_modules up to date"
  fi
fi
echo "setup: done"
