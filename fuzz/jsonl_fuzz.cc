// The JSON Lines reader: any bytes, cut anywhere, end in rows or an error, never a crash.
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kade::fuzz::CountingSink sink;
  auto parser = kade::MakeJsonlParser(&sink);
  kade::fuzz::FeedInPieces(parser.get(), data, size);
  return 0;
}
