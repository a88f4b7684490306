#include "platform/loading_cache.h"

#include "platform/endpoint_transitions.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kade {
namespace {

using Cache = LoadingCache<int, std::string>;

struct FakeClock {
  std::atomic<int64_t> ms{1000000};
  LoadingCacheOptions Options(uint64_t budget = 1000) {
    LoadingCacheOptions o;
    o.budget_bytes = budget;
    o.now_ms = [this] { return ms.load(); };
    return o;
  }
};

Cache::LoadFn Value(std::string v, uint64_t bytes, std::atomic<int>* calls = nullptr) {
  return [v, bytes, calls]() -> absl::StatusOr<Cache::Loaded> {
    if (calls) ++*calls;
    return Cache::Loaded{std::make_shared<const std::string>(v), bytes};
  };
}

TEST(LoadingCacheTest, ConcurrentMissesLoadOnce) {
  FakeClock clock;
  Cache cache(clock.Options());
  std::atomic<int> calls{0};
  absl::Notification release;
  auto slow = [&]() -> absl::StatusOr<Cache::Loaded> {
    ++calls;
    release.WaitForNotification();
    return Cache::Loaded{std::make_shared<const std::string>("v1"), 10};
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto v = cache.Get(1, slow);
      if (v.ok() && **v == "v1") ++ok;
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(cache.Describe(1)->state, "loading");
  release.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(cache.Describe(1)->state, "ready");
}

TEST(LoadingCacheTest, AWaiterWithADeadlineIsToldTheVersionIsLoading) {
  FakeClock clock;
  Cache cache(clock.Options());
  absl::Notification started, release;
  std::thread loader([&] {
    (void)cache.Get(1, [&]() -> absl::StatusOr<Cache::Loaded> {
      started.Notify();
      release.WaitForNotification();
      return Cache::Loaded{std::make_shared<const std::string>("v1"), 1};
    });
  });
  started.WaitForNotification();
  auto v = cache.Get(1, Value("other", 1), absl::Milliseconds(20));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  release.Notify();
  loader.join();
  EXPECT_EQ(**cache.Get(1, Value("other", 1)), "v1");
}

TEST(LoadingCacheTest, AFailedLoadIsRetriedOnlyAfterItsBackoffAndThenRecovers) {
  FakeClock clock;
  Cache cache(clock.Options());
  std::atomic<int> calls{0};
  bool broken = true;
  auto load = [&]() -> absl::StatusOr<Cache::Loaded> {
    ++calls;
    if (broken) return absl::DataLossError("model file does not match its hash");
    return Cache::Loaded{std::make_shared<const std::string>("fixed"), 1};
  };
  auto first = cache.Get(7, load);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDataLoss);
  // Within the backoff: the same error, no new load, and the message says when.
  for (int i = 0; i < 100; ++i) {
    auto again = cache.Get(7, load);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.status().message().find("next retry in 1 s"), std::string::npos)
        << again.status();
  }
  EXPECT_EQ(calls.load(), 1);
  auto info = cache.Describe(7);
  EXPECT_EQ(info->state, "failed");
  EXPECT_EQ(info->retry_at_ms, clock.ms.load() + 1000);
  // The backoff doubles with each failure.
  clock.ms += 1000;
  EXPECT_FALSE(cache.Get(7, load).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(cache.Describe(7)->retry_at_ms, clock.ms.load() + 2000);
  clock.ms += 1999;
  EXPECT_FALSE(cache.Get(7, load).ok());
  EXPECT_EQ(calls.load(), 2);
  // Repaired: the next retry loads it.
  broken = false;
  clock.ms += 1;
  auto fixed = cache.Get(7, load);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(**fixed, "fixed");
  EXPECT_EQ(cache.Describe(7)->failures, 0);
  EXPECT_EQ(cache.Describe(7)->failures_total, 2);
}

TEST(LoadingCacheTest, EvictsOnlyUnheldEntriesLeastRecentlyUsedFirstUnderTheBudget) {
  FakeClock clock;
  Cache cache(clock.Options(/*budget=*/300));
  auto held = *cache.Get(1, Value("one", 100));
  clock.ms += 1;
  (void)cache.Get(2, Value("two", 100));
  clock.ms += 1;
  (void)cache.Get(3, Value("three", 100));
  clock.ms += 1;
  (void)cache.Get(2, Value("two", 100));  // 2 used more recently than 3
  clock.ms += 1;
  // A fourth passes the budget: the least recently used unheld entry (3) goes; 1 is held.
  auto four = *cache.Get(4, Value("four", 100));
  EXPECT_EQ(cache.bytes(), 300u);
  EXPECT_NE(cache.Peek(1), nullptr);
  EXPECT_NE(cache.Peek(2), nullptr);
  EXPECT_EQ(cache.Peek(3), nullptr);
  EXPECT_EQ(cache.Describe(1)->holders, 1);
  // More versions than fit, all held: the cache stays over budget until they are released.
  std::vector<std::shared_ptr<const std::string>> pins;
  for (int k = 10; k < 20; ++k) pins.push_back(*cache.Get(k, Value("x", 100)));
  EXPECT_EQ(cache.bytes(), 1200u);  // 1, 4 and ten pins are held; 2 was evicted
  EXPECT_EQ(cache.Peek(2), nullptr);
  pins.clear();
  held.reset();
  four.reset();
  cache.Trim();
  EXPECT_LE(cache.bytes(), 300u);
}

TEST(LoadingCacheTest, BackgroundLoadsRunOnceAndAThrowingLoaderIsAFailure) {
  FakeClock clock;
  Cache cache(clock.Options());
  std::atomic<int> calls{0};
  for (int i = 0; i < 5; ++i) cache.LoadInBackground(5, Value("bg", 1, &calls));
  for (int i = 0; i < 200 && !cache.Peek(5); ++i) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_NE(cache.Peek(5), nullptr);
  EXPECT_EQ(calls.load(), 1);
  auto thrown = cache.Get(6, []() -> absl::StatusOr<Cache::Loaded> {
    throw std::runtime_error("bad alloc in parser");
  });
  EXPECT_EQ(thrown.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cache.Describe(6)->state, "failed");
  cache.ClearFailure(6);
  EXPECT_TRUE(cache.Get(6, Value("ok", 1)).ok());
}

// The serving manager's rule: a rebuild takes the endpoint's lock and installs only when the
// endpoint was not deleted meanwhile; a delete takes the same lock and marks it deleted.
TEST(EndpointTransitionsTest, ADeleteWinsOverARebuildInFlight) {
  EndpointTransitions tr;
  std::map<std::string, int> installed;  // the "live states"
  absl::Mutex states_mu;
  auto rebuild = [&](absl::Notification* loading, absl::Notification* proceed) {
    auto g = tr.Lock({1, "e"});
    if (tr.IsDeleted(7, 100)) return;
    loading->Notify();
    proceed->WaitForNotification();  // the model loads
    if (tr.IsDeleted(7, 100)) return;
    absl::MutexLock l(&states_mu);
    installed["e"] = 2;
  };
  auto remove = [&] {
    auto g = tr.Lock({1, "e"});
    tr.MarkDeleted(7, 100);
    absl::MutexLock l(&states_mu);
    installed.erase("e");
  };
  installed["e"] = 1;
  // A rebuild in flight when the delete arrives: the delete waits, then wins.
  absl::Notification loading, proceed;
  std::thread a([&] { rebuild(&loading, &proceed); });
  loading.WaitForNotification();
  std::thread d(remove);
  absl::SleepFor(absl::Milliseconds(20));
  proceed.Notify();
  a.join();
  d.join();
  EXPECT_EQ(installed.count("e"), 0u);
  // A rebuild queued behind the delete (a sync that read the endpoint before): nothing.
  absl::Notification l2, p2;
  p2.Notify();
  rebuild(&l2, &p2);
  EXPECT_FALSE(l2.HasBeenNotified());
  EXPECT_EQ(installed.count("e"), 0u);
  // The same id with another creation time is another endpoint.
  EXPECT_FALSE(tr.IsDeleted(7, 101));
}

}  // namespace
}  // namespace kade
