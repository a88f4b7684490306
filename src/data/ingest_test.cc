#include "data/ingest.h"

#include <zlib.h>
#include <zstd.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>

#include "data/sketches.h"
#include "data/values.h"
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

TEST(IngestTest, JsonlNumberTooLargeIsAnErrorNamingTheLine) {
  // Found by fuzz/jsonl_fuzz.cc: nlohmann throws out_of_range (not parse_error) for 1e400.
  auto jl = IngestAll("{\"a\": 1}\n{\"a\": 1e400}\n");
  ASSERT_FALSE(jl.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(jl.status())) << jl.status();
  EXPECT_NE(jl.status().message().find("line 2"), std::string::npos) << jl.status();
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

// Fixed random CSV of about `bytes` bytes: an int id, two decimals, a category; with
// `quote_at_row` >= 0 that row gets a quoted field with an embedded newline and a quote.
std::string MakeCsv(size_t bytes, int64_t quote_at_row, bool crlf = false) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-500, 500);
  const char* eol = crlf ? "\r\n" : "\n";
  std::string csv = std::string("id,a,b,plan") + eol;
  for (int64_t i = 0; csv.size() < bytes; ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld,%.6f,%.3f,", static_cast<long long>(i), u(rng), u(rng));
    csv += buf;
    csv += i == quote_at_row ? "\"multi\nline \"\"quoted\"\"\"" : (i % 3 ? "pro" : "free");
    csv += eol;
  }
  return csv;
}

absl::StatusOr<IngestResult> IngestMode(const std::string& data, bool parallel,
                                        size_t chunk = 1 << 20) {
  IngestOptions opt;
  opt.parallel_csv = parallel;
  return IngestAll(data, chunk, opt);
}

// Equal JSON, except that floating-point numbers may differ in the last bits (sums over
// blocks of different sizes round differently). Reports the first difference.
void ExpectNearlyEqual(const Json& a, const Json& b, const std::string& path = "") {
  if (a.is_number_float() || b.is_number_float()) {
    ASSERT_TRUE(a.is_number() && b.is_number()) << path;
    double x = a.get<double>(), y = b.get<double>();
    EXPECT_LE(std::abs(x - y), 1e-9 * std::max({1.0, std::abs(x), std::abs(y)})) << path;
    return;
  }
  ASSERT_EQ(a.type(), b.type()) << path;
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << path;
    for (auto it = a.begin(); it != a.end(); ++it) {
      ASSERT_TRUE(b.contains(it.key())) << path << "/" << it.key();
      ExpectNearlyEqual(it.value(), b[it.key()], path + "/" + it.key());
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << path;
    for (size_t i = 0; i < a.size(); ++i)
      ExpectNearlyEqual(a[i], b[i], path + "/" + std::to_string(i));
  } else {
    EXPECT_EQ(a, b) << path;
  }
}

TEST(IngestTest, ParallelPiecesGiveTheSerialResult) {
  // Over 8 MiB, so the file is cut into several pieces; one variant turns quoted in a late
  // piece (the rest of the file is then read serially), one uses CR LF line ends.
  // A fourth has a blank line and a non-ASCII value in later pieces (the fast scan of plain
  // pieces gives those to the full parser).
  std::string odd = MakeCsv(20u << 20, -1);
  odd.insert(odd.find('\n', 12u << 20) + 1, "\n");
  odd.replace(odd.find(",pro\n", 15u << 20), 5, ",pr\xc3\xb3\n");
  for (const std::string& csv :
       {MakeCsv(30u << 20, -1), MakeCsv(30u << 20, 500000), MakeCsv(20u << 20, -1, true), odd}) {
    auto par = IngestMode(csv, true);
    auto ser = IngestMode(csv, false);
    ASSERT_TRUE(par.ok()) << par.status();
    ASSERT_TRUE(ser.ok()) << ser.status();
    EXPECT_GT(par->rows, 300000);
    EXPECT_EQ(par->rows, ser->rows);
    ExpectNearlyEqual(par->profile, ser->profile);
    // Where pieces are cut depends on the bytes only: other chunk sizes, the same profile.
    auto other = IngestMode(csv, true, 65537);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_EQ(other->profile, par->profile);
  }
}

TEST(IngestTest, ParallelPiecesReportTheLineOfAnError) {
  for (bool crlf : {false, true}) {
    std::string csv = MakeCsv(24u << 20, -1, crlf);
    // Break the record on line 400,001 (the header is line 1), far into a later piece.
    size_t pos = 0;
    for (int line = 1; line < 400001; ++line) pos = csv.find('\n', pos) + 1;
    csv.insert(pos, "1,2\n");
    for (bool parallel : {true, false}) {
      auto r = IngestMode(csv, parallel);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().message(), "line 400001 has 2 fields but the header has 4 (ragged row)")
          << "parallel " << parallel << " crlf " << crlf;
    }
  }
}

TEST(ValuesTest, FastDecimalParsingMatchesFromChars) {
  std::mt19937_64 rng(3);
  std::vector<std::string> cases = {"0",
                                    "-0",
                                    "1.",
                                    ".5",
                                    "-.5",
                                    "+7",
                                    "12345678.12345678",
                                    "99999999.9999999",
                                    "0.000001",
                                    "123456789.1",
                                    "1e5",
                                    "1.2.3",
                                    "--1",
                                    "+-1",
                                    "-",
                                    ".",
                                    "",
                                    "1,5",
                                    "0x10",
                                    "inf",
                                    "nan",
                                    " 1",
                                    "1 ",
                                    "9007199254740993",
                                    "9007199.254740993"};
  for (int i = 0; i < 200000; ++i) {
    int digits = 1 + static_cast<int>(rng() % 17);
    std::string s = rng() % 2 ? "-" : "";
    for (int d = 0; d < digits; ++d) s += static_cast<char>('0' + rng() % 10);
    size_t dot = rng() % (s.size() + 2);
    if (dot <= s.size() && dot > (s[0] == '-' ? 1u : 0u)) s.insert(dot, ".");
    cases.push_back(s);
  }
  for (const std::string& c : cases) {
    // The padded parser may read 16 bytes past the value.
    std::string padded = c + std::string(16, '7');
    absl::string_view v(padded.data(), c.size());
    auto fast = ParseDoublePadded(v);
    auto slow = ParseDouble(c);
    double ref = 0;
    const char* b = c.data() + (!c.empty() && c[0] == '+' && c.size() > 1 && c[1] != '-');
    auto [end, ec] = std::from_chars(b, c.data() + c.size(), ref);
    bool ref_ok = !c.empty() && ec == std::errc() && end == c.data() + c.size() &&
                  std::isfinite(ref) && c.find_first_of("ni") == std::string::npos;
    ASSERT_EQ(slow.has_value(), ref_ok) << c;
    ASSERT_EQ(fast.has_value(), ref_ok) << c;
    if (ref_ok) {
      EXPECT_EQ(std::bit_cast<uint64_t>(*slow), std::bit_cast<uint64_t>(ref)) << c;
      EXPECT_EQ(std::bit_cast<uint64_t>(*fast), std::bit_cast<uint64_t>(ref)) << c;
    }
  }
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
