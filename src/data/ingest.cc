#include "data/ingest.h"

#include <zlib.h>
#include <zstd.h>

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
  absl::Status OnHeader(const std::vector<std::string>& columns) override {
    for (RecordSink* s : sinks) RETURN_IF_ERROR(s->OnHeader(columns));
    return absl::OkStatus();
  }
  absl::Status OnBlock(const RowBlock& block) override {
    for (RecordSink* s : sinks) RETURN_IF_ERROR(s->OnBlock(block));
    return absl::OkStatus();
  }
};

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

  absl::Status Plain(absl::string_view data) {
    result.decompressed_bytes += data.size();
    if (result.decompressed_bytes > opt.max_decompressed_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the ", result.compression == "none" ? "data" : result.compression + "-decompressed data",
          " exceeds the limit of ", opt.max_decompressed_bytes, " bytes",
          result.compression == "none" ? "" : " (a compression bomb?)"));
    }
    if (parser) return parser->Feed(data);
    sniff.append(data.data(), data.size());
    if (sniff.size() >= 64 * 1024 || sniff.find('\n') != std::string::npos) return StartParser();
    return absl::OkStatus();
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
    if (opt.compute_profile) {
      profiler = std::make_unique<Profiler>(opt.profile);
      tee.sinks.push_back(profiler.get());
    }
    for (RecordSink* s : opt.extra_sinks) tee.sinks.push_back(s);
    if (f == TableFormat::kJsonl) {
      parser = MakeJsonlParser(&tee);
    } else {
      CsvOptions co;
      co.delimiter = opt.delimiter != 0 ? opt.delimiter : (f == TableFormat::kTsv ? '\t' : ',');
      parser = MakeCsvParser(co, &tee);
    }
    std::string pending;
    pending.swap(sniff);
    return parser->Feed(pending);
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
  RETURN_IF_ERROR(im.parser->Finish());
  im.result.rows = im.parser->rows();
  if (im.profiler) {
    im.result.schema = im.profiler->InferredSchema();
    im.result.profile = im.profiler->ProfileJson();
  }
  return std::move(im.result);
}

uint64_t Ingest::raw_bytes() const { return impl_->result.raw_bytes; }

}  // namespace kade
