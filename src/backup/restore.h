// Point-in-time restore from an archive (docs/backup.md, "Restore"): the
// nearest snapshot before the target, then the archived batches up to it,
// every file authenticated, the ledger checked, and the state's digest
// compared with one the archiver recorded: at the target itself, or at the
// first recorded point after it (replaying on past the target proves the
// prefix the target is part of).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backup/archive.h"
#include "backup/replica.h"
#include "domain/state.h"

namespace betcore::backup {

struct RestoreTarget {
  enum class Kind { latest, position, time };
  Kind kind = Kind::latest;
  uint64_t position = 0;  // kind position: the last batch at or before it
  int64_t time_ms = 0;    // kind time: the last batch stamped at or before it
  std::string describe() const;
};

struct RestoreOptions {
  // Verify: start from the oldest snapshot (or the log's start) and check
  // every digest and snapshot on the way, not only the first after the target.
  bool check_everything = false;
  // Called every ~1 s and at the end with (position reached, batches replayed).
  std::function<void(uint64_t position, uint64_t batches)> progress;
};

struct RestoreReport {
  bool ok = false;
  std::string error;  // what failed, naming the file and position, and what to do

  uint64_t position = 0;  // the restored position (its last batch)
  int64_t time_ms = 0;    // the state time there
  uint64_t commands = 0;  // commands applied there
  std::string digest;
  std::string encoded;  // the state there, canonical encoding
  std::string base;     // the snapshot it started from, or "the log's start"
  uint64_t batches_replayed = 0;
  uint64_t commands_replayed = 0;
  bool digest_checked = false;
  std::string proof;  // how the digest was checked (or why it could not be)
  uint64_t digests_checked = 0;  // recorded digests compared on the way
  uint64_t archive_last = 0;       // the archive's last position
  int64_t archive_last_time_ms = 0;
  uint64_t batches_after = 0;      // archived batches after the restored position
  std::vector<std::string> warnings;  // e.g. a damaged snapshot passed over
  double seconds = 0;

  // The replica where replay stopped (at the target for latest): the
  // archiver resumes with it.
  std::unique_ptr<Replica> replica;
};

RestoreReport restore_state(const Archive& archive, const Key& key, const RestoreTarget& target,
                            const RestoreOptions& options = {});

// Writes an embedded node's data directory holding the state at `position`
// (snapshots/ with one snapshot, log/ starting at position + 1). REQUIRES
// `dir` absent or empty; false with `error` otherwise.
bool write_data_dir(const std::string& dir, const std::string& encoded, uint64_t position,
                    std::string& error);

}  // namespace betcore::backup
