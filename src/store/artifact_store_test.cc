#include "store/artifact_store.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "core/crypto.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace kade {
namespace {

int CountFiles(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

TEST(ArtifactStoreTest, PutAndReadBackVerified) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto info = store->Put("hello kade");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->sha256, Sha256Hex("hello kade"));
  EXPECT_EQ(info->size, 10u);
  EXPECT_EQ(*store->ReadAll(info->sha256), "hello kade");
  EXPECT_TRUE(store->Verify(info->sha256).ok());
}

TEST(ArtifactStoreTest, SameContentIsStoredOnce) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto a = *store->Put("same bytes");
  auto b = *store->Put("same bytes");
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(store->List()->size(), 1u);
}

TEST(ArtifactStoreTest, StreamedWriteMatchesOneShotHash) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto w = *store->NewWriter();
  std::string all;
  for (int i = 0; i < 100; ++i) {
    std::string chunk(1000 + i, static_cast<char>('a' + i % 26));
    all += chunk;
    ASSERT_TRUE(w->Append(chunk).ok());
  }
  auto info = *w->Commit();
  EXPECT_EQ(info.sha256, Sha256Hex(all));
  EXPECT_EQ(*store->ReadAll(info.sha256), all);
}

TEST(ArtifactStoreTest, AbandonedWriterLeavesNothingVisible) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  {
    auto w = *store->NewWriter();
    ASSERT_TRUE(w->Append("partial content").ok());
  }
  EXPECT_TRUE(store->List()->empty());
  EXPECT_EQ(CountFiles(dir.path() + "/tmp"), 0);
}

TEST(ArtifactStoreTest, WriteKilledMidwayLeavesNoVisibleBlob) {
  testing::TempDir dir;
  std::string partial(1 << 20, 'x');
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: start a write, push some bytes, and die without committing or cleaning up.
    auto store = ArtifactStore::OpenLocal(dir.path());
    auto w = (*store)->NewWriter();
    (void)(*w)->Append(partial);
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // The dead writer's temporary file exists but no blob is visible under any hash.
  EXPECT_EQ(CountFiles(dir.path() + "/tmp"), 1);
  auto store = *ArtifactStore::OpenLocal(dir.path());
  EXPECT_TRUE(store->List()->empty());
  EXPECT_EQ(store->Stat(Sha256Hex(partial)).status().code(), absl::StatusCode::kNotFound);
  // Reopening clears the leftover temporary file.
  EXPECT_EQ(CountFiles(dir.path() + "/tmp"), 0);
}

TEST(ArtifactStoreTest, CorruptedBlobIsDataLossNotReturned) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto info = *store->Put("original content of the model file");
  {
    std::ofstream f(store->LocalPath(info.sha256), std::ios::binary | std::ios::trunc);
    f << "tampered content of the model file";
  }
  auto read = store->ReadAll(info.sha256);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store->Verify(info.sha256).code(), absl::StatusCode::kDataLoss);
}

TEST(ArtifactStoreTest, TruncatedBlobIsDataLoss) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto info = *store->Put(std::string(100000, 'z'));
  ASSERT_EQ(::truncate(store->LocalPath(info.sha256).c_str(), 500), 0);
  EXPECT_EQ(store->Verify(info.sha256).code(), absl::StatusCode::kDataLoss);
}

TEST(ArtifactStoreTest, MissingBlobIsNotFound) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  EXPECT_EQ(store->Open(Sha256Hex("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Open("../../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ArtifactStoreTest, RemoveDeletesBlob) {
  testing::TempDir dir;
  auto store = *ArtifactStore::OpenLocal(dir.path());
  auto info = *store->Put("bye");
  ASSERT_TRUE(store->Remove(info.sha256).ok());
  EXPECT_TRUE(store->List()->empty());
}

TEST(ArtifactNameTest, AcceptsOrdinaryRelativeNames) {
  for (const char* ok : {"model.json", "reports/q3/summary.pdf", "a-b_c.d", "données/été.csv",
                         "x/.hidden", "...."}) {
    EXPECT_TRUE(ValidateArtifactName(ok).ok()) << ok;
  }
}

TEST(ArtifactNameTest, RejectsTraversalAbsoluteAndControlCharacters) {
  struct Case {
    std::string name;
    std::string expect;
  };
  const Case cases[] = {
      {"", "empty"},
      {"/etc/passwd", "relative"},
      {"../secret", "'..'"},
      {"a/../../b", "'..' path segment at position 3"},
      {"a/./b", "'.'"},
      {"a//b", "empty path segment"},
      {"a/", "end with '/'"},
      {std::string("a\0b", 3), "control character (0x00) at position 2"},
      {"a\nb", "control character (0x0a)"},
      {"a\x7f", "control character (0x7f)"},
      {"a\\..\\b", "backslash"},
      {"bad\xff", "UTF-8"},
      {std::string(1025, 'a'), "limit is 1024"},
  };
  for (const auto& c : cases) {
    absl::Status s = ValidateArtifactName(c.name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.expect), absl::string_view::npos) << s.message();
  }
}

}  // namespace
}  // namespace kade
