#!/usr/bin/env bash
# The whole test suite: unit tests (GoogleTest via CTest), end-to-end tests that drive the
# real binary over HTTP (pytest on Debian's /usr/bin/python3), and browser tests of the web
# UI (Playwright driving Debian's Chromium), then the unit tests again under ASan/UBSan and a
# minute of libFuzzer per fuzz target. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd ui && npm run build --silent)   # before the binary, which embeds ui/dist
cmake --preset release >/dev/null
cmake --build build/release

echo "== unit tests"
ctest --preset release -j2 --timeout 300

echo "== OpenAPI document: valid 3.1, and docs/api-reference.md generated from it"
build/release/kade openapi > build/openapi.json
(cd ui && node tools/check-openapi.mjs ../build/openapi.json)
/usr/bin/python3 scripts/gen_api_reference.py --check build/openapi.json

echo "== end-to-end tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e

echo "== browser tests"
(cd ui && npm test)

echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (clang)"
cmake --preset asan >/dev/null
cmake --build build/asan
ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -j2 --timeout 600

echo "== fuzzing, one minute per target"
bash scripts/fuzz.sh "${KADE_FUZZ_SECONDS:-60}"
echo "== all tests passed"
