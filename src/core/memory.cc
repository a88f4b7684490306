#include "core/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#include "absl/time/time.h"
#include "core/log.h"

namespace kade {

void TuneAllocator(int arenas) {
  if (arenas > 0) mallopt(M_ARENA_MAX, arenas);
  // A fixed threshold turns off glibc's growing one: large buffers (request bodies, decoded
  // batches, profiles) are always their own mapping and go back to the system when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Returning the heap's top costs a system call; not for less than 16 MiB.
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
}

bool ReleaseFreeMemory() { return malloc_trim(0) != 0; }

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

MemoryReclaimer::MemoryReclaimer(int interval_s)
    : thread_([this, interval_s] {
        NameThread("kade-reclaim");
        while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(interval_s))) {
          ReleaseFreeMemory();
        }
      }) {}

MemoryReclaimer::~MemoryReclaimer() {
  stop_.Notify();
  thread_.join();
}

}  // namespace kade
