// Rate-limits a repeated log line: the first occurrence of a key is logged, later ones at
// most once per interval, each with the number of occurrences held back since the last.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kade {

class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration every = absl::Seconds(10), size_t max_keys = 4096)
      : every_(every), max_keys_(max_keys) {}

  // True when a line for `key` should be written now; `*suppressed` is then how many were
  // held back since the last one written.
  bool Allow(const std::string& key, int64_t* suppressed) {
    const absl::Time now = absl::Now();
    absl::MutexLock l(&mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      if (keys_.size() >= max_keys_) keys_.clear();  // bounded; worst case a key logs again
      keys_[key] = Slot{now, 0};
      *suppressed = 0;
      return true;
    }
    if (now - it->second.last < every_) {
      ++it->second.held;
      return false;
    }
    *suppressed = it->second.held;
    it->second = Slot{now, 0};
    return true;
  }

 private:
  struct Slot {
    absl::Time last;
    int64_t held = 0;
  };
  const absl::Duration every_;
  const size_t max_keys_;
  absl::Mutex mu_;
  std::map<std::string, Slot> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
