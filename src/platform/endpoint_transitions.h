// Serialises the changes of one endpoint's live state (create, update, rebuild after an
// alias move or a sync, delete) and remembers deleted endpoints, so that a rebuild that was
// waiting or in flight when its endpoint was deleted cannot install it again.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace kade {

class EndpointTransitions {
 public:
  using Key = std::pair<int64_t, std::string>;  // project id, endpoint name

  // Holds the endpoint's transition lock for its lifetime.
  class Guard {
   public:
    explicit Guard(std::shared_ptr<absl::Mutex> m) : m_(std::move(m)) { m_->Lock(); }
    ~Guard() { m_->Unlock(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    std::shared_ptr<absl::Mutex> m_;
  };

  std::unique_ptr<Guard> Lock(const Key& key) {
    std::shared_ptr<absl::Mutex> m;
    {
      absl::MutexLock l(&mu_);
      auto& slot = locks_[key];
      if (!slot) slot = std::make_shared<absl::Mutex>();
      m = slot;
    }
    return std::make_unique<Guard>(std::move(m));
  }

  // An endpoint is its record id with its creation time (SQLite may reuse an id).
  void MarkDeleted(int64_t endpoint_id, int64_t created_at) {
    absl::MutexLock l(&mu_);
    deleted_.insert({endpoint_id, created_at});
  }
  bool IsDeleted(int64_t endpoint_id, int64_t created_at) {
    absl::MutexLock l(&mu_);
    return deleted_.count({endpoint_id, created_at}) > 0;
  }

 private:
  absl::Mutex mu_;
  std::map<Key, std::shared_ptr<absl::Mutex>> locks_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, int64_t>> deleted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
