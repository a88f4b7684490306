// Freed small allocations are given back to the system by ReleaseFreeMemory.
#include "core/memory.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace kade {
namespace {

TEST(MemoryTest, FreedHeapMemoryIsReturned) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer replaces glibc's allocator (and keeps freed memory in "
                  "quarantine): malloc_trim is not what manages memory there";
#endif
#endif
  const uint64_t before = ResidentBytes();
  ASSERT_GT(before, 0u);
  {
    // 256 MiB in 4 KiB pieces: heap memory, not separate mappings.
    std::vector<std::unique_ptr<char[]>> pieces;
    for (int i = 0; i < 65536; ++i) {
      pieces.emplace_back(new char[4096]);
      for (int j = 0; j < 4096; j += 512) pieces.back()[j] = static_cast<char>(j);
    }
    EXPECT_GT(ResidentBytes(), before + (200ull << 20));
  }
  ReleaseFreeMemory();
  EXPECT_LT(ResidentBytes(), before + (64ull << 20));
}

}  // namespace
}  // namespace kade
