#include "store/prediction_log.h"
#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/status.h"
#include "core/time.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

namespace fs = std::filesystem;

constexpr int kOffsetBits = 36;
constexpr int64_t kOffsetMask = (int64_t{1} << kOffsetBits) - 1;
constexpr size_t kChunk = 1 << 20;        // read size
constexpr size_t kWriteChunk = 64 << 10;  // one write() at most this long (the kernel here
                                          // does not preempt inside a write)

int64_t MakeId(int64_t seq, uint64_t offset) {
  return (seq << kOffsetBits) | static_cast<int64_t>(offset + 1);
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The segments of one endpoint, oldest first.
std::vector<std::pair<int64_t, std::string>> Segments(const std::string& kdir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (fs::directory_iterator it(kdir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= 6 || name.substr(name.size() - 6) != ".jsonl") continue;
    int64_t seq = 0;
    if (!absl::SimpleAtoi(name.substr(0, name.size() - 6), &seq) || seq <= 0) continue;
    out.emplace_back(seq, it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Keeps the line one line: raw newlines in JSON text are whitespace between tokens (inside
// strings they are escaped), so they become spaces.
void AppendOneLine(std::string* out, const std::string& json_text) {
  if (json_text.empty()) {
    out->append("null");
    return;
  }
  size_t start = out->size();
  out->append(json_text);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\n' || c == '\r') c = ' ';
  }
}

void RenderLine(const PredictionRecord& r, std::string* out) {
  out->append("{\"request_id\":");
  AppendJsonString(out, r.request_id);
  absl::StrAppend(out, ",\"ts\":", r.ts, ",\"version\":", r.version,
                  ",\"shadow\":", r.shadow ? "true" : "false", ",\"latency_us\":", r.latency_us,
                  ",\"features\":");
  AppendOneLine(out, r.features);
  out->append(",\"outputs\":");
  AppendOneLine(out, r.outputs);
  out->append("}\n");
}

bool ParseLine(std::string_view line, int64_t id, int64_t endpoint_id, PredictionRecord* r) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto str = j.find("request_id");
  auto ts = j.find("ts");
  auto ver = j.find("version");
  if (str == j.end() || !str->is_string() || ts == j.end() || !ts->is_number_integer() ||
      ver == j.end() || !ver->is_number_integer()) {
    return false;
  }
  r->id = id;
  r->endpoint_id = endpoint_id;
  r->request_id = str->get<std::string>();
  r->ts = ts->get<int64_t>();
  r->version = ver->get<int64_t>();
  r->shadow = j.value("shadow", false);
  r->latency_us = j.value("latency_us", int64_t{0});
  auto f = j.find("features");
  r->features = f == j.end() ? "null" : f->dump();
  auto o = j.find("outputs");
  r->outputs = o == j.end() ? "null" : o->dump();
  return true;
}

// Reads up to `n` bytes at `offset` (fewer at the end of the file).
absl::Status ReadAt(int fd, uint64_t offset, size_t n, std::string* buf, const std::string& path) {
  buf->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t k = ::pread(fd, buf->data() + got, n - got, static_cast<off_t>(offset + got));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return Errno("cannot read " + path);
    if (k == 0) break;
    got += static_cast<size_t>(k);
  }
  buf->resize(got);
  return absl::OkStatus();
}

// Opens a segment for reading. A segment deleted meanwhile (retention, forwarding) is no
// error: *fd stays -1.
absl::Status OpenForRead(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0 && errno != ENOENT) return Errno("cannot open " + path);
  return absl::OkStatus();
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Calls `emit(offset, line)` for the complete lines of a segment from the newest backwards,
// until it returns false, reading `chunk` bytes at a time. The bytes after the last newline
// (a line being written, or torn) are not a line.
template <typename F>
absl::Status LinesBackward(const std::string& path, F emit, size_t chunk = kChunk) {
  int fd = -1;
  RETURN_IF_ERROR(OpenForRead(path, &fd));
  if (fd < 0) return absl::OkStatus();
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("cannot stat " + path);
  uint64_t pos = static_cast<uint64_t>(st.st_size);
  std::string carry;  // the start of the line that continues after the current chunk
  bool tail_found = false;
  std::string buf;
  while (pos > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, pos));
    pos -= n;
    RETURN_IF_ERROR(ReadAt(fd, pos, n, &buf, path));
    if (buf.size() != n) return absl::InternalError("short read of " + path);
    buf += carry;
    size_t end = buf.size();
    if (!tail_found) {
      size_t nl = buf.rfind('\n');
      if (nl == std::string::npos) {
        carry.clear();  // all of it is the unfinished line
        continue;
      }
      end = nl + 1;
      tail_found = true;
    }
    // Lines in buf[first, end): a line starts at 0 only at the start of the file.
    size_t first = 0;
    if (pos > 0) {
      size_t nl = buf.find('\n');
      if (nl == std::string::npos || nl + 1 >= end) {
        carry.assign(buf, 0, end);
        continue;
      }
      first = nl + 1;
    }
    size_t stop = end - 1;  // the '\n' that ends the current line
    for (;;) {
      size_t start = first;
      if (stop > first) {
        size_t prev = buf.rfind('\n', stop - 1);
        if (prev != std::string::npos) start = std::max(first, prev + 1);
      }
      if (!emit(pos + start, std::string_view(buf).substr(start, stop - start))) {
        return absl::OkStatus();
      }
      if (start == first) break;
      stop = start - 1;
    }
    carry.assign(buf, 0, first);
  }
  return absl::OkStatus();
}

