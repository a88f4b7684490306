#include "store/artifact_store.h"
#include "absl/strings/string_view.h"
#include "core/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto.h"
#include "core/status.h"

namespace kade {

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ValidateArtifactName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("artifact name is empty");
  if (name.size() > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact name is ", name.size(), " bytes; the limit is 1024"));
  }
  if (name.front() == '/') {
    return absl::InvalidArgumentError("artifact name must be relative, not start with '/'");
  }
  size_t i = 0;
  while (i < name.size()) {
    unsigned char c = name[i];
    if (c == 0 || c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "artifact name has a control character (0x%02x) at position %d", c, i + 1));
    }
    if (c == '\\') {
      return absl::InvalidArgumentError(
          absl::StrCat("artifact name has a backslash at position ", i + 1, "; use '/'"));
    }
    // UTF-8 validation: decode the sequence length and check continuation bytes.
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > name.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("artifact name is not valid UTF-8 at position ", i + 1));
    }
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(name[i + k]) & 0xc0) != 0x80) {
        return absl::InvalidArgumentError(
            absl::StrCat("artifact name is not valid UTF-8 at position ", i + 1));
      }
    }
    i += len;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == absl::string_view::npos) end = name.size();
    absl::string_view seg = name.substr(start, end - start);
    if (seg.empty()) {
      if (end == name.size()) {
        return absl::InvalidArgumentError("artifact name must not end with '/'");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("artifact name has an empty path segment at position ", start + 1));
    }
    if (seg == "." || seg == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("artifact name has a '", seg, "' path segment at position ", start + 1,
                       "; names may not leave or refer to their folder"));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

namespace {

class LocalStore;

// Large blobs are written with O_DIRECT where the file system allows it: whole, aligned
// 1 MiB blocks go from a staging buffer to the disk without a copy into the page cache
// (which for a 500 MB upload cost a second of kernel CPU beside the parser); the tail is
// written normally after O_DIRECT is switched off. Small blobs never fill a block and take
// the normal path only.
class LocalWriter : public BlobWriter {
 public:
  static constexpr size_t kDirectBlock = 1u << 20;

  LocalWriter(LocalStore* store, int fd, std::string tmp_path, bool direct)
      : store_(store), fd_(fd), tmp_path_(std::move(tmp_path)), direct_(direct) {}
  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_path_.c_str());
    std::free(stage_);
  }
  absl::Status Append(absl::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError("blob writer already finished");
    hash_.Update(data);
    size_ += data.size();
    if (!direct_) return WriteAll(fd_, data, tmp_path_);
    while (!data.empty()) {
      if (stage_ == nullptr) {
        if (::posix_memalign(&stage_, 4096, kDirectBlock) != 0) {
          return absl::ResourceExhaustedError("out of memory for the upload buffer");
        }
      }
      size_t n = std::min(data.size(), kDirectBlock - staged_);
      std::memcpy(static_cast<char*>(stage_) + staged_, data.data(), n);
      staged_ += n;
      data.remove_prefix(n);
      if (staged_ == kDirectBlock) {
        absl::Status st =
            WriteAll(fd_, absl::string_view(static_cast<char*>(stage_), staged_), tmp_path_);
        if (!st.ok() && !direct_failed_) {
          // The file system refused the aligned write: carry on through the page cache.
          direct_failed_ = true;
          RETURN_IF_ERROR(DirectOff());
          st = WriteAll(fd_, absl::string_view(static_cast<char*>(stage_), staged_), tmp_path_);
        }
        RETURN_IF_ERROR(st);
        staged_ = 0;
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<BlobInfo> Commit() override;
  uint64_t bytes_written() const override { return size_; }

 private:
  absl::Status DirectOff() {
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) {
      return ErrnoStatus("fcntl", tmp_path_);
    }
    return absl::OkStatus();
  }
  // Writes what is staged (the tail, not a whole block) through the page cache.
  absl::Status FlushTail() {
    if (!direct_) return absl::OkStatus();
    RETURN_IF_ERROR(DirectOff());
    direct_ = false;
    if (staged_ == 0) return absl::OkStatus();
    absl::Status st =
        WriteAll(fd_, absl::string_view(static_cast<char*>(stage_), staged_), tmp_path_);
    staged_ = 0;
    return st;
  }

  LocalStore* store_;
  int fd_;
  std::string tmp_path_;
  bool direct_;
  bool direct_failed_ = false;
  void* stage_ = nullptr;
  size_t staged_ = 0;
  Sha256 hash_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

class LocalReader : public BlobReader {
 public:
  LocalReader(int fd, std::string sha, std::string path, uint64_t size)
      : fd_(fd), sha_(std::move(sha)), path_(std::move(path)), size_(size) {}
  ~LocalReader() override { ::close(fd_); }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (done_) return size_t{0};
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_);
      }
      if (r == 0) {
        done_ = true;
        std::string got = hash_.HexDigest();
        if (got != sha_) {
          return absl::DataLossError(
              absl::StrCat("blob ", sha_, " is corrupted: its content hashes to ", got));
        }
        return size_t{0};
      }
      hash_.Update(absl::string_view(buf, static_cast<size_t>(r)));
      return static_cast<size_t>(r);
    }
  }
  uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::string sha_;
  std::string path_;
  uint64_t size_;
  Sha256 hash_;
  bool done_ = false;
};

