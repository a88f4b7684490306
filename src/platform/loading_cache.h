// A cache of loaded objects (model servables) with one load per key at a time, a memory
// budget, eviction of entries nobody holds, and retries with backoff after a failed load.
//
// A holder keeps an entry alive by keeping its shared_ptr (an endpoint's live state, a
// request pinned to a version, a gate re-scoring it); the cache evicts, least recently used
// first, only entries whose sole owner is the cache itself, and only while the budget is
// exceeded. A failed load is remembered: until its retry time (1 s, doubling to 60 s)
// the same error is answered without loading again, so a broken model file is read once per
// backoff step, not once per request.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kade {

struct LoadingCacheOptions {
  uint64_t budget_bytes = 2ull << 30;
  int64_t retry_initial_ms = 1000;
  int64_t retry_max_ms = 60000;
  size_t max_failed_entries = 1024;
  std::function<int64_t()> now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
};

template <typename K, typename T>
class LoadingCache {
 public:
  struct Loaded {
    std::shared_ptr<const T> value;
    uint64_t bytes = 0;  // what the value costs against the budget
  };
  using LoadFn = std::function<absl::StatusOr<Loaded>()>;

  struct Info {
    std::string state;  // "loading", "ready" or "failed"
    std::string error;  // the last failure
    int64_t retry_at_ms = 0;
    int64_t failures = 0;        // consecutive failed loads
    int64_t failures_total = 0;  // every failed load of this key
    uint64_t bytes = 0;
    double load_seconds = 0;
    long holders = 0;  // shared_ptr owners besides the cache
  };