// Calls `emit(offset, line)` for the complete lines from `from` on, until it returns false.
template <typename F>
absl::Status LinesForward(const std::string& path, uint64_t from, F emit) {
  int fd = -1;
  RETURN_IF_ERROR(OpenForRead(path, &fd));
  if (fd < 0) return absl::OkStatus();
  FdCloser closer{fd};
  std::string buf, chunk;
  uint64_t buf_offset = from;  // file offset of buf[0]
  for (;;) {
    RETURN_IF_ERROR(ReadAt(fd, buf_offset + buf.size(), kChunk, &chunk, path));
    if (chunk.empty()) break;
    buf += chunk;
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!emit(buf_offset + start, std::string_view(buf).substr(start, nl - start))) {
        return absl::OkStatus();
      }
    }
    buf.erase(0, start);
    buf_offset += start;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadCursor(const std::string& kdir) {
  const std::string path = kdir + "/forwarded";
  int fd = -1;
  RETURN_IF_ERROR(OpenForRead(path, &fd));
  if (fd < 0) return 0;
  FdCloser closer{fd};
  std::string buf;
  RETURN_IF_ERROR(ReadAt(fd, 0, 32, &buf, path));
  int64_t id = 0;
  if (!absl::SimpleAtoi(buf, &id) || id < 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a log position: '", buf, "'"));
  }
  return id;
}

}  // namespace

PredictionLog::PredictionLog(std::string dir, Options options)
    : dir_(std::move(dir)), options_(options) {}

PredictionLog::~PredictionLog() {
  for (auto& [kdir, w] : writers_) {
    if (w.fd >= 0) ::close(w.fd);
  }
}

std::string PredictionLog::KeyDir(Key key) const {
  return absl::StrCat(dir_, "/", key.id, "-", key.created_at);
}

