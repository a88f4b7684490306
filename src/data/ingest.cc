#include "data/ingest.h"

#include <zlib.h>
#include <zstd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace kade {

const char* TableFormatName(TableFormat f) {
  switch (f) {
    case TableFormat::kCsv:
      return "csv";
    case TableFormat::kTsv:
      return "tsv";
    case TableFormat::kJsonl:
      return "jsonl";
    default:
      return "auto";
  }
}

std::optional<TableFormat> ParseTableFormat(absl::string_view name) {
  if (name == "csv") return TableFormat::kCsv;
  if (name == "tsv") return TableFormat::kTsv;
  if (name == "jsonl" || name == "ndjson") return TableFormat::kJsonl;
  if (name == "auto" || name.empty()) return TableFormat::kAuto;
  return std::nullopt;
}

namespace {

class Decompressor {
 public:
  virtual ~Decompressor() = default;
  // Calls `out` for each decompressed piece.
  virtual absl::Status Feed(absl::string_view in,
                            const std::function<absl::Status(absl::string_view)>& out) = 0;
  virtual absl::Status Finish() = 0;
};

class GzipDecompressor : public Decompressor {
 public:
  GzipDecompressor() {
    zs_ = {};
    inflateInit2(&zs_, 16 + MAX_WBITS);
  }
  ~GzipDecompressor() override { inflateEnd(&zs_); }
  absl::Status Feed(absl::string_view in,
                    const std::function<absl::Status(absl::string_view)>& out) override {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    while (zs_.avail_in > 0) {
      if (ended_) {
        // Concatenated gzip members are one stream (as gunzip reads them).
        inflateReset(&zs_);
        ended_ = false;
      }
      zs_.next_out = reinterpret_cast<Bytef*>(buf_);
      zs_.avail_out = sizeof(buf_);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        return absl::InvalidArgumentError(
            absl::StrCat("gzip data is corrupt: ", zs_.msg ? zs_.msg : "inflate failed"));
      }
      size_t n = sizeof(buf_) - zs_.avail_out;
      if (n > 0) RETURN_IF_ERROR(out(absl::string_view(buf_, n)));
      if (rc == Z_STREAM_END) ended_ = true;
      if (rc == Z_BUF_ERROR && n == 0) break;
    }
    return absl::OkStatus();
  }
  absl::Status Finish() override {
    if (!ended_) return absl::InvalidArgumentError("gzip data is truncated (no end of stream)");
    return absl::OkStatus();
  }

 private:
  z_stream zs_;
  bool ended_ = false;
  char buf_[256 * 1024];
};

class ZstdDecompressor : public Decompressor {
 public:
  ZstdDecompressor() : ds_(ZSTD_createDStream()) { ZSTD_initDStream(ds_); }
  ~ZstdDecompressor() override { ZSTD_freeDStream(ds_); }
  absl::Status Feed(absl::string_view in,
                    const std::function<absl::Status(absl::string_view)>& out) override {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{buf_, sizeof(buf_), 0};
      size_t rc = ZSTD_decompressStream(ds_, &ob, &ib);
      if (ZSTD_isError(rc)) {
        return absl::InvalidArgumentError(
            absl::StrCat("zstd data is corrupt: ", ZSTD_getErrorName(rc)));
      }
      last_ = rc;
      if (ob.pos > 0) RETURN_IF_ERROR(out(absl::string_view(buf_, ob.pos)));
    }
    // Drain output still buffered inside the decoder.
    for (;;) {
      ZSTD_inBuffer empty{nullptr, 0, 0};
      ZSTD_outBuffer ob{buf_, sizeof(buf_), 0};
      size_t rc = ZSTD_decompressStream(ds_, &ob, &empty);
      if (ZSTD_isError(rc)) {
        return absl::InvalidArgumentError(
            absl::StrCat("zstd data is corrupt: ", ZSTD_getErrorName(rc)));
      }
      if (ob.pos == 0) break;  // nothing buffered; keep the hint of the last real input
      last_ = rc;
      RETURN_IF_ERROR(out(absl::string_view(buf_, ob.pos)));
    }
    return absl::OkStatus();
  }
  absl::Status Finish() override {
    if (last_ != 0)
      return absl::InvalidArgumentError("zstd data is truncated (frame not complete)");
    return absl::OkStatus();
  }

 private:
  ZSTD_DStream* ds_;
  size_t last_ = 1;
  char buf_[256 * 1024];
};

