// Reading a project artifact as a model file (imports too large for a request body): the
// bytes come back whole, and an artifact over the limit is refused before it is read.
#include "platform/registry_service.h"

#include "gtest/gtest.h"
#include "platform/artifact_service.h"
#include "platform/platform.h"
#include "platform/project_service.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_platform.h"

namespace kade {
namespace {

TEST(RegistryServiceTest, ModelArtifactsAreReadWholeAndCappedBeforeReading) {
  testing::TempDir dir;
  auto p = testing::OpenTestPlatform(dir.path());
  ASSERT_TRUE(p.ok()) << p.status();
  RequestContext ctx = SystemContext("test");
  auto project = (*p)->projects->Create(ctx, "p", "");
  ASSERT_TRUE(project.ok()) << project.status();
  const std::string bytes(100000, 'x');
  auto up = (*p)->artifacts->BeginUpload(*project, "imports/m/1.json", "application/json");
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE((*up)->Append(bytes).ok());
  ASSERT_TRUE((*up)->Finish(ctx).ok());

  auto whole = (*p)->registry->ReadArtifact(*project, "imports/m/1.json", bytes.size());
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, bytes);
  auto capped = (*p)->registry->ReadArtifact(*project, "imports/m/1.json", bytes.size() - 1);
  ASSERT_FALSE(capped.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(capped.status()));
  EXPECT_NE(capped.status().message().find("at most 99999"), std::string::npos) << capped.status();
  EXPECT_TRUE(
      absl::IsNotFound((*p)->registry->ReadArtifact(*project, "imports/m/none.json").status()));
}

}  // namespace
}  // namespace kade