  explicit LoadingCache(LoadingCacheOptions options = {}) : opt_(std::move(options)) {}
  ~LoadingCache() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    if (worker_.joinable()) worker_.join();
  }
  LoadingCache(const LoadingCache&) = delete;
  LoadingCache& operator=(const LoadingCache&) = delete;

  // The value for `key`, loading it on this thread when no one else is. A load already
  // running elsewhere is waited for up to `wait` (then Unavailable: still loading). During
  // the backoff after a failure the failure is answered again, naming the next retry.
  absl::StatusOr<std::shared_ptr<const T>> Get(const K& key, const LoadFn& load,
                                               absl::Duration wait = absl::InfiniteDuration()) {
    const absl::Time deadline = absl::Now() + wait;
    absl::MutexLock l(&mu_);
    for (;;) {
      Entry& e = entries_[key];
      if (e.value) {
        e.last_used_ms = opt_.now_ms();
        return e.value;
      }
      if (e.loading) {
        if (cv_.WaitWithDeadline(&mu_, deadline)) {  // timed out
          Entry& again = entries_[key];
          if (again.value) return again.value;
          if (again.loading) return absl::UnavailableError("still loading; retry shortly");
        }
        continue;
      }
      if (!e.error.ok() && opt_.now_ms() < e.retry_at_ms) return Failure(e);
      return LoadLocked(key, load);
    }
  }

  // The value for `key` without ever loading on this thread: a load in progress is waited
  // for up to `wait` (then Unavailable); a failure is answered; an absent key is Unavailable.
  absl::StatusOr<std::shared_ptr<const T>> Wait(const K& key, absl::Duration wait) {
    const absl::Time deadline = absl::Now() + wait;
    absl::MutexLock l(&mu_);
    for (;;) {
      auto it = entries_.find(key);
      if (it == entries_.end()) return absl::UnavailableError("not loaded");
      Entry& e = it->second;
      if (e.value) {
        e.last_used_ms = opt_.now_ms();
        return e.value;
      }
      if (!e.loading) return e.error.ok() ? absl::UnavailableError("not loaded") : Failure(e);
      if (cv_.WaitWithDeadline(&mu_, deadline)) {
        auto again = entries_.find(key);
        if (again != entries_.end() && again->second.value) return again->second.value;
        if (again != entries_.end() && !again->second.loading && !again->second.error.ok()) {
          return Failure(again->second);
        }
        return absl::UnavailableError("still loading; retry shortly");
      }
    }
  }

  // Starts a load on the cache's loader thread unless the key is loaded, loading, or
  // waiting out a failure's backoff.
  void LoadInBackground(const K& key, LoadFn load) {
    absl::MutexLock l(&mu_);
    Entry& e = entries_[key];
    if (e.value || e.loading || (!e.error.ok() && opt_.now_ms() < e.retry_at_ms)) return;
    e.loading = true;  // claimed now, so a second caller does not queue it again
    queue_.push_back({key, std::move(load)});
    if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
  }

  // The loaded value, or null (never loads).
  std::shared_ptr<const T> Peek(const K& key) {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.value) return nullptr;
    it->second.last_used_ms = opt_.now_ms();
    return it->second.value;
  }

  // Forgets a failure so that the next Get loads at once.
  void ClearFailure(const K& key) {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && !it->second.value && !it->second.loading) entries_.erase(it);
  }

  std::optional<Info> Describe(const K& key) {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return InfoOf(it->second);
  }

  std::vector<std::pair<K, Info>> Snapshot() {
    absl::MutexLock l(&mu_);
    std::vector<std::pair<K, Info>> out;
    for (const auto& [k, e] : entries_) out.push_back({k, InfoOf(e)});
    return out;
  }

  uint64_t bytes() {
    absl::MutexLock l(&mu_);
    return bytes_;
  }

  // Forgets entries whose key matches (their source was deleted); a load in progress and
  // holders keep their value, but the cache no longer hands it out.
  template <typename Pred>
  void EraseIf(Pred pred) {
    absl::MutexLock l(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (pred(it->first) && !it->second.loading) {
        bytes_ -= it->second.bytes;
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Evicts unheld entries until the budget holds (also done after every load).
  void Trim() {
    absl::MutexLock l(&mu_);
    TrimLocked();
  }

 private:
  struct Entry {
    std::shared_ptr<const T> value;
    uint64_t bytes = 0;
    bool loading = false;
    absl::Status error;
    int64_t retry_at_ms = 0;
    int64_t failures = 0;
    int64_t failures_total = 0;
    int64_t last_used_ms = 0;
    double load_seconds = 0;
  };
  struct Job {
    K key;
    LoadFn load;
  };

  Info InfoOf(const Entry& e) const {
    Info i;
    i.state = e.loading ? "loading" : e.value ? "ready" : "failed";
    i.error = std::string(e.error.message());
    i.retry_at_ms = e.value ? 0 : e.retry_at_ms;
    i.failures = e.failures;
    i.failures_total = e.failures_total;
    i.bytes = e.bytes;
    i.load_seconds = e.load_seconds;
    i.holders = e.value ? std::max<long>(0, e.value.use_count() - 1) : 0;
    return i;
  }

  absl::Status Failure(const Entry& e) const {
    int64_t wait_ms = std::max<int64_t>(0, e.retry_at_ms - opt_.now_ms());
    return absl::Status(e.error.code(),
                        absl::StrCat(e.error.message(), " (failed ", e.failures,
                                     " time(s); next retry in ", (wait_ms + 999) / 1000, " s)"));
  }

  // Called with mu_ held; releases it while `load` runs.
  absl::StatusOr<std::shared_ptr<const T>> LoadLocked(const K& key, const LoadFn& load)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    entries_[key].loading = true;
    mu_.Unlock();
    const absl::Time t0 = absl::Now();
    absl::StatusOr<Loaded> got = absl::InternalError("the load did not run");
    try {
      got = load();
    } catch (const std::exception& ex) {
      got = absl::InternalError(absl::StrCat("loading failed: ", ex.what()));
    }
    if (got.ok() && !got->value) got = absl::InternalError("the load produced nothing");
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    mu_.Lock();
    Entry& e = entries_[key];
    e.loading = false;
    e.load_seconds = seconds;
    cv_.SignalAll();
    if (!got.ok()) {
      e.error = got.status();
      ++e.failures;
      ++e.failures_total;
      int64_t backoff = opt_.retry_initial_ms;
      for (int64_t i = 1; i < e.failures && backoff < opt_.retry_max_ms; ++i) backoff *= 2;
      e.retry_at_ms = opt_.now_ms() + std::min(backoff, opt_.retry_max_ms);
      TrimFailedLocked();
      return got.status();
    }
    e.value = std::move(got->value);
    e.bytes = got->bytes;
    e.error = absl::OkStatus();
    e.failures = 0;
    e.retry_at_ms = 0;
    e.last_used_ms = opt_.now_ms();
    bytes_ += e.bytes;
    std::shared_ptr<const T> out = e.value;  // held while trimming, so it is not evicted
    TrimLocked();
    return out;
  }

  void TrimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (bytes_ > opt_.budget_bytes) {
      auto victim = entries_.end();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const Entry& e = it->second;
        if (!e.value || e.value.use_count() > 1) continue;
        if (victim == entries_.end() || e.last_used_ms < victim->second.last_used_ms) victim = it;
      }
      if (victim == entries_.end()) return;  // everything left is held: over budget until released
      bytes_ -= victim->second.bytes;
      entries_.erase(victim);
    }
  }

  void TrimFailedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t failed = 0;
    for (const auto& [k, e] : entries_) failed += (!e.value && !e.loading) ? 1 : 0;
    while (failed > opt_.max_failed_entries) {
      auto oldest = entries_.end();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->second.value || it->second.loading) continue;
        if (oldest == entries_.end() || it->second.retry_at_ms < oldest->second.retry_at_ms)
          oldest = it;
      }
      entries_.erase(oldest);
      --failed;
    }
  }

  void Work() {
    absl::MutexLock l(&mu_);
    for (;;) {
      mu_.Await(absl::Condition(
          +[](LoadingCache* c)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->stop_ || !c->queue_.empty(); },
          this));
      if (stop_) return;
      Job job = std::move(queue_.front());
      queue_.pop_front();
      entries_[job.key].loading = false;  // LoadLocked claims it again
      (void)LoadLocked(job.key, job.load);
    }
  }

  LoadingCacheOptions opt_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<K, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace kade