// Hands the header and each block to every sink in turn.
class TeeSink : public RecordSink {
 public:
  std::vector<RecordSink*> sinks;
  size_t max_columns = 0;  // 0: no limit
  absl::Status OnHeader(const std::vector<std::string>& columns) override {
    if (max_columns > 0 && columns.size() > max_columns) {
      return absl::InvalidArgumentError(
          absl::StrCat("the table has ", columns.size(), " columns; at most ", max_columns,
                       " are accepted (server option --max-columns)"));
    }
    for (RecordSink* s : sinks) RETURN_IF_ERROR(s->OnHeader(columns));
    return absl::OkStatus();
  }
  absl::Status OnBlock(const RowBlock& block) override {
    for (RecordSink* s : sinks) RETURN_IF_ERROR(s->OnBlock(block));
    return absl::OkStatus();
  }
};

// Runs the downstream sinks on a block while the parser fills the next one, so parsing and
// profiling overlap (the profiler splits its columns over the cores on top). The block is
// copied into a second buffer, which costs one memcpy of its bytes. An error of a block
// surfaces at the next hand-off or at Drain.
class PipelineSink : public RecordSink {
 public:
  explicit PipelineSink(RecordSink* next) : next_(next) {}
  ~PipelineSink() override { Drain().IgnoreError(); }
  absl::Status OnHeader(const std::vector<std::string>& columns) override {
    RETURN_IF_ERROR(Drain());
    header_ = columns;
    return next_->OnHeader(columns);
  }
  const std::vector<std::string>& header() const { return header_; }
  absl::Status OnBlock(const RowBlock& block) override {
    RETURN_IF_ERROR(Drain());
    working_ = block;
    return Start();
  }
  absl::Status OnBlockSwap(RowBlock& block) override {
    RETURN_IF_ERROR(Drain());
    std::swap(working_, block);  // the parser gets the spent block back
    return Start();
  }
  absl::Status Start() {
    pending_ = std::async(std::launch::async, [this] { return next_->OnBlock(working_); });
    return absl::OkStatus();
  }
  // Waits for the block in flight; returns the first error of any block so far.
  absl::Status Drain() {
    if (pending_.valid()) {
      absl::Status s = pending_.get();
      if (status_.ok()) status_ = s;
    }
    return status_;
  }

 private:
  RecordSink* next_;
  std::vector<std::string> header_;
  RowBlock working_;
  std::future<absl::Status> pending_;
  absl::Status status_;
};

// Spent blocks, reused so their buffers are not allocated (and page-faulted) afresh.
class BlockPool {
 public:
  RowBlock Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return RowBlock();
    RowBlock b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void Put(RowBlock b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < 8) free_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::vector<RowBlock> free_;
};

