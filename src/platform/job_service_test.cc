// Retries of jobs of plug-in kinds (batch scoring uses them): a transient failure is queued
// again until it succeeds or its attempts are used up; an error that would only repeat is
// not retried.
#include "platform/job_service.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "core/config.h"
#include "gtest/gtest.h"
#include "platform/auth_service.h"
#include "platform/platform.h"
#include "platform/project_service.h"
#include "tests/util/temp_dir.h"

namespace kade {
namespace {

class JobRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig cfg;
    cfg.data_dir = dir_.path();
    cfg.job_workers = 1;
    cfg.job_retry_backoff_s = 0.2;  // then 0.4 s: the retries' wait is observable, briefly
    auto p = Platform::Open(cfg);
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
    User u;
    u.name = "jo";
    auto user = platform_->auth->CreateUser(ctx_, u);
    ASSERT_TRUE(user.ok()) << user.status();
    ctx_.principal.user_id = user->id;
    ctx_.principal.user_name = user->name;
    auto project = platform_->projects->Create(ctx_, "p", "");
    ASSERT_TRUE(project.ok()) << project.status();
    project_ = *project;
  }
  void TearDown() override {
    if (platform_) platform_->jobs->Stop();
  }

  // Runs a job of `kind` whose runner fails with `failure` on its first `failures` attempts.
  Job RunFlaky(const std::string& kind, absl::Status failure, int failures) {
    auto calls = std::make_shared<std::atomic<int>>(0);
    platform_->jobs->RegisterKind(
        kind,
        [calls, failure, failures](const Job&, const RequestContext&, const std::atomic<bool>&,
                                   const std::function<void(const std::string&)>&)
            -> absl::StatusOr<std::pair<std::string, Json>> {
          if (calls->fetch_add(1) < failures) return failure;
          return std::make_pair(std::string(), Json{{"ok", true}});
        });
    platform_->jobs->Start();
    auto job = platform_->jobs->Enqueue(ctx_, project_, kind, Json::object(), "test.job",
                                        Json::object(), "queued by the test");
    EXPECT_TRUE(job.ok()) << job.status();
    // Bounded wait for the job to end (a liveness guard, not a timing assertion).
    for (int i = 0; i < 600; ++i) {
      auto j = platform_->jobs->Get(project_, job->uuid);
      if (j.ok() && (j->status == "succeeded" || j->status == "failed")) return *j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job did not end";
    return *job;
  }

  std::string Logs(const Job& job) {
    std::string all;
    auto lines = platform_->jobs->Logs(project_, job.uuid, 0);
    if (lines.ok())
      for (const auto& l : *lines) all += l.line + "\n";
    return all;
  }

  testing::TempDir dir_;
  RequestContext ctx_ = SystemContext("test");
  std::unique_ptr<Platform> platform_;
  Project project_;
};

TEST_F(JobRetryTest, TransientFailureIsRetriedUntilItSucceeds) {
  Job j = RunFlaky("flaky", absl::UnavailableError("disk went away"), 2);
  EXPECT_EQ(j.status, "succeeded") << Logs(j);
  EXPECT_EQ(j.attempts, 3);
  EXPECT_TRUE(absl::StrContains(Logs(j),
                                "attempt 1 failed: disk went away; queued again, "
                                "next attempt in 0.2 s"))
      << Logs(j);
  EXPECT_TRUE(absl::StrContains(Logs(j),
                                "attempt 2 failed: disk went away; queued again, "
                                "next attempt in 0.4 s"))
      << Logs(j);
  // The attempts were spaced by the backoff: the job ran for 0.6 s at least (a lower bound
  // the code guarantees, not a timing threshold on the machine's speed).
  ASSERT_TRUE(j.started_at && j.finished_at);
  EXPECT_GE(*j.finished_at - *j.started_at, 600) << Logs(j);
}

TEST_F(JobRetryTest, AttemptsRunOut) {
  Job j = RunFlaky("broken", absl::InternalError("always"), 100);
  EXPECT_EQ(j.status, "failed");
  EXPECT_EQ(j.attempts, j.max_attempts);
  EXPECT_EQ(j.error, "always");
}

TEST_F(JobRetryTest, AJobOfASubmitterWhoLostTheEditorRoleDoesNotRun) {
  User u;
  u.name = "kim";
  auto kim = platform_->auth->CreateUser(ctx_, u);
  ASSERT_TRUE(kim.ok()) << kim.status();
  ProjectView view{project_, Role::kOwner};
  ASSERT_TRUE(platform_->projects->SetMember(ctx_, view, "kim", Role::kEditor).ok());
  RequestContext as_kim = ctx_;
  as_kim.principal.user_id = kim->id;
  as_kim.principal.user_name = kim->name;
  auto ran = std::make_shared<std::atomic<bool>>(false);
  platform_->jobs->RegisterKind("k",
                                [ran](const Job&, const RequestContext&, const std::atomic<bool>&,
                                      const std::function<void(const std::string&)>&)
                                    -> absl::StatusOr<std::pair<std::string, Json>> {
                                  *ran = true;
                                  return std::make_pair(std::string(), Json::object());
                                });
  auto job = platform_->jobs->Enqueue(as_kim, project_, "k", Json::object(), "test.job",
                                      Json::object(), "queued by kim");
  ASSERT_TRUE(job.ok()) << job.status();
  // Kim becomes a viewer before a worker takes the job up.
  ASSERT_TRUE(platform_->projects->SetMember(ctx_, view, "kim", Role::kViewer).ok());
  platform_->jobs->Start();
  Job j = *job;
  for (int i = 0; i < 600 && j.status != "failed" && j.status != "succeeded"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    j = *platform_->jobs->Get(project_, job->uuid);
  }
  EXPECT_EQ(j.status, "failed");
  EXPECT_EQ(j.attempts, 1);  // not retried
  EXPECT_TRUE(absl::StrContains(j.error, "'kim' no longer has the editor role")) << j.error;
  EXPECT_FALSE(*ran);
}

TEST_F(JobRetryTest, ErrorsThatWouldRepeatAreNotRetried) {
  Job j = RunFlaky("bad-spec", absl::InvalidArgumentError("no such column"), 100);
  EXPECT_EQ(j.status, "failed");
  EXPECT_EQ(j.attempts, 1) << Logs(j);
}

}  // namespace
}  // namespace kade
