// `betcore backup verify` (docs/backup.md, "Verify"): tests an archive the
// way a careful operator does instead of trusting it. It replays the whole
// archive from its oldest snapshot, checking every file's authentication,
// every recorded digest and every kept snapshot against the replayed state,
// then restores every kept restore point (each snapshot, and the latest
// position) into a scratch data directory and opens it as a node would.
// The result is also written to ARCHIVE/last-verify.json (not shipped), for
// a timer's wrapper or a person to read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/archive.h"

namespace betcore::backup {

struct VerifyReport {
  bool ok = false;
  std::string error;  // the first failure, naming the file and position
  uint64_t segments = 0;
  uint64_t snapshots = 0;
  uint64_t batches = 0;
  uint64_t digests_checked = 0;
  uint64_t restore_points = 0;        // restored into scratch and opened
  uint64_t first_position = 0;        // the oldest restorable position
  uint64_t last_position = 0;         // the newest
  std::vector<std::string> warnings;  // any warning fails the verify too
  double seconds = 0;
  int64_t finished_at_ms = 0;

  std::string to_json() const;
};

// `scratch`: an empty or absent directory ("" makes a temporary one); it is
// emptied again afterwards.
VerifyReport verify_archive(const Archive& archive, const Key& key, const std::string& scratch);

// Opens an embedded node's data directory as the node would (its file log
// and newest snapshot) and checks it holds exactly `position` with `digest`.
bool check_data_dir(const std::string& dir, uint64_t position, const std::string& digest,
                    std::string& error);

}  // namespace betcore::backup
