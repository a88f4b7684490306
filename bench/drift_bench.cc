// Drift from summaries (make bench-monitoring): 50 numeric features, reference and current
// of N rows each (bench/drift_peer.py writes them as float32, feature-major, and times SciPy's
// ks_2samp plus numpy PSI on the same values). Kade's side, timed in parts:
//  1. the log writer's work: every current value added to per-minute summaries (1,440
//     buckets), as ServingService's writer does for each logged row;
//  2. the stored form: every bucket written to bytes and read back (what the store holds);
//  3. the query: the window's buckets merged, then per feature KS, normalised Wasserstein,
//     PSI and Jensen-Shannon against the reference's sketch.
// Prints the KS statistics too, for the script to compare with SciPy's exact ones.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "data/window_summary.h"
#include "ml/drift.h"
#include "ml/multivariate_drift.h"

using Clock = std::chrono::steady_clock;
static double Secs(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

static std::vector<float> Read(const std::string& path, size_t n) {
  std::vector<float> v(n);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return v;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s REF.f32 CUR.f32 FEATURES ROWS\n", argv[0]);
    return 2;
  }
  const size_t features = std::stoul(argv[3]), rows = std::stoul(argv[4]);
  const std::vector<float> ref = Read(argv[1], features * rows),
                           cur = Read(argv[2], features * rows);
  std::vector<std::string> names;
  for (size_t f = 0; f < features; ++f) names.push_back("f" + std::to_string(f));

  // The reference: one summary (as a dataset profile's sketches).
  kade::WindowSummary reference;
  for (size_t f = 0; f < features; ++f) {
    kade::FeatureSummary& s = reference.features[names[f]];
    for (size_t r = 0; r < rows; ++r) s.AddNumber(ref[f * rows + r]);
  }
  // 1. The writer: rows in time order into 1,440 minute buckets, row by row across features.
  const size_t buckets = 1440;
  std::vector<kade::WindowSummary> minutes(buckets);
  auto t0 = Clock::now();
  for (size_t r = 0; r < rows; ++r) {
    kade::WindowSummary& w = minutes[r * buckets / rows];
    ++w.rows;
    for (size_t f = 0; f < features; ++f) w.features[names[f]].AddNumber(cur[f * rows + r]);
  }
  const double write_s = Secs(t0);
  // 2. Stored and read back.
  t0 = Clock::now();
  std::vector<std::string> stored;
  size_t bytes = 0;
  for (auto& m : minutes) {
    stored.push_back(m.ToBytes());
    bytes += stored.back().size();
  }
  const double encode_s = Secs(t0);
  t0 = Clock::now();
  std::vector<kade::WindowSummary> loaded;
  for (const auto& b : stored) loaded.push_back(*kade::WindowSummary::FromBytes(b));
  const double decode_s = Secs(t0);
  // 3. The query: merge, then drift per feature.
  t0 = Clock::now();
  kade::WindowSummary window;
  for (const auto& m : loaded) window.Merge(m);
  const double merge_s = Secs(t0);
  t0 = Clock::now();
  std::vector<kade::ml::DriftTest> tests;
  for (size_t f = 0; f < features; ++f) {
    const kade::FeatureSummary& rs = reference.features[names[f]];
    const kade::FeatureSummary& cs = window.features[names[f]];
    std::vector<double> edges;
    for (int i = 1; i < 10; ++i) {
      const double q = rs.kll.Quantile(i / 10.0);
      if (edges.empty() || q > edges.back()) edges.push_back(q);
    }
    tests.push_back(
        kade::ml::NumericDrift(kade::ml::FromSketch(rs.kll), kade::ml::FromSketch(cs.kll),
                               static_cast<double>(rs.kll.count()),
                               static_cast<double>(cs.kll.count()), edges, "wasserstein", 0.1));
  }
  const double drift_s = Secs(t0);
  int drifted = 0;
  for (const auto& t : tests) drifted += t.drifted;
  std::printf("kade_write_ns_per_value %.1f\n",
              write_s * 1e9 / static_cast<double>(rows * features));
  std::printf("kade_write_ns_per_row %.1f\n", write_s * 1e9 / static_cast<double>(rows));
  std::printf("kade_bucket_bytes_avg %.0f\n", static_cast<double>(bytes) / buckets);
  std::printf("kade_encode_s %.4f\nkade_decode_s %.4f\nkade_merge_s %.4f\nkade_drift_s %.4f\n",
              encode_s, decode_s, merge_s, drift_s);
  std::printf("kade_query_s %.4f\n", decode_s + merge_s + drift_s);
  std::printf("kade_drifted %d\n", drifted);
  // Multivariate drift on the log writer: fit on the first 10,000 reference rows (as a
  // reference build does), then each current row's reconstruction error into a summary.
  {
    const size_t sample = std::min<size_t>(rows, 10000);
    std::vector<std::vector<double>> fit(sample, std::vector<double>(features));
    for (size_t r = 0; r < sample; ++r) {
      for (size_t f = 0; f < features; ++f) fit[r][f] = ref[f * rows + r];
    }
    auto tf = std::chrono::steady_clock::now();
    auto model = kade::ml::FitPcaDrift(fit);
    const double fit_s = Secs(tf);
    if (!model.ok()) return 1;
    std::vector<double> row(features);
    kade::FeatureSummary errors;
    tf = std::chrono::steady_clock::now();
    for (size_t r = 0; r < rows; ++r) {
      for (size_t f = 0; f < features; ++f) row[f] = cur[f * rows + r];
      errors.AddNumber(kade::ml::RowReconstructionError(*model, row.data()));
    }
    const double pca_s = Secs(tf);
    std::printf("kade_pca_fit_s %.4f\nkade_pca_s %.4f\nkade_pca_ns_per_row %.1f\n", fit_s, pca_s,
                pca_s * 1e9 / static_cast<double>(rows));
    std::printf("kade_pca_components %d\nkade_pca_error %.6f\n", model->kept,
                errors.sum / static_cast<double>(errors.count));
  }
  std::printf("kade_ks");
  for (const auto& t : tests) std::printf(" %.5f", t.stats.at("ks_statistic"));
  std::printf("\nkade_psi");
  for (const auto& t : tests) std::printf(" %.5f", t.stats.at("psi"));
  std::printf("\n");
  return 0;
}
