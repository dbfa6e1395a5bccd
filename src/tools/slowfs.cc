// betcore-slowfs: a pass-through FUSE file system whose fsync and fdatasync
// take as long as a control file says: a slow disk, for the drill's
// slow_disk fault (docs/drill.md, "Faults only detection catches").
//
//   betcore-slowfs SOURCE MOUNTPOINT DELAY_FILE [FUSE options]
//
// Every call goes through to SOURCE; an fsync (of a file or a directory)
// first sleeps for the milliseconds in DELAY_FILE (read every 100 ms; absent
// or empty: 0). Unmount with `fusermount3 -u MOUNTPOINT`.
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_source;
std::string g_delay_file;
std::atomic<int> g_delay_ms{0};
std::atomic<bool> g_stop{false};

std::string real(const char* path) { return g_source + path; }
int fail() { return -errno; }

void watch_delay() {
  while (!g_stop.load()) {
    std::ifstream in(g_delay_file);
    int ms = 0;
    if (in >> ms && ms >= 0) g_delay_ms.store(ms);
    else g_delay_ms.store(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void slow_down() {
  const int ms = g_delay_ms.load();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (fi != nullptr) return ::fstat(static_cast<int>(fi->fh), st) == 0 ? 0 : fail();
  return ::lstat(real(path).c_str(), st) == 0 ? 0 : fail();
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
               fuse_readdir_flags) {
  DIR* d = ::opendir(real(path).c_str());
  if (d == nullptr) return fail();
  while (dirent* e = ::readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(e->d_type) << 12;
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  ::closedir(d);
  return 0;
}

int op_mkdir(const char* path, mode_t mode) { return ::mkdir(real(path).c_str(), mode) == 0 ? 0 : fail(); }
int op_unlink(const char* path) { return ::unlink(real(path).c_str()) == 0 ? 0 : fail(); }
int op_rmdir(const char* path) { return ::rmdir(real(path).c_str()) == 0 ? 0 : fail(); }

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  return ::rename(real(from).c_str(), real(to).c_str()) == 0 ? 0 : fail();
}

int op_chmod(const char* path, mode_t mode, fuse_file_info*) {
  return ::chmod(real(path).c_str(), mode) == 0 ? 0 : fail();
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (fi != nullptr) return ::ftruncate(static_cast<int>(fi->fh), size) == 0 ? 0 : fail();
  return ::truncate(real(path).c_str(), size) == 0 ? 0 : fail();
}

int op_utimens(const char* path, const timespec tv[2], fuse_file_info*) {
  return ::utimensat(AT_FDCWD, real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : fail();
}

int op_open(const char* path, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), fi->flags);
  if (fd < 0) return fail();
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), fi->flags, mode);
  if (fd < 0) return fail();
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int op_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? fail() : static_cast<int>(n);
}

int op_write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  ssize_t n = ::pwrite(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? fail() : static_cast<int>(n);
}

int op_statfs(const char* path, struct statvfs* st) {
  return ::statvfs(real(path).c_str(), st) == 0 ? 0 : fail();
}

int op_release(const char*, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  return 0;
}

int op_fsync(const char*, int datasync, fuse_file_info* fi) {
  slow_down();
  const int fd = static_cast<int>(fi->fh);
  return (datasync != 0 ? ::fdatasync(fd) : ::fsync(fd)) == 0 ? 0 : fail();
}

int op_fsyncdir(const char* path, int, fuse_file_info*) {
  slow_down();
  int fd = ::open(real(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fail();
  int rc = ::fsync(fd) == 0 ? 0 : fail();
  ::close(fd);
  return rc;
}

int op_fallocate(const char*, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  if (mode != 0) return -EOPNOTSUPP;
  return -::posix_fallocate(static_cast<int>(fi->fh), offset, length);
}

int op_flock(const char*, fuse_file_info* fi, int op) {
  return ::flock(static_cast<int>(fi->fh), op) == 0 ? 0 : fail();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: betcore-slowfs SOURCE MOUNTPOINT DELAY_FILE [FUSE options]\n"
                 "  a pass-through file system whose fsyncs first sleep for the milliseconds in "
                 "DELAY_FILE\n");
    return 2;
  }
  char resolved[PATH_MAX];
  if (::realpath(argv[1], resolved) == nullptr) {
    std::fprintf(stderr, "betcore-slowfs: %s: %s (create the source directory first)\n", argv[1],
                 std::strerror(errno));
    return 2;
  }
  g_source = resolved;
  // Absolute: FUSE changes to / once mounted.
  g_delay_file = std::filesystem::absolute(argv[3]).string();
  fuse_operations ops{};
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.chmod = op_chmod;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.statfs = op_statfs;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.fsyncdir = op_fsyncdir;
  ops.fallocate = op_fallocate;
  ops.flock = op_flock;
  // FUSE's own arguments: the program name, the mount point, foreground,
  // then whatever followed DELAY_FILE.
  std::vector<char*> args = {argv[0], argv[2], const_cast<char*>("-f")};
  for (int i = 4; i < argc; ++i) args.push_back(argv[i]);
  std::thread watcher(watch_delay);
  const int rc = fuse_main(static_cast<int>(args.size()), args.data(), &ops, nullptr);
  g_stop.store(true);
  watcher.join();
  return rc;
}
