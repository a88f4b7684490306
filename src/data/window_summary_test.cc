#include "data/window_summary.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace kade {
namespace {

WindowSummary Minute(int64_t start, int seed, int rows) {
  WindowSummary w;
  w.start_ms = start;
  w.width_ms = 60000;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> age(40, 10);
  for (int i = 0; i < rows; ++i) {
    FeatureSummary& a = w.features["age"];
    a.AddNumber(i % 50 == 0 ? std::nan("") : age(rng));
    FeatureSummary& p = w.features["plan"];
    p.numeric = false;
    p.AddCategory(i % 3 == 0 ? "basic" : "pro");
    w.latency.Add(100 + i % 900);
    w.reconstruction.AddNumber(1 + (i % 7) * 0.1);
    ++w.rows;
    ++w.requests;
  }
  return w;
}

TEST(WindowSummaryTest, MergeAddsCountsAndKeepsTheSketchBound) {
  WindowSummary all;
  std::vector<double> values;
  for (int m = 0; m < 30; ++m) {
    WindowSummary w = Minute(60000 * (m + 1), m, 5000);
    // Round trip through the stored form on the way, as roll-ups do.
    auto back = WindowSummary::FromBytes(w.ToBytes());
    ASSERT_TRUE(back.ok()) << back.status();
    all.Merge(*back);
  }
  EXPECT_EQ(all.start_ms, 60000);
  EXPECT_EQ(all.rows, 150000);
  const FeatureSummary& age = all.features["age"];
  EXPECT_EQ(age.count + age.nulls, 150000);
  EXPECT_EQ(age.nulls, 30 * 100);
  EXPECT_EQ(age.kll.count(), static_cast<uint64_t>(age.count));
  // The median of N(40, 10) within the sketch's rank error (1.3% of ranks ~ 0.33 around it).
  EXPECT_NEAR(age.kll.Quantile(0.5), 40, 0.6);
  EXPECT_NEAR(age.sum / age.count, 40, 0.2);
  const auto cats = all.features["plan"].CategoryCounts();
  EXPECT_EQ(cats.at("basic"), 30 * 1667);
  EXPECT_EQ(cats.at("pro"), 30 * 3333);
  EXPECT_EQ(all.latency.count(), 150000u);
  EXPECT_EQ(all.reconstruction.count, 150000);
  EXPECT_NEAR(all.reconstruction.sum / all.reconstruction.count, 1.3, 0.001);
  // p50 of 100..999 us is ~550; the histogram's bucket is at most 5% wide.
  EXPECT_NEAR(all.latency.PercentileMicros(0.5), 550, 0.06 * 550);
}

TEST(WindowSummaryTest, CategoriesBeyondTheCapAreCountedAsOther) {
  FeatureSummary f;
  f.numeric = false;
  for (int i = 0; i < 300; ++i) f.AddCategory("c" + std::to_string(i));
  EXPECT_EQ(f.categories.size(), FeatureSummary::kMaxCategories);
  EXPECT_EQ(f.other, 100);
  EXPECT_EQ(f.CategoryCounts().at("(other)"), 100);
}

TEST(WindowSummaryTest, DamagedBytesAreRefused) {
  const std::string bytes = Minute(60000, 1, 2000).ToBytes();
  EXPECT_TRUE(WindowSummary::FromBytes(bytes).ok());
  EXPECT_FALSE(WindowSummary::FromBytes("").ok());
  EXPECT_FALSE(WindowSummary::FromBytes(bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(WindowSummary::FromBytes(bytes + "x").ok());
  for (size_t cut : {size_t{8}, size_t{60}, bytes.size() / 2}) {
    EXPECT_FALSE(WindowSummary::FromBytes(bytes.substr(0, cut)).ok()) << cut;
  }
  // A blob from before the reconstruction errors were kept (it ends after the latency
  // histogram) still reads: exactly one shorter prefix is such a blob.
  WindowSummary old = Minute(60000, 1, 100);
  old.reconstruction = FeatureSummary();
  const std::string full = old.ToBytes();
  int readable = 0;
  for (size_t k = 1; k < 400 && k < full.size(); ++k) {
    auto w = WindowSummary::FromBytes(full.substr(0, full.size() - k));
    if (w.ok()) {
      ++readable;
      EXPECT_EQ(w->rows, 100);
      EXPECT_EQ(w->reconstruction.count, 0);
    }
  }
  EXPECT_EQ(readable, 1);
  // A length field that claims more than the blob holds.
  std::string huge = bytes;
  for (size_t i = 64; i < 72; ++i) huge[i] = '\xff';
  EXPECT_FALSE(WindowSummary::FromBytes(huge).ok());
}

}  // namespace
}  // namespace kade
