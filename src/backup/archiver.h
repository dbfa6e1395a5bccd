// The continuous archiver behind `betcore backup run` (docs/backup.md): it
// follows the committed log, keeps a replica of the state, and writes
//   - a segment of the batches that arrived, closed within `segment_ms` of
//     its first batch (the RPO), with the state digest at its end when that
//     is cheap enough;
//   - a snapshot every `snapshot_every_ms`, then prunes by the retention
//     policy (never a file the remote copy has not confirmed).
// After a crash it resumes from its own archive: it restores the latest
// state from it (which checks it), and reads on from the next position: no
// gap and no duplicate.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "backup/archive.h"
#include "backup/log_source.h"
#include "backup/replica.h"
#include "backup/retention.h"
#include "backup/shipper.h"
#include "ops/metrics.h"
#include "ops/wall_clock.h"

namespace betcore::backup {

// Archive lags are measured on the wall clock, against the batch stamps
// (the submitting node's wall clock).
using ops::wall_ms;

struct ArchiverOptions {
  int segment_ms = 1'000;                      // a batch waits at most this long to be archived
  size_t segment_bytes_max = size_t{16} << 20;  // ... or until this much is pending
  int64_t snapshot_every_ms = 600'000;
  RetentionPolicy retention;
  // A digest costs one encoding of the whole state: record one at a
  // segment's end when the time since the last one is at least this many
  // times what the last one took (40: at most ~2.5% of the archiver's time).
  int digest_cost_factor = 40;
  int read_wait_ms = 500;  // the long poll when nothing is pending
};

class Archiver {
 public:
  // `shipper` may be null (no remote copy). Both must outlive the archiver.
  Archiver(ArchiverOptions options, const Archive& archive, const Key& key, LogSource& source,
           Shipper* shipper, ops::Registry& metrics);

  // Rebuilds the replica from the archive (checking it). False with `error`.
  bool resume(std::string& error);
  // Reads, archives and snapshots until `stop`; pending batches are archived
  // before it returns.
  void run(const std::atomic<bool>& stop);
  // One round: read what is there (waiting up to `wait_ms`), close the
  // segment if due (or if `flush`), snapshot if due. Tests and run() use it.
  void step(int wait_ms, bool flush = false);

  uint64_t archived() const { return archived_.load(); }
  uint64_t head() const { return head_.load(); }
  // Write a snapshot at the next segment boundary even if not due.
  void snapshot_soon() { snapshot_due_now_ = true; }

 private:
  using Clock = std::chrono::steady_clock;
  void take_entries(std::vector<log::Entry>& entries);
  bool close_segment();
  bool write_snapshot(const Replica& replica);
  void prune();
  void start_after_compaction(const log::Error& why);
  void check_source_base();
  void remember_source_base(const SourceBase& base);
  ArchiveProgress progress();

  const ArchiverOptions options_;
  const Archive& archive_;
  const Key& key_;
  LogSource& source_;
  Shipper* shipper_;
  std::unique_ptr<Replica> replica_ = std::make_unique<Replica>();

  std::vector<log::Entry> pending_;
  std::vector<int64_t> pending_stamps_ms_;
  size_t pending_bytes_ = 0;
  Clock::time_point pending_since_{};
  uint64_t prev_ = 0;  // last position of the last segment (or of the base snapshot)
  uint64_t last_snapshot_position_ = 0;
  Clock::time_point last_snapshot_at_ = Clock::now();
  Clock::time_point last_digest_at_{};
  Clock::duration last_digest_cost_{};
  bool snapshot_due_now_ = false;
  int64_t caught_up_at_ms_ = wall_ms();  // wall ms when the archive last matched the source's head
  // Segments written and not yet shipped: (last position, first batch stamp).
  std::deque<std::pair<uint64_t, int64_t>> unshipped_;
  bool failing_ = false;      // the last read or write failed (logged once per episode)
  bool source_idle_ = false;  // the last read found nothing new: the archive is at the head
  bool idle_digested_ = false;  // the archive's newest segment, written while idle, has a digest
  bool rewound_ = false;      // the source's log went back behind the archive: archiving stopped
  bool base_checked_ = false;  // the source's base (a restored cluster) was checked against the archive
  std::atomic<uint64_t> archived_{0};
  std::atomic<uint64_t> head_{0};

  ops::Histogram& lag_seconds_;
  ops::Counter& segments_;
  ops::Counter& snapshots_;
  ops::Counter& write_failures_;
  ops::Counter& read_failures_;
  ops::Counter& gaps_;
  ops::Counter& pruned_;
  ops::Gauge& last_segment_time_;
  std::vector<ops::Registration> callbacks_;
};


}  // namespace betcore::backup
