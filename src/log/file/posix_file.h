// Thin POSIX file helpers for the file log: an owning descriptor and the few
// calls it needs, each returning an Error value (never throwing, never SIGBUS:
// we use pread/pwrite rather than mmap so that an EIO is a value we can report).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "log/log.h"

namespace betcore::log::file {

// A seam for the simulator (never set in production): it sees every write and
// sync made through these helpers, and may fail them the way a disk does.
class DiskFaults {
 public:
  virtual ~DiskFaults() = default;
  // Before writing `bytes` at `offset`: 0 to write them all, or an errno to
  // fail the write after writing only its first `written_before_failure`
  // bytes (0 by default; fewer than `bytes`: a torn write).
  virtual int before_write(const std::string& path, uint64_t offset, size_t bytes,
                           size_t& written_before_failure) = 0;
  // Before an fsync/fdatasync of `path` (a file or a directory): 0 to sync,
  // or an errno to fail it without syncing.
  virtual int before_sync(const std::string& path) = 0;
  // After a successful sync of a file that is `size` bytes long.
  virtual void synced(const std::string& path, uint64_t size) = 0;
};

// Installs `faults` for every later call of these helpers (null: none). Not
// thread-safe: set it before any file I/O, from the one simulation thread.
void set_disk_faults(DiskFaults* faults);

// Owns one file descriptor; closes it on destruction. Move-only.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle&& other) noexcept : fd_(other.release()) {}
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();

 private:
  int fd_ = -1;
};

// An Errc::io_error whose message names the call, the path and errno's text.
Error io_error_from_errno(const char* what, const std::string& path, int err);

// open(2) with O_CLOEXEC added.
Result<FileHandle> open_file(const std::string& path, int flags, unsigned mode = 0644);

// Creates `dir` and missing parents; fsyncs the parent of every directory it
// created so that the new entries survive a crash.
Result<Ok> make_dirs(const std::string& dir);

// Takes an exclusive, non-blocking flock(2) on `dir`/LOCK: two processes
// appending to one log would interleave records. Errc::unavailable if held.
Result<FileHandle> lock_dir(const std::string& dir);

// Writes every byte of `iov` at `offset`: one pwritev(2) in the normal case,
// more only after a short write.
Result<Ok> write_all_at(const FileHandle& file, const std::string& path, iovec* iov, int iov_count,
                        uint64_t offset);

// Reads up to `bytes` at `offset`; fewer only at end of file.
Result<size_t> read_at(const FileHandle& file, const std::string& path, void* out, size_t bytes,
                       uint64_t offset);

Result<uint64_t> file_size(const FileHandle& file, const std::string& path);
Result<Ok> truncate_file(const FileHandle& file, const std::string& path, uint64_t bytes);
Result<Ok> sync_data(const FileHandle& file, const std::string& path);  // fdatasync(2)
Result<Ok> sync_all(const FileHandle& file, const std::string& path);   // fsync(2)
Result<Ok> sync_dir(const std::string& dir);  // makes creations/unlinks in `dir` durable

// Writes `bytes` as `path` so that a crash leaves no file or the old one or
// the whole new one, never a part: `path`.tmp, fsync, rename, fsync of the
// directory.
Result<Ok> write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace betcore::log::file