// Keeps the blocks of one piece of a CSV file, taking them from the parser by swap.
class BlockCollector : public RecordSink {
 public:
  explicit BlockCollector(BlockPool* pool) : pool_(pool) {}
  std::vector<RowBlock> blocks;
  absl::Status OnHeader(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status OnBlock(const RowBlock& block) override {
    blocks.push_back(block);
    return absl::OkStatus();
  }
  absl::Status OnBlockSwap(RowBlock& block) override {
    blocks.push_back(pool_->Get());
    std::swap(blocks.back(), block);
    return absl::OkStatus();
  }

 private:
  BlockPool* pool_;
};

struct ParsedPiece {
  absl::Status status;
  std::vector<RowBlock> blocks;
  int64_t rows = 0;
  int64_t first_line = 0;
  bool quoted = false;  // the piece has a quote character and was not parsed
  std::string bytes;    // the piece itself, handed back for a serial parse
};

int64_t CountLines(absl::string_view s);

// Runs on the piece's own thread: counts the piece's lines and passes on the line number of
// the next piece (so the reading thread does not scan the bytes), then parses the piece,
// unless it holds a quote character: then a newline in it may sit inside a quoted field,
// and the piece goes back unparsed.
ParsedPiece ParsePiece(const CsvOptions& csv, const std::vector<std::string>& header,
                       std::string piece, std::shared_future<int64_t> first_line,
                       std::promise<int64_t> next_line, BlockPool* pool) {
  ParsedPiece out;
  const int64_t lines = CountLines(piece);
  out.first_line = first_line.get();
  next_line.set_value(out.first_line + lines);
  if (std::memchr(piece.data(), csv.quote, piece.size()) != nullptr) {
    out.quoted = true;
  } else {
    BlockCollector fast(pool);
    RowBlock spare = pool->Get();
    const bool plain = ParsePlainCsvPiece(piece, csv.delimiter, header.size(), out.first_line,
                                          &fast, &out.rows, &spare);
    pool->Put(std::move(spare));
    if (plain) {
      out.blocks = std::move(fast.blocks);
    } else {
      for (RowBlock& b : fast.blocks) pool->Put(std::move(b));
      BlockCollector collector(pool);
      auto parser = MakeCsvPieceParser(csv, header, out.first_line, &collector);
      out.status = parser->Feed(piece);
      if (out.status.ok()) out.status = parser->Finish();
      out.blocks = std::move(collector.blocks);
      out.rows = parser->rows();
    }
  }
  out.bytes = std::move(piece);
  return out;
}

// Lines in a run of whole records without quotes: LF, CR LF and a lone CR each end one.
int64_t CountLines(absl::string_view s) {
  int64_t lf = 0;
  size_t i = 0;
#ifdef __SSE2__
  // Byte counters (0 - 0xFF per match) summed with SAD every 255 steps, before they wrap.
  const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  while (i + 16 <= s.size()) {
    __m128i acc = zero;
    for (int k = 0; k < 255 && i + 16 <= s.size(); ++k, i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
    }
    __m128i sums = _mm_sad_epu8(acc, zero);
    lf += _mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
  }
#endif
  lf += std::count(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), '\n');
  const char* p = s.data();
  const char* end = p + s.size();
  int64_t lone_cr = 0;
  while ((p = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)))) !=
         nullptr) {
    if (p + 1 == end || p[1] != '\n') ++lone_cr;
    ++p;
  }
  return lf + lone_cr;
}

}  // namespace

struct Ingest::Impl {
  IngestOptions opt;
  IngestResult result;
  std::string head;  // raw bytes held until the compression is known
  bool compression_known = false;
  std::unique_ptr<Decompressor> dec;
  std::string sniff;  // decompressed bytes held until the format is known
  std::unique_ptr<RecordParser> parser;
  std::unique_ptr<Profiler> profiler;
  TeeSink tee;
  PipelineSink pipe{&tee};

  // Parallel CSV. After the header, the input is cut into pieces of whole records and the
  // pieces are parsed on their own threads while the sinks work through earlier ones; the
  // blocks reach the sinks in file order, and the first error in file order is the one
  // reported. A cut is made at the last newline of the buffered bytes, which ends a record
  // when those bytes hold no quote character; at the first quote character (or when no
  // newline comes) the rest of the file goes through one serial parser instead.
  static constexpr size_t kPieceBytes = 8u << 20;
  static constexpr size_t kPiecesInFlight = 4;
  bool pieces = false;
  CsvOptions csv;
  std::string pending;  // bytes after the last cut, starting at a record boundary
  std::shared_future<int64_t> pending_line;  // line number of pending[0]
  BlockPool pool;  // before in_flight: the piece threads use it until they are joined
  std::deque<std::future<ParsedPiece>> in_flight;
  ~Impl() { in_flight.clear(); }  // waits for the piece threads (std::async futures join)
  int64_t piece_rows = 0;

  // Cuts at the last newline within the first kPieceBytes of `pending`, so where pieces
  // start depends only on the bytes, not on how they arrived: the blocks, and with them the
  // last bits of the floating-point sums, are the same for every upload of a file.
  absl::Status CutPiece(bool final) {
    size_t cut = final ? pending.size() : pending.rfind('\n', kPieceBytes - 1);
    if (cut == std::string::npos) return ToSerial();  // a record longer than a piece
    if (!final) ++cut;
    if (cut > 0) {
      std::string piece;
      piece.swap(pending);
      pending = TakeBuffer();
      pending.append(piece, cut);  // the (short) tail after the cut
      piece.resize(cut);
      std::promise<int64_t> next;
      std::shared_future<int64_t> next_line = next.get_future().share();
      in_flight.push_back(std::async(std::launch::async,
                                     [this, p = std::move(piece), first = pending_line,
                                      n = std::move(next)]() mutable -> ParsedPiece {
                                       return ParsePiece(csv, pipe.header(), std::move(p), first,
                                                         std::move(n), &pool);
                                     }));
      pending_line = next_line;
    }
    while (pieces && in_flight.size() > (final ? 0 : kPiecesInFlight)) {
      RETURN_IF_ERROR(DeliverOldest());
    }
    if (pieces && !final && pending.size() >= kPieceBytes) return CutPiece(false);
    return absl::OkStatus();
  }