absl::Status PredictionLog::OpenSegment(const std::string& kdir, Writer* w) {
  std::error_code ec;
  fs::create_directories(kdir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", kdir, ": ", ec.message()));
  auto segs = Segments(kdir);
  int64_t seq = segs.empty() ? 1 : segs.back().first + 1;
  for (int attempt = 0; attempt < 100; ++attempt, ++seq) {
    const std::string path = absl::StrCat(kdir, "/", seq, ".jsonl");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;  // another server sharing the directory
    if (fd < 0) return Errno("cannot create " + path);
    w->fd = fd;
    w->seq = seq;
    w->size = 0;
    w->opened_ms = NowMillis();
    return absl::OkStatus();
  }
  return absl::InternalError("cannot create a prediction log segment in " + kdir);
}

void PredictionLog::CloseWriter(const std::string& kdir) {
  auto it = writers_.find(kdir);
  if (it == writers_.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  writers_.erase(it);
}

absl::Status PredictionLog::Append(Key key, const std::vector<PredictionRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  std::string text;
  text.reserve(records.size() * 1024);
  for (const auto& r : records) RenderLine(r, &text);
  const std::string kdir = KeyDir(key);
  std::lock_guard<std::mutex> l(mu_);
  Writer& w = writers_[kdir];
  if (w.fd >= 0 && (w.size >= options_.segment_bytes ||
                    NowMillis() - w.opened_ms >= options_.segment_ms || !fs::exists(kdir))) {
    ::close(w.fd);
    w.fd = -1;
  }
  if (w.fd < 0) {
    absl::Status s = OpenSegment(kdir, &w);
    if (!s.ok()) {
      writers_.erase(kdir);
      return s;
    }
  }
  size_t done = 0;
  while (done < text.size()) {
    size_t n = std::min(kWriteChunk, text.size() - done);
    ssize_t k = ::write(w.fd, text.data() + done, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      absl::Status s = Errno("prediction log write");
      // The segment may end in a partial line now (invisible to readers); the next
      // append starts a new one.
      CloseWriter(kdir);
      return s;
    }
    done += static_cast<size_t>(k);
  }
  w.size += text.size();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PredictionRecord>> PredictionLog::Newest(Key key, int64_t limit) {
  std::vector<PredictionRecord> out;
  if (limit <= 0) return out;
  auto segs = Segments(KeyDir(key));
  for (auto it = segs.rbegin(); it != segs.rend() && static_cast<int64_t>(out.size()) < limit;
       ++it) {
    const int64_t seq = it->first;
    RETURN_IF_ERROR(LinesBackward(it->second, [&](uint64_t offset, std::string_view line) {
      PredictionRecord r;
      if (ParseLine(line, MakeId(seq, offset), key.id, &r)) out.push_back(std::move(r));
      return static_cast<int64_t>(out.size()) < limit;
    }));
  }
  return out;
}

absl::StatusOr<std::vector<PredictionRecord>> PredictionLog::After(Key key, int64_t after_id,
                                                                   int64_t limit) {
  std::vector<PredictionRecord> out;
  if (limit <= 0) return out;
  const std::string kdir = KeyDir(key);
  ASSIGN_OR_RETURN(int64_t cursor, ReadCursor(kdir));
  after_id = std::max(after_id, cursor);
  const int64_t after_seq = after_id >> kOffsetBits;
  for (const auto& [seq, path] : Segments(kdir)) {
    if (seq < after_seq) continue;
    uint64_t from = 0;
    bool skip_first = false;
    if (seq == after_seq && after_id > 0) {
      from = static_cast<uint64_t>((after_id & kOffsetMask) - 1);
      skip_first = true;  // the line at `from` was already taken
    }
    bool more = true;
    const int64_t segment = seq;  // clang 14 cannot capture a structured binding
    RETURN_IF_ERROR(LinesForward(path, from, [&](uint64_t offset, std::string_view line) {
      if (skip_first) {
        skip_first = false;
        return true;
      }
      PredictionRecord r;
      if (ParseLine(line, MakeId(segment, offset), key.id, &r)) out.push_back(std::move(r));
      more = static_cast<int64_t>(out.size()) < limit;
      return more;
    }));
    if (!more) break;
  }
  return out;
}

absl::Status PredictionLog::ForwardedThrough(Key key, int64_t id) {
  const std::string kdir = KeyDir(key);
  // Durable before older segments go: a position lost in a crash would send entries twice.
  RETURN_IF_ERROR(WriteFileAtomic(kdir + "/forwarded", absl::StrCat(id)));
  const int64_t through_seq = id >> kOffsetBits;
  for (const auto& [seq, path] : Segments(kdir)) {
    if (seq >= through_seq) break;
    ::unlink(path.c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<PredictionLog::PruneResult> PredictionLog::Prune(int64_t before,
                                                                const std::vector<Key>& live) {
  PruneResult result;
  std::set<std::string> keep;
  for (const Key& k : live) keep.insert(absl::StrCat(k.id, "-", k.created_at));
  std::error_code ec;
  std::vector<std::string> kdirs;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory()) kdirs.push_back(it->path().filename().string());
  }
  for (const std::string& name : kdirs) {
    const std::string kdir = dir_ + "/" + name;
    if (!keep.count(name)) {
      // An endpoint's log is only swept once nothing was written to it for an hour: another
      // server sharing the store may have created the endpoint after `live` was read.
      auto segs = Segments(kdir);
      bool recent = false;
      for (const auto& [seq, path] : segs) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 &&
            static_cast<int64_t>(st.st_mtime) * 1000 > NowMillis() - 3600 * 1000) {
          recent = true;
        }
      }
      if (recent) continue;
      for (const auto& [seq, path] : segs) {
        result.segments++;
        result.bytes += fs::file_size(path, ec);
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        CloseWriter(kdir);
      }
      fs::remove_all(kdir, ec);
      continue;
    }
    int64_t open_seq = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto w = writers_.find(kdir);
      if (w != writers_.end()) open_seq = w->second.seq;
    }
    // Oldest first, up to the first segment that is kept: later segments were started
    // later, so only the oldest few are read (a tail of 64 KiB each), not the whole log.
    for (const auto& [seq, path] : Segments(kdir)) {
      if (seq == open_seq) break;
      // The newest complete entry's time; a segment without one goes by its file time.
      int64_t newest = -1;
      RETURN_IF_ERROR(LinesBackward(
          path,
          [&](uint64_t, std::string_view line) {
            Json j = Json::parse(line.begin(), line.end(), nullptr, false);
            if (j.is_object() && j.contains("ts") && j["ts"].is_number_integer()) {
              newest = j["ts"].get<int64_t>();
              return false;
            }
            return true;
          },
          64 << 10));
      if (newest < 0) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) continue;
        newest = static_cast<int64_t>(st.st_mtime) * 1000;
      }
      if (newest >= before) break;
      result.bytes += fs::file_size(path, ec);
      if (::unlink(path.c_str()) == 0) result.segments++;
    }
  }
  return result;
}

absl::Status PredictionLog::Remove(Key key) {
  const std::string kdir = KeyDir(key);
  {
    std::lock_guard<std::mutex> l(mu_);
    CloseWriter(kdir);
  }
  std::error_code ec;
  fs::remove_all(kdir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot delete ", kdir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace kade
