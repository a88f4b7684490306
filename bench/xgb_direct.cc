// The training benchmark's baseline: the same CSV read into memory, then XGBoost's C API
// called directly (dense matrix, hist, 100 rounds of depth 6, 2 threads, JSON model saved).
// Prints the seconds for loading and for training separately.
#include <xgboost/c_api.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#define CHECK(call)                                           \
  if ((call) != 0) {                                          \
    std::fprintf(stderr, "xgboost: %s\n", XGBGetLastError()); \
    return 1;                                                 \
  }

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  auto t0 = std::chrono::steady_clock::now();
  std::ifstream in(argv[1]);
  std::string line;
  std::getline(in, line);
  size_t cols = 0;
  for (char c : line) cols += c == ',';
  std::vector<float> x, y;
  while (std::getline(in, line)) {
    const char* p = line.c_str();
    for (size_t j = 0; j <= cols; ++j) {
      char* end = nullptr;
      float v = std::strtof(p, &end);
      (j < cols ? x : y).push_back(v);
      p = *end == ',' ? end + 1 : end;
    }
  }
  const size_t rows = y.size();
  auto t1 = std::chrono::steady_clock::now();
  DMatrixHandle d;
  CHECK(XGDMatrixCreateFromMat(x.data(), rows, cols, std::nanf(""), &d));
  CHECK(XGDMatrixSetFloatInfo(d, "label", y.data(), rows));
  BoosterHandle b;
  CHECK(XGBoosterCreate(&d, 1, &b));
  const char* params[][2] = {{"objective", "binary:logistic"},
                             {"tree_method", "hist"},
                             {"max_depth", "6"},
                             {"eta", "0.3"},
                             {"seed", "42"}};
  for (auto& kv : params) CHECK(XGBoosterSetParam(b, kv[0], kv[1]));
  CHECK(XGBoosterSetParam(b, "nthread", std::to_string(threads).c_str()));
  for (int i = 0; i < 100; ++i) CHECK(XGBoosterUpdateOneIter(b, i, d));
  bst_ulong len = 0;
  const char* buf = nullptr;
  CHECK(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf));
  std::ofstream(argv[2], std::ios::binary).write(buf, static_cast<std::streamsize>(len));
  auto t2 = std::chrono::steady_clock::now();
  std::printf("load %.2f train %.2f rows %zu cols %zu\n",
              std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count(), rows, cols);
  XGBoosterFree(b);
  XGDMatrixFree(d);
  return 0;
}
