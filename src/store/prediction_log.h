// The prediction log: every endpoint's logged requests and answers, kept as append-only
// JSON Lines segment files, <dir>/<endpoint id>-<endpoint created ms>/<seq>.jsonl.
//
// Files rather than SQLite rows because the log is written at the request rate: a batch of
// entries is one write() here, where SQLite wrote each entry to its WAL, copied it again at
// the checkpoint and maintained two indexes (see docs/benchmarks.md). Retention deletes
// whole segments; the ground truth stays in the metadata store and is joined when read.
//
// A process appends only to segments it created (O_EXCL), and starts a new one every
// `segment_ms` or `segment_bytes`, so servers sharing a data directory never interleave
// writes. Readers see only complete lines: an entry being written, or torn by a crash, is
// invisible. Entry ids are positions: segment << 36 | (offset of the line + 1).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/metadata.h"

namespace kade {

class PredictionLog {
 public:
  struct Options {
    uint64_t segment_bytes = 64ull << 20;
    int64_t segment_ms = 3600 * 1000;
  };
  // Which endpoint: ids of deleted endpoints can be reused by SQLite, creation times not.
  struct Key {
    int64_t id = 0;
    int64_t created_at = 0;
    static Key Of(const Endpoint& e) { return Key{e.id, e.created_at}; }
  };

  PredictionLog(std::string dir, Options options);
  ~PredictionLog();
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  // Appends one endpoint's entries (one write per 64 KiB). Thread-safe.
  absl::Status Append(Key key, const std::vector<PredictionRecord>& records);
  // The newest `limit` entries, newest first. Lines that do not parse are skipped; a
  // segment that cannot be read is an error.
  absl::StatusOr<std::vector<PredictionRecord>> Newest(Key key, int64_t limit);
  // Up to `limit` entries after the entry `after_id` (0: from the start), oldest first,
  // and after the point recorded by ForwardedThrough.
  absl::StatusOr<std::vector<PredictionRecord>> After(Key key, int64_t after_id, int64_t limit);
  // Records that entries up to `id` were sent on (a `kade replica`) and deletes the
  // segments that hold nothing newer.
  absl::Status ForwardedThrough(Key key, int64_t id);

  struct PruneResult {
    int64_t segments = 0;
    uint64_t bytes = 0;
  };
  // Deletes an endpoint's oldest segments while their newest entry is older than `before`
  // (ms), and the logs of endpoints not in `live` (deleted endpoints and projects) once they
  // were not written to for an hour. Read errors are returned, not skipped.
  absl::StatusOr<PruneResult> Prune(int64_t before, const std::vector<Key>& live);
  // Deletes an endpoint's whole log.
  absl::Status Remove(Key key);

  const std::string& dir() const { return dir_; }

 private:
  struct Writer {
    int fd = -1;
    int64_t seq = 0;
    uint64_t size = 0;
    int64_t opened_ms = 0;
  };
  std::string KeyDir(Key key) const;
  absl::Status OpenSegment(const std::string& kdir, Writer* w);
  void CloseWriter(const std::string& kdir);

  const std::string dir_;
  const Options options_;
  std::mutex mu_;
  std::map<std::string, Writer> writers_;  // key directory -> segment being appended to
};

}  // namespace kade