  absl::Status DeliverOldest() {
    ParsedPiece r = in_flight.front().get();
    in_flight.pop_front();
    if (r.quoted) return SerialFrom(r.first_line, r.bytes);
    RETURN_IF_ERROR(r.status);
    for (RowBlock& b : r.blocks) {
      // Profiled on the pipeline's thread while this one reads and cuts on; the spent block
      // it hands back goes to the pool.
      RETURN_IF_ERROR(pipe.OnBlockSwap(b));
      pool.Put(std::move(b));
    }
    piece_rows += r.rows;
    if (spare_buffers.size() < kPiecesInFlight + 2) {
      r.bytes.clear();
      spare_buffers.push_back(std::move(r.bytes));
    }
    return absl::OkStatus();
  }

  // Piece buffers are reused: a fresh 8 MiB string grown by appends is reallocated and
  // page-faulted several times over, which cost more than parsing it.
  std::vector<std::string> spare_buffers;
  std::string TakeBuffer() {
    std::string b;
    if (!spare_buffers.empty()) {
      b = std::move(spare_buffers.back());
      spare_buffers.pop_back();
    } else {
      b.reserve(kPieceBytes + (1u << 20));
    }
    return b;
  }

  // From here on one serial parser reads the file: `first` (starting at line `line`), the
  // pieces after it, and the bytes not yet cut.
  absl::Status SerialFrom(int64_t line, const std::string& first) {
    pieces = false;
    parser = MakeCsvPieceParser(csv, pipe.header(), line, &pipe);
    RETURN_IF_ERROR(WithEarlierError(parser->Feed(first)));
    while (!in_flight.empty()) {
      ParsedPiece r = in_flight.front().get();
      in_flight.pop_front();
      RETURN_IF_ERROR(WithEarlierError(parser->Feed(r.bytes)));
    }
    std::string rest;
    rest.swap(pending);
    return WithEarlierError(parser->Feed(rest));
  }

  // No newline for a long stretch: the pieces so far are delivered, the rest is read
  // serially.
  absl::Status ToSerial() {
    while (pieces && !in_flight.empty()) RETURN_IF_ERROR(DeliverOldest());
    if (!pieces) return absl::OkStatus();  // a quoted piece already switched
    return SerialFrom(pending_line.get(), std::string());
  }

