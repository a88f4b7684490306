#include "data/ingest.h"

#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <random>

#include "data/sketches.h"
#include "gtest/gtest.h"

namespace kade {
namespace {

// Feeds `data` in chunks of `chunk` bytes, so row and quote boundaries fall mid-chunk.
absl::StatusOr<IngestResult> IngestAll(const std::string& data, size_t chunk = 7,
                                       IngestOptions opt = IngestOptions()) {
  Ingest in(opt);
  for (size_t i = 0; i < data.size(); i += chunk) {
    absl::Status s = in.Feed(absl::string_view(data).substr(i, chunk));
    if (!s.ok()) return s;
  }
  return in.Finish();
}

const Json& Col(const IngestResult& r, const std::string& name) {
  for (const auto& c : r.profile["columns"]) {
    if (c["name"] == name) return c;
  }
  static Json none;
  return none;
}

std::string Gzip(const std::string& s) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, s.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  zs.avail_in = static_cast<uInt>(s.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(IngestTest, CsvQuotingAndTypes) {
  std::string csv =
      "id,name,score,active,joined,plan\r\n"
      "1,\"Smith, Ann\",3.5,true,2026-01-02,pro\r\n"
      "2,\"say \"\"hi\"\"\nthere\",4,false,2026-01-03T10:00:00Z,free\r\n"
      "3,Bo,,TRUE,2026-02-01,pro\r\n"
      "4,Cy,NA,false,2026-03-01,pro\r\n";
  auto r = IngestAll(csv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 4);
  EXPECT_EQ(r->format, TableFormat::kCsv);
  std::map<std::string, std::string> types;
  for (const auto& c : r->schema) types[c.name] = ColumnTypeName(c.type);
  EXPECT_EQ(types["id"], "int64");
  EXPECT_EQ(types["score"], "float64");
  EXPECT_EQ(types["active"], "bool");
  EXPECT_EQ(types["joined"], "timestamp");
  EXPECT_EQ(types["plan"], "categorical");
  EXPECT_EQ(Col(*r, "score")["nulls"], 2);
  EXPECT_DOUBLE_EQ(Col(*r, "score")["mean"].template get<double>(), 3.75);
  EXPECT_EQ(Col(*r, "name")["samples"][1], "say \"hi\"\nthere");
  EXPECT_EQ(Col(*r, "plan")["top"][0]["value"], "pro");
  EXPECT_EQ(Col(*r, "plan")["top"][0]["count"], 3);
}

struct BadCase {
  std::string data;
  std::string expect;
};

TEST(IngestTest, BadInputNamesProblemAndPosition) {
  const BadCase cases[] = {
      {"a,b\n1,\"open\n2,3\n", "quote opened at line 2, column 3 is never closed"},
      {"a,b\n1,2\n3\n", "line 3 has 1 fields but the header has 2 (ragged row)"},
      {"a,b\n1,2,3\n", "line 2 has 3 fields"},
      {"a,b\n1,ok\xff\n", "line 2, column 5: invalid UTF-8 byte 0xff"},
      {"a,b\n1,\xc3\x28\n", "invalid UTF-8"},
      {std::string("a,b\n1,2\0\0\x01", 11), "looks binary"},
      {"a,a\n1,2\n", "duplicate column 'a' (columns 1 and 2)"},
      {"a,,c\n1,2,3\n", "header column 2 has an empty name"},
      {"", "empty (0 bytes)"},
      {"a,b\n1,\"x\"y\n", "line 2, column 6: unexpected character 'y' after the closing quote"},
      {"{\"a\": 1}\n{\"a\": }\n", "line 2, column 7: malformed JSON"},
      {"{\"a\": 1}\n[1]\n", "line 2: expected a JSON object"},
      {"{\"a\": 1}\n{\"b\": 2}\n", "line 2: key 'b' is not among"},
  };
  for (const auto& c : cases) {
    auto r = IngestAll(c.data, 3);
    ASSERT_FALSE(r.ok()) << c.data;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.data;
    EXPECT_NE(r.status().message().find(c.expect), absl::string_view::npos)
        << "got: " << r.status().message() << "\nwant: " << c.expect;
  }
}

TEST(IngestTest, PinnedSchemaViolationNamesColumnAndLine) {
  IngestOptions opt;
  opt.profile.pinned = Schema{{"age", ColumnType::kInt64}, {"plan", ColumnType::kCategorical}};
  auto r = IngestAll("age,plan\n41,pro\n42,free\nforty,pro\n", 5, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "line 4: column 'age' is pinned as int64 but has the value 'forty'");
  auto missing = IngestAll("age\n41\n", 5, opt);
  EXPECT_NE(missing.status().message().find("column 'plan' of the pinned schema is missing"),
            absl::string_view::npos);
  auto ok = IngestAll("plan,age\npro,41\n", 5, opt);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->schema[1].type, ColumnType::kInt64);
}

TEST(IngestTest, TsvAndJsonlAndBom) {
  auto tsv = IngestAll("a\tb\n1\tx\n2\ty\n");
  ASSERT_TRUE(tsv.ok());
  EXPECT_EQ(tsv->format, TableFormat::kTsv);
  EXPECT_EQ(tsv->schema.size(), 2u);
  auto jl = IngestAll("{\"a\": 1, \"b\": \"x\", \"c\": null}\n{\"a\": 2.5, \"b\": \"y\"}\n\n");
  ASSERT_TRUE(jl.ok()) << jl.status();
  EXPECT_EQ(jl->format, TableFormat::kJsonl);
  EXPECT_EQ(jl->rows, 2);
  EXPECT_EQ(Col(*jl, "a")["type"], "float64");
  EXPECT_EQ(Col(*jl, "c")["nulls"], 2);
  auto bom = IngestAll("\xef\xbb\xbfid,v\n1,2\n");
  ASSERT_TRUE(bom.ok());
  EXPECT_EQ(bom->schema[0].name, "id");
}

TEST(IngestTest, GzipAndZstdAreDecompressed) {
  std::string csv = "x,y\n";
  for (int i = 0; i < 5000; ++i) csv += std::to_string(i) + "," + std::to_string(i * 2) + "\n";
  auto gz = IngestAll(Gzip(csv), 1000);
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(gz->compression, "gzip");
  EXPECT_EQ(gz->rows, 5000);
  std::string zst(ZSTD_compressBound(csv.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), csv.data(), csv.size(), 3));
  auto zs = IngestAll(zst, 1000);
  ASSERT_TRUE(zs.ok()) << zs.status();
  EXPECT_EQ(zs->compression, "zstd");
  EXPECT_EQ(zs->rows, 5000);
  auto trunc = IngestAll(Gzip(csv).substr(0, 200), 50);
  EXPECT_FALSE(trunc.ok());
}

TEST(IngestTest, CompressionBombIsRefused) {
  std::string zeros = "a\n" + std::string(50 << 20, '0');
  std::string bomb = Gzip(zeros);
  ASSERT_LT(bomb.size(), 200000u);
  IngestOptions opt;
  opt.max_decompressed_bytes = 10 << 20;
  auto r = IngestAll(bomb, 65536, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("compression bomb"), absl::string_view::npos);
}

TEST(IngestTest, LargeColumnsSwitchToSketches) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(10, 2);
  std::string csv = "v\n";
  std::vector<double> vals;
  for (int i = 0; i < 300000; ++i) {
    double v = nd(rng);
    vals.push_back(v);
    csv += std::to_string(v) + "\n";
  }
  auto r = IngestAll(csv, 1 << 16);
  ASSERT_TRUE(r.ok());
  const Json& c = Col(*r, "v");
  EXPECT_FALSE(c["quantiles_exact"].get<bool>());
  EXPECT_FALSE(c["distinct_exact"].get<bool>());
  std::sort(vals.begin(), vals.end());
  // The sample's rank error stays well within 1.5% of n; HLL within a few percent.
  double med = c["quantiles"]["p50"].get<double>();
  size_t rank = std::lower_bound(vals.begin(), vals.end(), med) - vals.begin();
  EXPECT_NEAR(static_cast<double>(rank) / vals.size(), 0.5, 0.015);
  EXPECT_NEAR(c["distinct"].get<double>(), 300000, 300000 * 0.05);
  int64_t hist_total = 0;
  for (const auto& n : c["histogram"]["counts"]) hist_total += n.get<int64_t>();
  EXPECT_EQ(hist_total, 300000);
}

TEST(SketchTest, MergeMatchesSingleStream) {
  KllSketch a, b, all;
  HyperLogLog ha, hb, hall;
  for (int i = 0; i < 100000; ++i) {
    (i % 2 ? a : b).Add(i);
    all.Add(i);
    std::string s = std::to_string(i);
    (i % 2 ? ha : hb).Add(s);
    hall.Add(s);
  }
  a.Merge(b);
  ha.Merge(hb);
  EXPECT_EQ(a.count(), 100000u);
  EXPECT_NEAR(a.Quantile(0.9), 90000, 2000);
  EXPECT_DOUBLE_EQ(ha.Estimate(), hall.Estimate());
  auto round = KllSketch::FromJson(a.ToJson());
  ASSERT_TRUE(round.ok());
  EXPECT_DOUBLE_EQ(round->Quantile(0.5), a.Quantile(0.5));
  auto hround = HyperLogLog::FromJson(ha.ToJson());
  ASSERT_TRUE(hround.ok());
  EXPECT_DOUBLE_EQ(hround->Estimate(), ha.Estimate());
}

}  // namespace
}  // namespace kade
