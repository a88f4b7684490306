// Files on disk, done once: errno turned into a Status that names the path, directories
// created with the data directory's private mode, and atomic replacement of a small file
// (write a temporary, fsync it, rename it over the target, fsync the directory, so that
// after a crash the target holds either the old or the new bytes and the rename is durable).
// The artifact store, the prediction log and the platform use these instead of copies.
//
// Thread safety: the functions hold no state; concurrent atomic writes of one path must be
// serialised by the caller (they share the temporary name).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kade {

// `what` '`path`': strerror(errno), as NotFound (ENOENT), ResourceExhausted (ENOSPC,
// EDQUOT) or Internal. Reads errno at the call.
absl::Status ErrnoStatus(absl::string_view what, absl::string_view path);

// mkdir with mode 0700; an existing directory is fine.
absl::Status MakeDir(const std::string& dir);
// Every missing directory along `path` (mkdir -p), each 0700.
absl::Status MakeDirs(const std::string& path);

// fsync of a directory, so that a rename or creation in it survives a crash.
absl::Status FsyncDir(const std::string& dir);

// write() until all of `data` is written (EINTR retried).
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

// Replaces `path` with `data` atomically and durably (mode 0600).
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data);

}  // namespace kade