  absl::Status Plain(absl::string_view data) {
    result.decompressed_bytes += data.size();
    if (result.decompressed_bytes > opt.max_decompressed_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the ", result.compression == "none" ? "data" : result.compression + "-decompressed data",
          " exceeds the limit of ", opt.max_decompressed_bytes, " bytes",
          result.compression == "none" ? "" : " (a compression bomb?)"));
    }
    if (result.compression != "none" &&
        result.decompressed_bytes >
            opt.expansion_allowance + opt.max_expansion * result.raw_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the ", result.compression, "-decompressed data grew past ", opt.max_expansion,
          " times the ", result.raw_bytes, " compressed bytes read (plus ",
          opt.expansion_allowance >> 20, " MiB); refused as a compression bomb"));
    }
    if (pieces) {
      pending.append(data.data(), data.size());
      return pending.size() >= kPieceBytes ? CutPiece(false) : absl::OkStatus();
    }
    if (parser) return WithEarlierError(parser->Feed(data));
    sniff.append(data.data(), data.size());
    if (sniff.size() >= 64 * 1024 || sniff.find('\n') != std::string::npos) return StartParser();
    return absl::OkStatus();
  }

  // A parse error is reported unless a block before it already failed (a pinned-schema
  // violation on an earlier line, say): the earliest problem in the file wins.
  absl::Status WithEarlierError(absl::Status parse) {
    if (parse.ok()) return parse;
    absl::Status earlier = pipe.Drain();
    return earlier.ok() ? parse : earlier;
  }

  absl::Status StartParser() {
    TableFormat f = opt.format;
    std::string name = absl::AsciiStrToLower(opt.filename);
    for (absl::string_view ext : {".gz", ".zst", ".zstd"}) {
      if (absl::EndsWith(name, ext)) name.resize(name.size() - ext.size());
    }
    if (f == TableFormat::kAuto) {
      if (absl::EndsWith(name, ".tsv") || absl::EndsWith(name, ".tab"))
        f = TableFormat::kTsv;
      else if (absl::EndsWith(name, ".jsonl") || absl::EndsWith(name, ".ndjson"))
        f = TableFormat::kJsonl;
      else if (absl::EndsWith(name, ".csv"))
        f = TableFormat::kCsv;
    }
    if (f == TableFormat::kAuto) {
      size_t first = sniff.find_first_not_of(" \t\r\n\xef\xbb\xbf");
      std::string line = sniff.substr(0, sniff.find('\n'));
      if (first != std::string::npos && sniff[first] == '{') {
        f = TableFormat::kJsonl;
      } else if (std::count(line.begin(), line.end(), '\t') >
                 std::count(line.begin(), line.end(), ',')) {
        f = TableFormat::kTsv;
      } else {
        f = TableFormat::kCsv;
      }
    }
    result.format = f;
    tee.max_columns = opt.max_columns;
    if (opt.compute_profile) {
      profiler = std::make_unique<Profiler>(opt.profile);
      tee.sinks.push_back(profiler.get());
    }
    for (RecordSink* s : opt.extra_sinks) tee.sinks.push_back(s);
    if (f == TableFormat::kJsonl) {
      parser = MakeJsonlParser(&pipe);
    } else {
      csv.delimiter = opt.delimiter != 0 ? opt.delimiter : (f == TableFormat::kTsv ? '\t' : ',');
      parser = MakeCsvParser(csv, &pipe);
      size_t header_end = sniff.find('\n');
      if (opt.parallel_csv && header_end != std::string::npos &&
          sniff.find(csv.quote) == std::string::npos) {
        // The header goes through the serial parser (which reports it to the sinks); the
        // records after it go in pieces.
        RETURN_IF_ERROR(parser->Feed(absl::string_view(sniff).substr(0, header_end + 1)));
        pieces = true;
        std::promise<int64_t> two;
        two.set_value(2);
        pending_line = two.get_future().share();
        pending = sniff.substr(header_end + 1);
        sniff.clear();
        return pending.size() >= kPieceBytes ? CutPiece(false) : absl::OkStatus();
      }
    }
    std::string first;
    first.swap(sniff);
    return WithEarlierError(parser->Feed(first));
  }

  absl::Status StartDecompression() {
    compression_known = true;
    const auto* u = reinterpret_cast<const unsigned char*>(head.data());
    if (head.size() >= 2 && u[0] == 0x1f && u[1] == 0x8b) {
      result.compression = "gzip";
      dec = std::make_unique<GzipDecompressor>();
    } else if (head.size() >= 4 && u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd) {
      result.compression = "zstd";
      dec = std::make_unique<ZstdDecompressor>();
    } else {
      result.compression = "none";
    }
    std::string pending;
    pending.swap(head);
    return Raw(pending);
  }

  absl::Status Raw(absl::string_view data) {
    if (dec) return dec->Feed(data, [this](absl::string_view d) { return Plain(d); });
    return Plain(data);
  }
};

Ingest::Ingest(IngestOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
}
Ingest::~Ingest() = default;

absl::Status Ingest::Feed(absl::string_view raw) {
  Impl& im = *impl_;
  im.result.raw_bytes += raw.size();
  if (!im.compression_known) {
    im.head.append(raw.data(), raw.size());
    if (im.head.size() < 4) return absl::OkStatus();
    return im.StartDecompression();
  }
  return im.Raw(raw);
}

absl::StatusOr<IngestResult> Ingest::Finish() {
  Impl& im = *impl_;
  if (im.result.raw_bytes == 0) return absl::InvalidArgumentError("the file is empty (0 bytes)");
  if (!im.compression_known) RETURN_IF_ERROR(im.StartDecompression());
  if (im.dec) RETURN_IF_ERROR(im.dec->Finish());
  if (!im.parser) RETURN_IF_ERROR(im.StartParser());
  if (im.pieces) RETURN_IF_ERROR(im.CutPiece(true));
  RETURN_IF_ERROR(im.WithEarlierError(im.parser->Finish()));
  RETURN_IF_ERROR(im.pipe.Drain());
  im.result.rows = im.piece_rows + im.parser->rows();
  if (im.profiler) {
    im.result.schema = im.profiler->InferredSchema();
    im.result.profile = im.profiler->ProfileJson();
  }
  return std::move(im.result);
}

uint64_t Ingest::raw_bytes() const { return impl_->result.raw_bytes; }

}  // namespace kade
