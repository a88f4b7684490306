#include "store/prediction_log.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace kade {
namespace {

namespace fs = std::filesystem;

PredictionRecord Entry(int i, int64_t ts, size_t pad = 0) {
  PredictionRecord r;
  r.endpoint_id = 7;
  r.request_id = absl::StrCat("req-", i);
  r.ts = ts;
  r.version = 1 + i % 3;
  r.shadow = i % 5 == 0;
  r.latency_us = 10 + i;
  r.features =
      absl::StrCat("{\"instances\": [{\"x\": ", i, ", \"pad\": \"", std::string(pad, 'p'), "\"}]}");
  r.outputs = absl::StrCat("{\"predictions\":[", i, "]}");
  return r;
}

std::vector<std::string> Ids(const std::vector<PredictionRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}

std::vector<std::string> Range(int from, int to) {  // req-from .. req-(to-1), or down
  std::vector<std::string> out;
  if (from <= to) {
    for (int i = from; i < to; ++i) out.push_back(absl::StrCat("req-", i));
  } else {
    for (int i = from; i > to; --i) out.push_back(absl::StrCat("req-", i));
  }
  return out;
}

const PredictionLog::Key kKey{7, 1700000000000};

TEST(PredictionLogTest, AppendsAndReadsNewestFirstAndOldestFirstAcrossSegments) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {/*segment_bytes=*/2000, /*segment_ms=*/3600 * 1000});
  for (int b = 0; b < 10; ++b) {
    std::vector<PredictionRecord> batch;
    for (int i = b * 10; i < b * 10 + 10; ++i) batch.push_back(Entry(i, 1000 + i));
    ASSERT_TRUE(log.Append(kKey, batch).ok());
  }
  // Small segments: the 100 entries are spread over several files.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path() + "/7-1700000000000")) {
    files += e.path().extension() == ".jsonl";
  }
  EXPECT_GT(files, 3u);

  auto newest = *log.Newest(kKey, 25);
  EXPECT_EQ(Ids(newest), Range(99, 74));
  const PredictionRecord& r = newest[4];  // req-95
  EXPECT_EQ(r.ts, 1095);
  EXPECT_EQ(r.version, 1 + 95 % 3);
  EXPECT_TRUE(r.shadow);
  EXPECT_EQ(r.latency_us, 105);
  EXPECT_EQ(r.endpoint_id, 7);
  EXPECT_EQ(Json::parse(r.features), Json::parse(Entry(95, 0).features));
  EXPECT_EQ(Json::parse(r.outputs), Json::parse(Entry(95, 0).outputs));
  EXPECT_EQ(Ids(*log.Newest(kKey, 1000)), Range(99, -1));

  auto first = *log.After(kKey, 0, 30);
  EXPECT_EQ(Ids(first), Range(0, 30));
  auto rest = *log.After(kKey, first.back().id, 1000);
  EXPECT_EQ(Ids(rest), Range(30, 100));
  EXPECT_TRUE(log.After(kKey, rest.back().id, 10)->empty());
  // Another endpoint has its own log.
  EXPECT_TRUE(log.Newest({8, 1}, 10)->empty());
}

TEST(PredictionLogTest, LinesAcrossReadChunksComeBackWhole) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {});
  std::mt19937 rng(3);
  std::vector<PredictionRecord> batch;
  std::vector<std::string> want;
  for (int i = 0; i < 3000; ++i) {  // about 3 MB of lines of random length in one segment
    batch.push_back(Entry(i, i, rng() % 2000));
    want.push_back(absl::StrCat("req-", i));
  }
  ASSERT_TRUE(log.Append(kKey, batch).ok());
  auto back = *log.Newest(kKey, 100000);
  std::vector<std::string> reversed(want.rbegin(), want.rend());
  EXPECT_EQ(Ids(back), reversed);
  EXPECT_EQ(Ids(*log.After(kKey, 0, 100000)), want);
  for (size_t i = 0; i < back.size(); i += 371) {
    EXPECT_EQ(Json::parse(back[i].features), Json::parse(batch[back.size() - 1 - i].features));
  }
}

TEST(PredictionLogTest, HostileTextStaysOneEntry) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {});
  PredictionRecord r = Entry(1, 5);
  r.request_id = "id with \"quotes\", \\ and \n newline";
  r.features = "{\n  \"instances\": [\r\n {\"name\": \"a\\nb \\\"q\\\"\", \"x\": 1}\n ]\n}";
  r.outputs = "";
  ASSERT_TRUE(log.Append(kKey, {r, Entry(2, 6)}).ok());
  auto rows = *log.Newest(kKey, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].request_id, r.request_id);
  EXPECT_EQ(Json::parse(rows[1].features), Json::parse(r.features));
  EXPECT_EQ(rows[1].outputs, "null");
  EXPECT_EQ(rows[0].request_id, "req-2");
}

TEST(PredictionLogTest, TornAndCorruptLinesAreSkipped) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {});
  ASSERT_TRUE(log.Append(kKey, {Entry(1, 1), Entry(2, 2)}).ok());
  const std::string seg = dir.path() + "/7-1700000000000/1.jsonl";
  {
    std::ofstream f(seg, std::ios::app);
    f << "this is not json\n";
  }
  ASSERT_TRUE(log.Append(kKey, {Entry(3, 3)}).ok());
  {
    std::ofstream f(seg, std::ios::app);
    f << "{\"request_id\":\"req-torn\",\"ts\":4,\"vers";  // a crash in the middle of a write
  }
  EXPECT_EQ(Ids(*log.Newest(kKey, 10)), (std::vector<std::string>{"req-3", "req-2", "req-1"}));
  EXPECT_EQ(Ids(*log.After(kKey, 0, 10)), (std::vector<std::string>{"req-1", "req-2", "req-3"}));
  // A new process never appends after the torn line: it starts its own segment.
  PredictionLog again(dir.path(), {});
  ASSERT_TRUE(again.Append(kKey, {Entry(5, 5)}).ok());
  EXPECT_TRUE(fs::exists(dir.path() + "/7-1700000000000/2.jsonl"));
  EXPECT_EQ(Ids(*again.Newest(kKey, 2)), (std::vector<std::string>{"req-5", "req-3"}));
}

