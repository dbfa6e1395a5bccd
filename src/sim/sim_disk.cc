#include "sim/sim_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace betcore::sim {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());  // directory order is not deterministic
  return out;
}

bool xor_byte(const std::string& path, uint64_t offset, uint8_t mask) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned char b = 0;
  bool ok = ::pread(fd, &b, 1, static_cast<off_t>(offset)) == 1;
  b ^= mask;
  ok = ok && ::pwrite(fd, &b, 1, static_cast<off_t>(offset)) == 1;
  ::close(fd);
  return ok;
}

}  // namespace

NodeDisk& SimDisk::add(const std::string& dir) {
  disks_.push_back(std::make_unique<NodeDisk>());
  disks_.back()->dir = dir + "/";
  return *disks_.back();
}

NodeDisk* SimDisk::owner(const std::string& path) {
  for (auto& d : disks_) {
    if (path.rfind(d->dir, 0) == 0) return d.get();
  }
  return nullptr;
}

int SimDisk::before_write(const std::string& path, uint64_t offset, size_t bytes,
                          size_t& written_before_failure) {
  NodeDisk* d = owner(path);
  if (d == nullptr) return 0;
  auto [it, inserted] = d->dirty_from.emplace(path, offset);
  if (!inserted) it->second = std::min(it->second, offset);
  int err = 0;
  if (world_.now() < d->full_until) {
    err = ENOSPC;
    ++d->full_errors;
  } else if (world_.now() < d->write_errors_until && world_.rng.chance(500)) {
    err = EIO;
    ++d->write_errors;
  }
  if (err != 0) written_before_failure = world_.rng.below(bytes + 1) == bytes ? 0 : world_.rng.below(bytes);
  return err;
}

int SimDisk::before_sync(const std::string& path) {
  NodeDisk* d = owner(path);
  if (d == nullptr) return 0;
  if (d->crash_at_next_sync) {
    d->crash_at_next_sync = false;
    d->crashing = true;
    return EIO;
  }
  if (world_.now() < d->sync_errors_until && world_.rng.chance(500)) {
    ++d->sync_errors;
    return EIO;
  }
  return 0;
}

void SimDisk::synced(const std::string& path, uint64_t /*size*/) {
  if (NodeDisk* d = owner(path)) d->dirty_from.erase(path);
}

int SimDisk::power_loss(NodeDisk& disk) {
  int torn = 0;
  for (const auto& [path, dirty] : disk.dirty_from) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;  // renamed or deleted since: nothing of it is cached
    auto size = static_cast<uint64_t>(fs::file_size(path, ec));
    if (ec || dirty >= size) continue;
    uint64_t keep = dirty + world_.rng.below(size - dirty + 1);
    if (keep < size) {
      fs::resize_file(path, keep, ec);
      ++torn;
    }
    // Sometimes the file grew but the data did not land: the kept part of
    // the unsynced tail reads as zeros from a sector boundary (ext4 and XFS
    // can leave this).
    uint64_t from = keep > dirty ? (dirty + world_.rng.below(keep - dirty) + 511) / 512 * 512 : keep;
    if (from < keep && world_.rng.chance(300)) {
      std::string zeros(keep - from, '\0');
      int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        ssize_t ignored = ::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(from));
        (void)ignored;
        ::close(fd);
      }
      ++torn;
    }
  }
  disk.dirty_from.clear();
  disk.torn_files += static_cast<uint64_t>(torn);
  return torn;
}

bool SimDisk::flip_bit(NodeDisk& disk, const std::string& kind, std::string& what) {
  std::vector<std::string> candidates;
  for (const std::string& path : files_under(disk.dir)) {
    std::string name = fs::path(path).filename().string();
    const bool wanted = kind == "log" ? path.find("/log/") != std::string::npos && name.size() > 4 &&
                                            name.substr(name.size() - 4) == ".log"
                                      : name.find(kind) != std::string::npos;
    if (!wanted || name.find(".tmp") != std::string::npos || name.find(".set-aside") != std::string::npos) {
      continue;
    }
    std::error_code ec;
    if (fs::file_size(path, ec) > 0 && !ec) candidates.push_back(path);
  }
  if (candidates.empty()) return false;
  const std::string& path = candidates[world_.rng.below(candidates.size())];
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (!disk.flipped.count(path)) {
    std::string backup = disk.dir.substr(0, disk.dir.size() - 1) + ".backup/" + std::to_string(disk.flipped.size());
    fs::create_directories(fs::path(backup).parent_path(), ec);
    fs::copy_file(path, backup, fs::copy_options::overwrite_existing, ec);
    if (ec) return false;
    disk.flipped[path] = backup;
  }
  uint64_t offset = world_.rng.below(size);
  if (!xor_byte(path, offset, static_cast<uint8_t>(1u << world_.rng.below(8)))) return false;
  what = path + " byte " + std::to_string(offset);
  return true;
}

void SimDisk::forget_flips(NodeDisk& disk) {
  for (const auto& [path, backup] : disk.flipped) {
    std::error_code ec;
    fs::remove(backup, ec);
  }
  disk.flipped.clear();
}

void SimDisk::repair_flips(NodeDisk& disk) {
  for (const auto& [path, backup] : disk.flipped) {
    std::error_code ec;
    fs::remove(path + ".set-aside", ec);
    fs::copy_file(backup, path, fs::copy_options::overwrite_existing, ec);
    fs::remove(backup, ec);
  }
  disk.flipped.clear();
}

}  // namespace betcore::sim
