// CSV and TSV readers: any bytes, cut anywhere, end in rows or an error, never a crash.
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (char delimiter : {',', '\t'}) {
    kade::fuzz::CountingSink sink;
    kade::CsvOptions o;
    o.delimiter = delimiter;
    auto parser = kade::MakeCsvParser(o, &sink);
    kade::fuzz::FeedInPieces(parser.get(), data, size);
  }
  return 0;
}
