// The replica's authenticator against a scripted server: bounded caches, a transient failure
// is not "no role", a refused project is, and admin changes reach the replica.
#include "platform/replica_service.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_platform.h"

namespace kade {
namespace {

// Answers whoami and the project for tokens it knows; everything else as told.
class FakeUpstream : public Upstream {
 public:
  struct Caller {
    std::string name;
    bool admin = false;
    std::string role;  // empty: no role in the project (404)
  };
  absl::StatusOr<Json> GetJson(const std::string& path, const std::string& token) override {
    absl::MutexLock l(&mu);
    ++calls;
    if (!down.ok()) return down;
    auto it = callers.find(token);
    if (path == "/api/v1/whoami") {
      if (it == callers.end()) return absl::UnauthenticatedError("invalid API token");
      return Json{{"name", it->second.name}, {"admin", it->second.admin}};
    }
    if (path == "/api/v1/projects/p") {
      if (it == callers.end()) return absl::UnauthenticatedError("invalid API token");
      if (it->second.role.empty() && !it->second.admin) return absl::NotFoundError("no project");
      return Json{{"name", "p"}, {"role", it->second.role.empty() ? "owner" : it->second.role}};
    }
    if (path == "/api/v1/projects/p/endpoints") return Json{{"endpoints", Json::array()}};
    return absl::NotFoundError(path);
  }
  absl::StatusOr<std::string> GetBytes(const std::string& path) override {
    return absl::NotFoundError(path);
  }
  absl::StatusOr<Json> PostJson(const std::string& path, const Json&) override {
    return absl::NotFoundError(path);
  }
  std::string Describe() const override { return "http://fake"; }

  absl::Mutex mu;
  std::map<std::string, Caller> callers ABSL_GUARDED_BY(mu);
  absl::Status down ABSL_GUARDED_BY(mu);
  int calls ABSL_GUARDED_BY(mu) = 0;
};

class ReplicaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = testing::OpenTestPlatform(dir_.path());
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
  }
  std::unique_ptr<ReplicaService> Make(ReplicaOptions o) {
    o.project = "p";
    auto r = std::make_unique<ReplicaService>(platform_.get(), &up_, o);
    EXPECT_TRUE(r->SyncOnce().ok());
    return r;
  }
  // Whether `token` resolves the project on the replica (what a project route asks).
  absl::Status Sees(ReplicaService& r, const std::string& token) {
    ASSIGN_OR_RETURN(Principal who, r.Authenticate("Bearer " + token, "10.0.0.1"));
    return platform_->projects->Resolve(who, "p").status();
  }
  testing::TempDir dir_;
  std::unique_ptr<Platform> platform_;
  FakeUpstream up_;
};

TEST_F(ReplicaServiceTest, TransientFailureKeepsTheRoleAndARefusalRemovesIt) {
  {
    absl::MutexLock l(&up_.mu);
    up_.callers["kade_viewer"] = {"vik", false, "viewer"};
  }
  ReplicaOptions o;
  o.token_ttl_s = 1;
  o.unreachable_retry_ms = 300;
  auto r = Make(o);
  EXPECT_TRUE(Sees(*r, "kade_viewer").ok());
  {
    absl::MutexLock l(&up_.mu);
    up_.down = absl::UnavailableError("connection refused");
  }
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(Sees(*r, "kade_viewer").ok()) << "an unreachable server removed the role";
  {
    absl::MutexLock l(&up_.mu);
    up_.down = absl::OkStatus();
    up_.callers["kade_viewer"].role = "";
  }
  // The failed check is retried after a short pause, not after a whole TTL.
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_TRUE(absl::IsNotFound(Sees(*r, "kade_viewer")));
}

TEST_F(ReplicaServiceTest, AdminFlagFollowsTheServer) {
  {
    absl::MutexLock l(&up_.mu);
    up_.callers["kade_ada"] = {"ada", true, ""};
  }
  ReplicaOptions o;
  o.token_ttl_s = 1;
  auto r = Make(o);
  EXPECT_TRUE(Sees(*r, "kade_ada").ok());
  {
    absl::MutexLock l(&up_.mu);
    up_.callers["kade_ada"].admin = false;
  }
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(absl::IsNotFound(Sees(*r, "kade_ada")));
}

TEST_F(ReplicaServiceTest, CachesOfTokensAndRefusedAddressesAreBounded) {
  ReplicaOptions o;
  o.max_cached_tokens = 5;
  o.max_failure_addresses = 5;
  auto r = Make(o);
  for (int i = 0; i < 50; ++i) {
    const std::string t = absl::StrCat("kade_user", i);
    {
      absl::MutexLock l(&up_.mu);
      up_.callers[t] = {absl::StrCat("u", i), false, "viewer"};
    }
    EXPECT_TRUE(r->Authenticate("Bearer " + t, "10.0.0.1").ok());
    EXPECT_FALSE(
        r->Authenticate(absl::StrCat("Bearer kade_bad", i), absl::StrCat("10.1.0.", i)).ok());
    EXPECT_LE(r->cached_tokens(), 5u);
    EXPECT_LE(r->failure_addresses(), 5u);
  }
  // A token checked within the TTL is not asked about again.
  int before = 0;
  {
    absl::MutexLock l(&up_.mu);
    before = up_.calls;
  }
  EXPECT_TRUE(r->Authenticate("Bearer kade_user49", "10.0.0.1").ok());
  EXPECT_FALSE(r->MayBlock("Bearer kade_user49", "10.0.0.1"));
  absl::MutexLock l(&up_.mu);
  EXPECT_EQ(up_.calls, before);
}

}  // namespace
}  // namespace kade
