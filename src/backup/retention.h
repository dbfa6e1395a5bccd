// Which snapshots an archive keeps (docs/backup.md, "Retention"): the newest
// `recent`, plus the newest of each of the last `daily` UTC days and of the
// last `weekly` ISO weeks that have one (grandfather-father-son). A
// snapshot's time is its state time (the batch stamps'), so every run over
// the same archive keeps the same ones. The log between kept snapshots is
// never pruned: every position from the oldest kept snapshot on stays
// restorable.
#pragma once

#include <cstdint>
#include <vector>

namespace betcore::backup {

struct RetentionPolicy {
  int recent = 4;
  int daily = 7;
  int weekly = 4;
};

struct SnapshotTime {
  uint64_t position = 0;
  int64_t time_ms = 0;
};

// The positions of the snapshots to keep, ascending. `snapshots` ascending
// by position. The newest snapshot is always kept.
std::vector<uint64_t> snapshots_to_keep(const std::vector<SnapshotTime>& snapshots,
                                        const RetentionPolicy& policy);

}  // namespace betcore::backup
