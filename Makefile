# Kade developer commands. `make help` lists them.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
KADE := $(BUILD_DIR)/kade
PY := /usr/bin/python3

.PHONY: help setup build ui run test api-reference test-unit test-e2e test-ui fuzz bench bench-http bench-ingest bench-tracking bench-training bench-serving bench-batch bench-registry bench-monitoring format lint clean

help:
	@echo "make setup      install system and npm dependencies (idempotent)"
	@echo "make build      build the kade binary and unit tests (PRESET=release|debug|asan)"
	@echo "make ui         build the web UI into ui/dist"
	@echo "make run        set up, build, and start Kade with demo content on ./kade-data"
	@echo "make test       set up, build, and run every test (unit, end-to-end, browser)"
	@echo "make bench      all benchmarks (bench-http: wrk vs Flask; bench-ingest: vs pandas; bench-tracking; bench-training: vs the XGBoost C API; bench-serving: tree engine and endpoint vs XGBoost and FastAPI; bench-batch: vs pandas + xgboost; bench-registry: registry search over 1,000 models x 10 versions; bench-monitoring: drift of 50 features x 1M rows from summaries vs scipy)"
	@echo "make fuzz       build the asan preset and run every libFuzzer target (FUZZ_SECONDS=60 each)"
	@echo "make format     clang-format the C++ sources"
	@echo "make api-reference  regenerate docs/api-reference.md from the route table (OpenAPI)"

setup:
	@bash scripts/setup.sh

build:
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD_DIR)

ui:
	@cd ui && npm run build --silent

run:
	@bash scripts/start.sh

test:
	@bash scripts/test.sh

test-unit: build
	@ctest --preset $(PRESET) -j2

test-e2e: build
	@$(PY) -m pytest -q tests/e2e

test-ui: build ui
	@cd ui && npm test

FUZZ_SECONDS ?= 60
fuzz:
	@cmake --preset asan >/dev/null
	@cmake --build build/asan
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: bench-http bench-ingest bench-tracking bench-training bench-serving bench-batch bench-registry bench-monitoring

bench-http: build
	@bash bench/http_bench.sh

bench-ingest: build
	@bash bench/ingest_bench.sh

bench-tracking: build
	@bash bench/tracking_bench.sh

bench-registry: build
	@bash bench/registry_bench.sh

bench-training: build
	@bash bench/training_bench.sh

bench-serving: build
	@bash bench/serving_bench.sh

bench-batch: build
	@bash bench/batch_bench.sh

bench-monitoring: build
	@bash bench/monitoring_bench.sh

format:
	@clang-format -i $$(find src tests bench -name '*.cc' -o -name '*.h')

lint:
	@clang-tidy -p $(BUILD_DIR) $$(find src -name '*.cc' ! -name '*_test.cc')

clean:
	@rm -rf build ui/dist

api-reference: build
	@$(KADE) openapi > $(BUILD_DIR)/openapi.json
	@cd ui && node tools/check-openapi.mjs ../$(BUILD_DIR)/openapi.json
	@$(PY) scripts/gen_api_reference.py $(BUILD_DIR)/openapi.json
