// The simulated disk under each node's data directory: real files (on tmpfs
// when there is one), with the failures of a real disk injected through the
// DiskFaults seam of log/file/posix_file.h: write errors, a full disk, fsync
// errors, a crash in the middle of an append or a snapshot, power loss that
// tears whatever was written but not yet synced, and bit flips at rest.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "log/file/posix_file.h"
#include "sim/world.h"

namespace betcore::sim {

struct NodeDisk {
  std::string dir;
  int64_t write_errors_until = 0;  // EIO on writes
  int64_t full_until = 0;          // ENOSPC on writes
  int64_t sync_errors_until = 0;   // EIO on fsync
  bool crash_at_next_sync = false; // the node dies in its next fsync
  bool crashing = false;           // set when that happened
  // Per file written since its last sync: the first offset written. Files
  // not in here are durable as they are (written and synced, or renamed
  // after their sync).
  std::map<std::string, uint64_t> dirty_from;
  // Files damaged by a flipped bit, each with the backup copy taken before
  // (the operator's backup, outside the node's directory).
  std::map<std::string, std::string> flipped;
  // Counters for the report.
  uint64_t write_errors = 0, full_errors = 0, sync_errors = 0, torn_files = 0;
};

class SimDisk final : public log::file::DiskFaults {
 public:
  explicit SimDisk(World& world) : world_(world) {}

  NodeDisk& add(const std::string& dir);

  int before_write(const std::string& path, uint64_t offset, size_t bytes,
                   size_t& written_before_failure) override;
  int before_sync(const std::string& path) override;
  void synced(const std::string& path, uint64_t size) override;

  // Power loss: every file keeps what was synced and a random prefix of
  // what was written after, sometimes ending in zeros (the size grew, the
  // data did not land). Never garbage: a record damaged by anything else
  // may have been acknowledged, and the file log refuses to guess
  // (docs/log-format.md, docs/guarantees.md). Returns how many files tore.
  int power_loss(NodeDisk& disk);
  // Flips one bit in one snapshot file (`kind` "snapshot") or one segment
  // of the file log ("log"); false when there is none.
  bool flip_bit(NodeDisk& disk, const std::string& kind, std::string& what);
  // Restores every damaged file from its backup (also when the node set it
  // aside), as the operator would.
  void repair_flips(NodeDisk& disk);
  // The node started with the damage (it set a file aside, or the damage did
  // not matter): the backups go; a later restore would undo newer writes.
  void forget_flips(NodeDisk& disk);

 private:
  NodeDisk* owner(const std::string& path);

  World& world_;
  std::vector<std::unique_ptr<NodeDisk>> disks_;
};

}  // namespace betcore::sim