class LocalStore : public ArtifactStore {
 public:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}

  absl::Status Init() {
    RETURN_IF_ERROR(MakeDir(root_));
    RETURN_IF_ERROR(MakeDir(root_ + "/blobs"));
    RETURN_IF_ERROR(MakeDir(root_ + "/tmp"));
    // Temporary files of writers that died with the process are never visible as blobs;
    // clear them at start.
    if (DIR* d = ::opendir((root_ + "/tmp").c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        ::unlink((root_ + "/tmp/" + e->d_name).c_str());
      }
      ::closedir(d);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter() override {
    std::string tmp = absl::StrCat(root_, "/tmp/upload-", HexEncode(RandomBytes(12)));
    bool direct = true;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600);
    if (fd < 0 && errno == EINVAL) {  // no O_DIRECT here (tmpfs, for one)
      direct = false;
      fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) return ErrnoStatus("create", tmp);
    return std::unique_ptr<BlobWriter>(new LocalWriter(this, fd, tmp, direct));
  }

  absl::StatusOr<BlobInfo> Put(absl::string_view data) override {
    ASSIGN_OR_RETURN(auto w, NewWriter());
    RETURN_IF_ERROR(w->Append(data));
    return w->Commit();
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> Open(absl::string_view sha) override {
    if (!IsSha256Hex(sha))
      return absl::InvalidArgumentError("blob id must be a SHA-256 hex digest");
    std::string path = PathOf(sha);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("blob ", sha, " not found"));
      return ErrnoStatus("open", path);
    }
    struct stat st;
    ::fstat(fd, &st);
    return std::unique_ptr<BlobReader>(
        new LocalReader(fd, std::string(sha), path, static_cast<uint64_t>(st.st_size)));
  }

  absl::StatusOr<std::string> ReadAll(absl::string_view sha) override {
    ASSIGN_OR_RETURN(auto r, Open(sha));
    std::string out;
    out.resize(r->size());
    size_t off = 0;
    char buf[65536];
    for (;;) {
      ASSIGN_OR_RETURN(size_t n, r->Read(buf, sizeof buf));
      if (n == 0) break;
      if (off + n > out.size()) out.resize(off + n);
      std::memcpy(out.data() + off, buf, n);
      off += n;
    }
    out.resize(off);
    return out;
  }

  absl::Status Verify(absl::string_view sha) override {
    ASSIGN_OR_RETURN(auto r, Open(sha));
    std::string buf(1 << 20, '\0');
    for (;;) {
      ASSIGN_OR_RETURN(size_t n, r->Read(buf.data(), buf.size()));
      if (n == 0) return absl::OkStatus();
    }
  }

  absl::StatusOr<BlobInfo> Stat(absl::string_view sha) override {
    if (!IsSha256Hex(sha))
      return absl::InvalidArgumentError("blob id must be a SHA-256 hex digest");
    struct stat st;
    std::string path = PathOf(sha);
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("blob ", sha, " not found"));
      return ErrnoStatus("stat", path);
    }
    return BlobInfo{std::string(sha), static_cast<uint64_t>(st.st_size), st.st_mtime};
  }

  absl::StatusOr<std::vector<BlobInfo>> List() override {
    std::vector<BlobInfo> out;
    std::string blobs = root_ + "/blobs";
    DIR* d = ::opendir(blobs.c_str());
    if (d == nullptr) return ErrnoStatus("open directory", blobs);
    std::vector<std::string> shards;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') shards.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& shard : shards) {
      std::string dir = blobs + "/" + shard;
      DIR* sd = ::opendir(dir.c_str());
      if (sd == nullptr) continue;
      while (dirent* e = ::readdir(sd)) {
        std::string sha = shard + e->d_name;
        if (!IsSha256Hex(sha)) continue;
        struct stat st;
        if (::stat((dir + "/" + e->d_name).c_str(), &st) == 0) {
          out.push_back({sha, static_cast<uint64_t>(st.st_size), st.st_mtime});
        }
      }
      ::closedir(sd);
    }
    return out;
  }

  absl::Status Remove(absl::string_view sha) override {
    if (!IsSha256Hex(sha))
      return absl::InvalidArgumentError("blob id must be a SHA-256 hex digest");
    std::string path = PathOf(sha);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove", path);
    return FsyncDir(ShardDir(sha));
  }

  std::string LocalPath(absl::string_view sha) const override { return PathOf(sha); }

  // Moves a finished temporary file into place under its hash.
  absl::Status Publish(const std::string& tmp, const std::string& sha, bool* created) {
    *created = false;
    std::string shard = ShardDir(sha);
    bool new_shard = ::access(shard.c_str(), F_OK) != 0;
    RETURN_IF_ERROR(MakeDir(shard));
    if (new_shard) RETURN_IF_ERROR(FsyncDir(root_ + "/blobs"));
    std::string dest = PathOf(sha);
    if (::access(dest.c_str(), F_OK) == 0) {
      // Same content is already stored; keep the existing blob.
      ::unlink(tmp.c_str());
      return absl::OkStatus();
    }
    if (::rename(tmp.c_str(), dest.c_str()) != 0) return ErrnoStatus("rename", dest);
    *created = true;
    return FsyncDir(shard);
  }

 private:
  std::string ShardDir(absl::string_view sha) const {
    return absl::StrCat(root_, "/blobs/", sha.substr(0, 2));
  }
  std::string PathOf(absl::string_view sha) const {
    return absl::StrCat(root_, "/blobs/", sha.substr(0, 2), "/", sha.substr(2));
  }
  std::string root_;
};

absl::StatusOr<BlobInfo> LocalWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer already finished");
  RETURN_IF_ERROR(FlushTail());
  if (::fsync(fd_) != 0) return ErrnoStatus("fsync", tmp_path_);
  ::close(fd_);
  fd_ = -1;
  std::string sha = hash_.HexDigest();
  bool created = false;
  RETURN_IF_ERROR(store_->Publish(tmp_path_, sha, &created));
  committed_ = true;
  return BlobInfo{sha, size_, 0, created};
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::OpenLocal(const std::string& root) {
  auto store = std::make_unique<LocalStore>(root);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<ArtifactStore>(std::move(store));
}

}  // namespace kade