TEST(PredictionLogTest, ForwardedEntriesAreNotSentAgainAndTheirSegmentsGo) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {/*segment_bytes=*/500, 3600 * 1000});
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(log.Append(kKey, {Entry(i, i)}).ok());  // about two entries per segment
  }
  auto sent = *log.After(kKey, 0, 12);
  ASSERT_EQ(sent.size(), 12u);
  ASSERT_TRUE(log.ForwardedThrough(kKey, sent.back().id).ok());
  // A restarted replica asks from 0 and gets only what was not sent.
  PredictionLog restarted(dir.path(), {});
  EXPECT_EQ(Ids(*restarted.After(kKey, 0, 100)), Range(12, 20));
  // The segments holding only sent entries are gone; the one with req-11 stays.
  auto kept = Ids(*restarted.Newest(kKey, 100));
  EXPECT_LT(kept.size(), 20u);
  EXPECT_GE(kept.size(), 9u);
  EXPECT_EQ(kept.front(), "req-19");
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "req-0"), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "req-11"), 1);
}

TEST(PredictionLogTest, RetentionDeletesOldSegmentsAndLogsOfDeletedEndpoints) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {/*segment_bytes=*/1, 3600 * 1000});  // one append per segment
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.Append(kKey, {Entry(i, 100 * (i + 1))}).ok());
  const PredictionLog::Key gone{9, 1};
  ASSERT_TRUE(log.Append(gone, {Entry(0, 100)}).ok());

  // A log no endpoint owns that was written to in the last hour may belong to an endpoint
  // another server just created: it stays.
  auto r = *log.Prune(/*before=*/250, {kKey});
  EXPECT_EQ(r.segments, 2);  // ts 100 and 200 of kKey
  EXPECT_GT(r.bytes, 0u);
  EXPECT_TRUE(fs::exists(dir.path() + "/9-1"));
  for (const auto& e : fs::directory_iterator(dir.path() + "/9-1")) {
    fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(2));
  }
  r = *log.Prune(/*before=*/250, {kKey});
  EXPECT_EQ(r.segments, 1);  // now it goes
  EXPECT_FALSE(fs::exists(dir.path() + "/9-1"));
  EXPECT_EQ(Ids(*log.Newest(kKey, 10)), Range(4, 1));

  // The segment being appended to stays, however old its entries.
  r = *log.Prune(/*before=*/10000, {kKey});
  EXPECT_EQ(r.segments, 2);
  EXPECT_EQ(Ids(*log.Newest(kKey, 10)), (std::vector<std::string>{"req-4"}));

  ASSERT_TRUE(log.Remove(kKey).ok());
  EXPECT_TRUE(log.Newest(kKey, 10)->empty());
  ASSERT_TRUE(log.Append(kKey, {Entry(7, 7)}).ok());  // and it can start again
  EXPECT_EQ(Ids(*log.Newest(kKey, 10)), (std::vector<std::string>{"req-7"}));
}

TEST(PredictionLogTest, RetentionStopsAtTheFirstSegmentItKeeps) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {/*segment_bytes=*/1, 3600 * 1000});  // one append per segment
  // Segment times out of order (a replica's entries forwarded late): 100, 300, 200, 400.
  // The first entry is 200 KB long: its time is read across several 64 KiB tail reads.
  ASSERT_TRUE(log.Append(kKey, {Entry(100, 100, 200000)}).ok());
  for (int64_t ts : {300, 200, 400}) ASSERT_TRUE(log.Append(kKey, {Entry(ts, ts)}).ok());
  auto r = *log.Prune(/*before=*/250, {kKey});
  EXPECT_EQ(r.segments, 1);  // 100 goes; 300 is kept, so the later 200 is not read
  EXPECT_GT(r.bytes, 200000u);
  EXPECT_EQ(Ids(*log.Newest(kKey, 10)),
            (std::vector<std::string>{"req-400", "req-200", "req-300"}));
}

TEST(PredictionLogTest, UnreadableSegmentsAndPositionsAreErrorsNotGaps) {
  testing::TempDir dir;
  PredictionLog log(dir.path(), {});
  ASSERT_TRUE(log.Append(kKey, {Entry(1, 1)}).ok());
  const std::string kdir = dir.path() + "/7-1700000000000";
  fs::create_directory(kdir + "/9.jsonl");  // a segment name that cannot be read
  auto newest = log.Newest(kKey, 10);
  EXPECT_FALSE(newest.ok());
  EXPECT_NE(newest.status().message().find("9.jsonl"), std::string::npos) << newest.status();
  fs::remove(kdir + "/9.jsonl");
  {
    std::ofstream f(kdir + "/forwarded");
    f << "garbage";
  }
  auto after = log.After(kKey, 0, 10);
  EXPECT_EQ(after.status().code(), absl::StatusCode::kDataLoss) << after.status();
  EXPECT_NE(after.status().message().find("forwarded"), std::string::npos);
}

}  // namespace
}  // namespace kade
