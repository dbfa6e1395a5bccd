#include "log/file/posix_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "domain/assert.h"

namespace betcore::log::file {
namespace {
DiskFaults* g_faults = nullptr;

Result<Ok> synced_or_error(const FileHandle& file, const std::string& path, const char* what, int rc) {
  if (rc != 0) return io_error_from_errno(what, path, errno);
  if (g_faults != nullptr) {
    struct stat st {};
    if (::fstat(file.fd(), &st) == 0 && S_ISREG(st.st_mode)) {
      g_faults->synced(path, static_cast<uint64_t>(st.st_size));
    }
  }
  return Ok{};
}
}  // namespace

void set_disk_faults(DiskFaults* faults) { g_faults = faults; }

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileHandle::~FileHandle() {
  // close(2) errors are ignored on purpose: every byte that matters was
  // fsynced before it was acknowledged, and retrying close is unsafe on Linux.
  if (fd_ >= 0) ::close(fd_);
}

int FileHandle::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

Error io_error_from_errno(const char* what, const std::string& path, int err) {
  return Error{Errc::io_error, fmt::format("{} {}: {}", what, path,
                                           std::error_code(err, std::system_category()).message())};
}

Result<FileHandle> open_file(const std::string& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return io_error_from_errno("open", path, errno);
  return FileHandle(fd);
}

Result<Ok> make_dirs(const std::string& dir) {
  namespace fs = std::filesystem;
  // Collect the missing directories, outermost first, so that each parent can
  // be fsynced after its child entry is created.
  std::vector<fs::path> missing;
  std::error_code ec;
  fs::path target = fs::absolute(dir, ec).lexically_normal();
  if (target.has_parent_path() && !target.has_filename()) target = target.parent_path();  // "a/b/"
  for (fs::path p = target; !p.empty() && !fs::exists(p, ec);
       p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) {
      return io_error_from_errno("mkdir", it->string(), errno);
    }
    auto synced = sync_dir(it->parent_path().string());
    if (!synced) return synced.error();
  }
  if (!fs::is_directory(dir, ec)) {
    return Error{Errc::io_error, fmt::format("{} exists and is not a directory", dir)};
  }
  return Ok{};
}

Result<FileHandle> lock_dir(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  auto file = open_file(path, O_RDWR | O_CREAT, 0644);
  if (!file) return file.error();
  if (::flock(file.value().fd(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error{Errc::unavailable,
                   fmt::format("{} is locked: another process (or another FileLog in this one) "
                               "has this log open; stop it first",
                               path)};
    }
    return io_error_from_errno("flock", path, errno);
  }
  return std::move(file.value());
}

Result<Ok> write_all_at(const FileHandle& file, const std::string& path, iovec* iov, int iov_count,
                        uint64_t offset) {
  int injected = 0;
  if (g_faults != nullptr) {
    size_t total = 0;
    for (int i = 0; i < iov_count; ++i) total += iov[i].iov_len;
    size_t allowed = 0;
    injected = g_faults->before_write(path, offset, total, allowed);
    if (injected != 0) {
      // Write only the first `allowed` bytes, then fail as the disk did.
      int n = 0;
      size_t kept = 0;
      while (n < iov_count && kept < allowed) {
        size_t take = std::min(iov[n].iov_len, allowed - kept);
        iov[n].iov_len = take;
        kept += take;
        ++n;
      }
      iov_count = n;
    }
  }
  // Bound: every round writes at least one byte or fails, so this ends.
  while (iov_count > 0) {
    ssize_t written = ::pwritev(file.fd(), iov, iov_count, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return io_error_from_errno("pwritev", path, errno);
    }
    if (written == 0) return Error{Errc::io_error, fmt::format("pwritev {}: wrote 0 bytes", path)};
    offset += static_cast<uint64_t>(written);
    auto left = static_cast<size_t>(written);
    while (iov_count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iov_count;
    }
    if (iov_count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  if (injected != 0) return io_error_from_errno("pwritev", path, injected);
  return Ok{};
}

Result<size_t> read_at(const FileHandle& file, const std::string& path, void* out, size_t bytes,
                       uint64_t offset) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t got = ::pread(file.fd(), static_cast<char*>(out) + done, bytes - done,
                          static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return io_error_from_errno("pread", path, errno);
    }
    if (got == 0) break;  // end of file
    done += static_cast<size_t>(got);
  }
  return done;
}

Result<uint64_t> file_size(const FileHandle& file, const std::string& path) {
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) return io_error_from_errno("fstat", path, errno);
  BETCORE_ASSERT(st.st_size >= 0);
  return static_cast<uint64_t>(st.st_size);
}

Result<Ok> truncate_file(const FileHandle& file, const std::string& path, uint64_t bytes) {
  int rc;
  do {
    rc = ::ftruncate(file.fd(), static_cast<off_t>(bytes));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return io_error_from_errno("ftruncate", path, errno);
  return Ok{};
}

Result<Ok> sync_data(const FileHandle& file, const std::string& path) {
  // No EINTR retry: after a failed fdatasync the kernel may have dropped the
  // dirty pages and a retry would "succeed" without writing them (fsyncgate).
  if (g_faults != nullptr) {
    if (int err = g_faults->before_sync(path); err != 0) return io_error_from_errno("fdatasync", path, err);
  }
  return synced_or_error(file, path, "fdatasync", ::fdatasync(file.fd()));
}

Result<Ok> sync_all(const FileHandle& file, const std::string& path) {
  if (g_faults != nullptr) {
    if (int err = g_faults->before_sync(path); err != 0) return io_error_from_errno("fsync", path, err);
  }
  return synced_or_error(file, path, "fsync", ::fsync(file.fd()));
}

Result<Ok> sync_dir(const std::string& dir) {
  auto file = open_file(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (!file) return file.error();
  return sync_all(file.value(), dir);
}

Result<Ok> write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    auto file = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!file) return file.error();
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    if (!bytes.empty()) {
      if (auto written = write_all_at(file.value(), tmp, &iov, 1, 0); !written) return written.error();
    }
    if (auto synced = sync_all(file.value(), tmp); !synced) return synced.error();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error_from_errno("rename", tmp, errno);
  const size_t slash = path.rfind('/');
  return sync_dir(slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace betcore::log::file
