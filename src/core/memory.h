// Keeping a long-running server's resident memory close to what it uses. glibc's allocator
// keeps freed memory for reuse: per-thread arenas (up to 8 per core), a mmap threshold that
// grows after large frees (so later large buffers land in the heap and fragment it), and
// free pages inside the heap that are returned only from its top. After a burst of large
// requests the process can stay at several times its working set. TuneAllocator bounds the
// arenas and fixes the mmap threshold; MemoryReclaimer returns free pages periodically.
//
// Thread safety: TuneAllocator before other threads start; MemoryReclaimer is self-contained.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/synchronization/notification.h"

namespace kade {

// `arenas`: the most malloc arenas (0: glibc's default). Buffers of 1 MiB and more are
// mapped and unmapped directly.
void TuneAllocator(int arenas);

// Gives free heap pages back to the system (malloc_trim); returns whether any were.
bool ReleaseFreeMemory();

// The process's resident set size in bytes (0 when unknown).
uint64_t ResidentBytes();

// Calls ReleaseFreeMemory every `interval_s` seconds on its own thread until destroyed.
class MemoryReclaimer {
 public:
  explicit MemoryReclaimer(int interval_s = 10);
  ~MemoryReclaimer();
  MemoryReclaimer(const MemoryReclaimer&) = delete;
  MemoryReclaimer& operator=(const MemoryReclaimer&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kade
