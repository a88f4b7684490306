// Native tree engine against XGBoost's in-place predict through the C API (issue #6), on
// the same model: 100 trees of depth 6 on 50 numeric features, trained here with a fixed
// seed. Single-row latency and 100,000-row batches, both on one thread.
// Run: make bench-serving (or build/release/kade_bench_tree).
#include <xgboost/c_api.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ml/tree_engine.h"
#include "ml/xgb.h"

namespace {

constexpr size_t kCols = 50;

struct Fixture {
  std::shared_ptr<const kade::ml::TreeModel> model;
  BoosterHandle booster = nullptr;
  std::vector<float> rows;  // 100,000 x 50
  Fixture() {
    std::mt19937 rng(20261122);
    std::normal_distribution<float> normal;
    const size_t n = 20000;
    std::vector<float> x(n * kCols), y(n);
    for (size_t r = 0; r < n; ++r) {
      float s = 0;
      for (size_t c = 0; c < kCols; ++c) {
        x[r * kCols + c] = normal(rng);
        s += (c % 3 == 0 ? 0.4f : -0.1f) * x[r * kCols + c] * (c < 10 ? x[r * kCols] : 1.0f);
      }
      y[r] = s + 0.5f * normal(rng) > 0;
    }
    std::vector<std::string> names;
    for (size_t c = 0; c < kCols; ++c) names.push_back(absl::StrCat("f", c));
    auto train = kade::ml::DMatrix::Dense(x, n, kCols, names, std::vector<bool>(kCols, false));
    (void)train->SetLabels(y);
    auto b = kade::ml::Booster::Create({&*train});
    for (auto [k, v] :
         std::vector<std::pair<std::string, std::string>>{{"objective", "binary:logistic"},
                                                          {"max_depth", "6"},
                                                          {"tree_method", "hist"},
                                                          {"nthread", "1"},
                                                          {"seed", "1"}}) {
      (void)b->SetParam(k, v);
    }
    for (int i = 0; i < 100; ++i) (void)b->UpdateOneIter(i, *train);
    std::string json = *b->SaveJson();
    model = *kade::ml::TreeModel::FromXgboostJson(json);
    XGBoosterCreate(nullptr, 0, &booster);
    XGBoosterLoadModelFromBuffer(booster, json.data(), json.size());
    XGBoosterSetParam(booster, "nthread", "1");
    rows.resize(100000 * kCols);
    for (auto& v : rows) v = normal(rng);
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

// XGBoost's in-place prediction on a dense array (array interface), no DMatrix.
const float* XgbInplace(const float* data, size_t n) {
  std::string iface =
      absl::StrCat(R"({"data": [)", reinterpret_cast<uintptr_t>(data), R"(, true], "shape": [)", n,
                   ", ", kCols, R"(], "typestr": "<f4", "version": 3})");
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,
          "strict_shape": false, "missing": NaN, "cache_id": 0})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  if (XGBoosterPredictFromDense(F().booster, iface.c_str(), config, nullptr, &shape, &dim, &out) !=
      0) {
    std::abort();
  }
  return out;
}

void BM_Kade_SingleRow(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  float out;
  for (auto _ : state) {
    f.model->Predict(f.rows.data() + (i++ % 100000) * kCols, 1, &out);
    benchmark::DoNotOptimize(out);
  }
}
void BM_Xgboost_SingleRow(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(XgbInplace(f.rows.data() + (i++ % 100000) * kCols, 1));
  }
}
void BM_Kade_Batch100k(benchmark::State& state) {
  Fixture& f = F();
  std::vector<float> out(100000);
  for (auto _ : state) {
    f.model->Predict(f.rows.data(), 100000, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 100000);
}
void BM_Xgboost_Batch100k(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) benchmark::DoNotOptimize(XgbInplace(f.rows.data(), 100000));
  state.SetItemsProcessed(state.iterations() * 100000);
}

BENCHMARK(BM_Kade_SingleRow);
BENCHMARK(BM_Xgboost_SingleRow);
BENCHMARK(BM_Kade_Batch100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Xgboost_Batch100k)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
